//! The `email-send` event: what the account functions ask the email worker to do.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

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

/// One message on `email-send`, tagged by `kind`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EmailEvent {
    /// An email to an account, ready to render.
    Send(EmailRequest),
    /// Someone asked for a password reset link for `email`. The worker finds out whether an
    /// account has that address (and then issues the token), so that the asking request does
    /// the same work, and takes the same time, for every address.
    PasswordResetRequested { email: String },
}

/// What the email worker accepts: an [`EmailEvent`], or a request in the shape published
/// before events were tagged (`{template, to, locale, params}`), which may still be in
/// flight while a release rolls out.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Incoming {
    Tagged(EmailEvent),
    Untagged(EmailRequest),
}

impl From<Incoming> for EmailEvent {
    fn from(incoming: Incoming) -> Self {
        match incoming {
            Incoming::Tagged(event) => event,
            Incoming::Untagged(request) => Self::Send(request),
        }
    }
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
