//! `/api/v1/admin`: people (search, suspension), moderation of community content, the audit
//! trail of every admin action, and system statistics. Admins only: the role is read from
//! the database on every request, so a demotion (by `admin demote` or plain SQL) takes effect
//! at once on every instance.

mod audit;
mod moderation;
mod people;
mod stats;

pub mod roles;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use shared::http::AuthUser;
use shared::{ApiError, AppState};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(people::search))
        .routes(routes!(people::suspend))
        .routes(routes!(moderation::delete_post))
        .routes(routes!(moderation::delete_comment))
        .routes(routes!(stats::stats))
        .routes(routes!(audit::list))
}

/// The caller, when they are an admin now: a valid session (401 otherwise) whose account has
/// the admin role in the database (403 otherwise), whatever the token says.
pub struct Admin {
    pub id: Uuid,
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let user = AuthUser::from_request_parts(parts, state).await?;
        let admin: Option<bool> =
            sqlx::query_scalar("SELECT role = 'admin' FROM users WHERE id = $1")
                .bind(user.id)
                .fetch_optional(&state.db)
                .await?;
        match admin {
            Some(true) => Ok(Self { id: user.id }),
            _ => Err(ApiError::forbidden()),
        }
    }
}

/// A reason as stored: trimmed, at most 500 characters, blank is none.
fn reason(value: Option<String>) -> Result<Option<String>, &'static str> {
    shared::text::optional(value, 500, "must be at most 500 characters")
}

#[cfg(test)]
mod tests {
    use shared::testing::{assert_text_bounds, schema_of};

    #[test]
    fn the_document_states_the_validators_bounds() {
        let removal = schema_of::<crate::moderation::Removal>();
        let suspension = schema_of::<crate::people::Suspension>();
        for body in [removal, suspension] {
            assert_text_bounds("reason", &body["properties"]["reason"], |t| {
                super::reason(Some(t.into())).is_ok()
            });
        }
    }
}
