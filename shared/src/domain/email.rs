//! The `email-send` event: what the account functions ask the email worker to send.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Template {
    /// Welcome + email verification link.
    Welcome,
    /// Verification link again (resend).
    Verification,
    PasswordReset,
    PasswordChanged,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmailRequest {
    pub template: Template,
    pub to: String,
    /// `ko` or `en`.
    pub locale: String,
    /// What the template uses (`nickname`, `token`, `link`, ...).
    pub params: Map<String, Value>,
}

/// Publishes the request; a failure is logged, never shown to the user (they can ask again),
/// and never includes the address or the token.
pub async fn request(state: &AppState, email: EmailRequest) {
    let template = email.template;
    let topic = &state.settings.pubsub.topic_email_send;
    if let Err(e) = state.events.publish(topic, &email).await {
        let detail = match e {
            ApiError::Internal(d) | ApiError::Unavailable(d) => d,
            ApiError::Client { .. } => "client error".into(),
        };
        tracing::error!(?template, error = %detail, "could not publish an email request");
    }
}
