//! `GET /{id}/content/{variant}?expires&signature`: what a signed link (`shared::domain::
//! files::FileLinks`) opens. No bearer: an `<img>` cannot send one, and the link itself is
//! the permission. Cloud Storage's objects are handed over as a V4 signed URL valid for a
//! quarter of an hour (302); a store that cannot sign (a directory, an emulator) is served
//! from here.

use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use shared::domain::files::{self, FileRow, ORIGINAL};
use shared::http::Query;
use shared::{ApiError, ApiResult, AppState};
use utoipa::IntoParams;
use uuid::Uuid;

/// How long a V4 signed URL lets its holder download.
const SIGNED_URL_TTL: Duration = Duration::from_secs(15 * 60);
/// How long one is reused (signing on Cloud Run is a call to IAM).
const SIGNED_URL_REUSE: Duration = Duration::from_secs(10 * 60);

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LinkParams {
    expires: Option<i64>,
    signature: Option<String>,
}

/// The bytes a signed link points at (a 302 to Cloud Storage in production). An expired,
/// altered or foreign link, or a deleted file, is a 404.
#[utoipa::path(get, path = "/{id}/content/{variant}", tag = "files",
    params(
        ("id" = uuid::Uuid, Path),
        ("variant" = String, Path, pattern = "^(original|64|256|512)$",
            description = "`original`, or a profile picture's `64`, `256`, `512`"),
        LinkParams,
    ),
    responses(
        (status = 200, description = "The bytes (development stores)"),
        (status = 302, description = "To a V4 signed URL of Cloud Storage"),
        (status = 404, description = "NOT_FOUND"),
    ))]
#[tracing::instrument(skip_all)]
pub async fn content(
    State(state): State<AppState>,
    Path((id, variant)): Path<(String, String)>,
    Query(link): Query<LinkParams>,
) -> ApiResult<Response> {
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::not_found())?;
    let (Some(expires), Some(signature)) = (link.expires, link.signature) else {
        return Err(ApiError::not_found());
    };
    if !state
        .links
        .verify(id, &variant, expires, &signature, chrono::Utc::now())
    {
        return Err(ApiError::not_found());
    }
    let row = files::find(&state.db, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let object = row.object_of(&variant).ok_or_else(ApiError::not_found)?;
    let store = state.storage.store().await?;
    let cache_key = format!("file-url:{object}");
    if let Some(url) = state.cache.get(&cache_key).await {
        return Ok(redirect(&url));
    }
    if let Some(url) = store.signed_url(object, SIGNED_URL_TTL).await? {
        state.cache.set(&cache_key, &url, SIGNED_URL_REUSE).await;
        return Ok(redirect(&url));
    }
    let data = store.get(object).await?.ok_or_else(ApiError::not_found)?;
    Ok(serve(&row, &variant, data))
}

fn redirect(url: &str) -> Response {
    match HeaderValue::from_str(url) {
        Ok(location) => (StatusCode::FOUND, [(header::LOCATION, location)]).into_response(),
        Err(e) => ApiError::internal(e).into_response(),
    }
}

/// The bytes with their type; a PDF is downloaded rather than shown, and nothing served
/// may run scripts should a browser be talked into rendering it.
fn serve(row: &FileRow, variant: &str, data: bytes::Bytes) -> Response {
    let content_type = if variant == ORIGINAL {
        row.content_type.as_str()
    } else {
        "image/webp"
    };
    let disposition = if content_type == "application/pdf" {
        "attachment"
    } else {
        "inline"
    };
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_DISPOSITION, disposition),
            (
                header::CONTENT_SECURITY_POLICY,
                "sandbox; default-src 'none'",
            ),
        ],
        data,
    )
        .into_response()
}
