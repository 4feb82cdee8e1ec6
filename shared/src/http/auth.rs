//! `AuthUser` (bearer required), `Option<AuthUser>` (bearer optional, but a bad one is still
//! refused) and `AdminUser` (role admin, else 403).

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use uuid::Uuid;

use crate::auth::{AccessClaims, Role, bearer_token};
use crate::domain::accounts::sessions;
use crate::error::ApiError;
use crate::http::limits::LiveSession;
use crate::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthUser {
    pub id: Uuid,
    pub session_id: Uuid,
    pub role: Role,
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    /// The session the general limit found live; otherwise signature and claims (cheap, no
    /// I/O), then the session's gate, each refusing with its reason.
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let claims: AccessClaims = match parts.extensions.get::<LiveSession>() {
            Some(LiveSession(claims)) => claims.clone(),
            None => {
                let token = bearer_token(&parts.headers).ok_or_else(ApiError::unauthorized)?;
                let claims = state.tokens.verify_access(token)?;
                sessions::check_access(state, &claims).await?;
                claims
            }
        };
        Ok(Self {
            id: claims.sub,
            session_id: claims.sid,
            role: claims.role,
        })
    }
}

impl OptionalFromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, ApiError> {
        if bearer_token(&parts.headers).is_none() {
            return Ok(None);
        }
        <Self as FromRequestParts<AppState>>::from_request_parts(parts, state)
            .await
            .map(Some)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdminUser(pub AuthUser);

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let user =
            <AuthUser as FromRequestParts<AppState>>::from_request_parts(parts, state).await?;
        if user.role != Role::Admin {
            return Err(ApiError::forbidden());
        }
        Ok(Self(user))
    }
}
