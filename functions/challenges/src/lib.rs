//! `/api/v1/challenges`: a person's own goals with a daily check-in counted in their own day
//! (`users.timezone`), completed on reaching the target (with a notification).

mod handlers;
mod model;

use shared::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use model::{Challenge, Status};

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(handlers::create, handlers::list))
        .routes(routes!(handlers::update, handlers::delete))
}
