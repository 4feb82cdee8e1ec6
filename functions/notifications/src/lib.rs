//! `/api/v1/notifications`: a person's notifications — the list with its unread count,
//! marking read (one or all) and deleting. They are written by the functions whose actions
//! cause them (`shared::domain::notifications::notify`) and purged after 30 days by the
//! `notification-purge` worker.

mod handlers;

use shared::AppState;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(handlers::list))
        .routes(routes!(handlers::read_all))
        .routes(routes!(handlers::read))
        .routes(routes!(handlers::delete))
}
