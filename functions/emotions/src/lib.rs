//! `/api/v1/emotions`: the mood journal — logs, their list, and statistics in the user's
//! time zone.

mod handlers;
mod model;
mod range;
mod stats;

use shared::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use model::{Emotion, Log, NOTE};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(handlers::create, handlers::list))
        .routes(routes!(stats::stats))
        .routes(routes!(handlers::get, handlers::update, handlers::delete))
}
