//! Which crate serves which function of the table. Adding a function = one line here.

use axum::Router;
use shared::AppState;
use utoipa_axum::router::OpenApiRouter;

pub fn service(name: &str) -> Option<OpenApiRouter<AppState>> {
    let _ = name;
    None
}

pub fn worker(name: &str) -> Option<Router<AppState>> {
    let _ = name;
    None
}
