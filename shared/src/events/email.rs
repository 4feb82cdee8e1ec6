//! The `email-send` event: what the account functions ask the email worker to send.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::Events;
use crate::error::ErrorChain;

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

/// Publishes the request on `topic`; a failure is logged, never shown to the user (they can
/// ask again), and never includes the address or the token.
pub async fn publish(events: &Events, topic: &str, email: &EmailRequest) {
    if let Err(e) = events.publish(topic, email).await {
        let template = email.template;
        tracing::error!(?template, error = %ErrorChain(&e), "could not publish an email request");
    }
}
