//! `/api/v1/auth`: registration, login, token refresh and logout, password reset, email
//! verification, and sign-in with Google and Kakao (`oauth`).

mod handlers;
pub mod oauth;

use serde::{Deserialize, Serialize};
use shared::AppState;
use shared::domain::accounts::{Tokens, User};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(handlers::register))
        .routes(routes!(handlers::login))
        .routes(routes!(handlers::refresh))
        .routes(routes!(handlers::logout))
        .routes(routes!(handlers::forgot_password))
        .routes(routes!(handlers::reset_password))
        .routes(routes!(handlers::verify_email))
        .routes(routes!(handlers::resend_verification))
        .routes(routes!(oauth::start))
        .routes(routes!(oauth::callback))
        .routes(routes!(oauth::exchange))
        .layer(axum::Extension(oauth::ProvidersCell::default()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// Not one repeated character.
    #[schema(min_length = 8, max_length = 128, pattern = r"([\s\S])(?!\1)[\s\S]")]
    pub password: String,
    /// Letters (Hangul included), digits, `_`, `-` and single inner spaces.
    #[schema(min_length = 2, max_length = 20)]
    pub nickname: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailOnly {
    #[schema(format = Email, max_length = 254)]
    pub email: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordRequest {
    pub token: String,
    /// Not one repeated character.
    #[schema(min_length = 8, max_length = 128, pattern = r"([\s\S])(?!\1)[\s\S]")]
    pub new_password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenOnly {
    pub token: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuthPayload {
    pub user: User,
    pub tokens: Tokens,
}

#[cfg(test)]
mod tests {
    use shared::domain::accounts::{Nickname, Password};
    use shared::testing::{assert_length_bounds, assert_text_bounds, schema_of};

    #[test]
    fn the_document_states_the_validators_bounds() {
        let register = schema_of::<super::RegisterRequest>();
        let reset = schema_of::<super::ResetPasswordRequest>();
        for password in [
            &register["properties"]["password"],
            &reset["properties"]["new_password"],
        ] {
            assert_text_bounds("password", password, |t| Password::parse(t).is_ok());
        }
        // A nickname is counted as stored (NFC, trimmed).
        assert_length_bounds("nickname", &register["properties"]["nickname"], |t| {
            Nickname::parse(t).is_ok()
        });
    }
}
