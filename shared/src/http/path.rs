//! `ResourceId`: the `{id}` of a path as a UUID. Anything else names no resource: 404, the
//! same answer as someone else's resource.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use uuid::Uuid;

use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceId(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for ResourceId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::not_found())?;
        Uuid::parse_str(&raw)
            .map(Self)
            .map_err(|_| ApiError::not_found())
    }
}
