//! Which crate serves which function of the table. Adding a function = one line here.

use axum::Router;
use shared::AppState;
use shared::config::ConfigError;
use utoipa_axum::router::OpenApiRouter;

pub fn service(name: &str) -> Option<OpenApiRouter<AppState>> {
    match name {
        "auth" => Some(auth::routes()),
        "users" => Some(users::routes()),
        "emotions" => Some(emotions::routes()),
        "chat" => Some(chat::routes()),
        "community" => Some(community::routes()),
        "challenges" => Some(challenges::routes()),
        "admin" => Some(admin::routes()),
        "files" => Some(files::routes()),
        "notifications" => Some(notifications::routes()),
        _ => None,
    }
}

pub fn worker(name: &str, state: &AppState) -> Option<Result<Router<AppState>, ConfigError>> {
    match name {
        "email-worker" => Some(email_worker::routes(state)),
        "notification-purge" => Some(notification_purge::routes(state)),
        "image-worker" => Some(image_worker::routes(state)),
        _ => None,
    }
}
