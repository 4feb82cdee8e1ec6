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
    /// Letters (Hangul included), digits, `_`, `-` and single inner spaces.
    #[serde(default)]
    #[schema(value_type = String, min_length = 2, max_length = 20)]
    pub nickname: Patch<String>,
    /// `null` or blank clears it.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 200)]
    pub bio: Patch<String>,
    /// An IANA time zone such as `Asia/Seoul`.
    #[serde(default)]
    #[schema(value_type = String, min_length = 1)]
    pub timezone: Patch<String>,
    #[serde(default)]
    #[schema(value_type = String, schema_with = locales)]
    pub locale: Patch<String>,
}

fn locales() -> utoipa::openapi::schema::Schema {
    shared::openapi::one_of(&["ko", "en"])
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePassword {
    pub current_password: String,
    /// Not one repeated character.
    #[schema(min_length = 8, max_length = 128, pattern = r"([\s\S])(?!\1)[\s\S]")]
    pub new_password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteMe {
    /// Required for accounts with a password.
    #[serde(default)]
    pub password: Option<String>,
}

/// A bio as typed: at most 200 characters; trimmed, blank is none.
fn bio(value: String) -> Result<Option<String>, &'static str> {
    shared::text::optional(Some(value), 200, "must be at most 200 characters")
}

#[cfg(test)]
mod tests {
    use shared::domain::accounts::{Nickname, Password};
    use shared::testing::{assert_length_bounds, assert_text_bounds, schema_of};

    #[test]
    fn the_document_states_the_validators_bounds() {
        let me = schema_of::<super::UpdateMe>();
        assert_text_bounds("bio", &me["properties"]["bio"], |t| {
            super::bio(t.into()).is_ok()
        });
        // A nickname is counted as stored (NFC, trimmed).
        assert_length_bounds("nickname", &me["properties"]["nickname"], |t| {
            Nickname::parse(t).is_ok()
        });
        let password = schema_of::<super::ChangePassword>();
        assert_text_bounds(
            "new_password",
            &password["properties"]["new_password"],
            |t| Password::parse(t).is_ok(),
        );
    }
}
