//! `/api/v1/users`: the signed-in person's profile, password and account.

mod export;
mod handlers;

use serde::Deserialize;
use shared::AppState;
use shared::http::Patch;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(
            handlers::me,
            handlers::update_me,
            handlers::delete_me
        ))
        .routes(routes!(handlers::change_password))
        .routes(routes!(export::export))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMe {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub nickname: Patch<String>,
    /// At most 200 characters; `null` clears it.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub bio: Patch<String>,
    /// An IANA time zone such as `Asia/Seoul`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub timezone: Patch<String>,
    /// `ko` or `en`.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub locale: Patch<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    pub current_password: String,
    pub new_password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteMe {
    /// Required for accounts with a password.
    #[serde(default)]
    pub password: Option<String>,
}
