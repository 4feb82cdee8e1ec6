//! `/api/v1/files`: uploads judged by their bytes (never a name or the client's type),
//! stored without metadata under names of ours, and served through signed links that
//! expire. A profile picture is finished by the image worker (`image-resize`).

mod content;
mod own;
mod upload;

use axum::extract::DefaultBodyLimit;
use shared::AppState;
use shared::config::RateSpec;
use shared::http::RouteLimit;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use upload::{ATTACHMENT, PROFILE, Rules};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload::profile))
        .routes(routes!(upload::attachment))
        // The multipart body may be the largest file plus its envelope; each file's own
        // limit is enforced while it is read.
        .layer(DefaultBodyLimit::max(ATTACHMENT.max_bytes + 64 * 1024))
        .routes(routes!(own::get, own::delete))
        .routes(routes!(content::content))
}

/// `RATE_LIMIT_FILE_UPLOAD` (default 10 an hour): every upload attempt, per user, counted
/// before the body is read.
pub struct FileUpload;

impl RouteLimit for FileUpload {
    const NAME: &'static str = "file-upload";
    const VAR: &'static str = "RATE_LIMIT_FILE_UPLOAD";
    const DEFAULT: RateSpec = RateSpec::per_minutes(10, 60);
}
