//! `/api/v1/chat`: conversations with the AI companion, with crisis safety that does not
//! depend on the model.

mod conversations;
mod messages;
pub mod model;
mod safety;

use shared::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use messages::SYSTEM_PROMPT;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(conversations::create, conversations::list))
        .routes(routes!(conversations::get, conversations::delete))
        .routes(routes!(messages::send))
}
