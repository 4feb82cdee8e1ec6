//! The emails an account gets, published as `email-send` events after the change that
//! caused them committed.

use serde_json::{Map, Value};

use super::UserRow;
use crate::events::email::{self, EmailRequest, Template};
use crate::state::AppState;

/// An email about an account, with its single-use token where it carries a link.
#[derive(Debug, Clone, Copy)]
pub enum AccountEmail<'a> {
    /// Welcome, with the email verification link.
    Welcome {
        token: &'a str,
    },
    /// The verification link again.
    Verification {
        token: &'a str,
    },
    PasswordReset {
        token: &'a str,
    },
    PasswordChanged,
}

impl<'a> AccountEmail<'a> {
    fn template(self) -> Template {
        match self {
            Self::Welcome { .. } => Template::Welcome,
            Self::Verification { .. } => Template::Verification,
            Self::PasswordReset { .. } => Template::PasswordReset,
            Self::PasswordChanged => Template::PasswordChanged,
        }
    }

    /// The frontend page the link opens, and the token it carries.
    fn link(self) -> Option<(&'static str, &'a str)> {
        match self {
            Self::Welcome { token } | Self::Verification { token } => {
                Some(("/verify-email", token))
            }
            Self::PasswordReset { token } => Some(("/reset-password", token)),
            Self::PasswordChanged => None,
        }
    }
}

/// Asks the email worker to send `email` to `user`, in their language. Never fails the
/// request: the change is committed, and the person can ask for the email again.
pub async fn send(state: &AppState, user: &UserRow, email: AccountEmail<'_>) {
    let mut params = Map::new();
    params.insert("nickname".into(), Value::String(user.nickname.clone()));
    if let Some((page, token)) = email.link() {
        let link = format!("{}{page}?token={token}", state.settings.frontend_url);
        params.insert("token".into(), Value::String(token.to_owned()));
        params.insert("link".into(), Value::String(link));
    }
    let request = EmailRequest {
        template: email.template(),
        to: user.email.clone(),
        locale: user.locale.clone(),
        params,
    };
    let topic = &state.settings.pubsub.topic_email_send;
    email::publish(&state.events, topic, &request).await;
}
