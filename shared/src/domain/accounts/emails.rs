//! The emails an account gets, published as `email-send` events after the change that
//! caused them committed, in the background (the request does not wait for Pub/Sub).

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use super::{Email, UserRow, one_time};
use crate::config::Settings;
use crate::error::ApiError;
use crate::events::email::{EmailEvent, EmailRequest, Template};
use crate::state::AppState;

/// A reset link goes out at most once a minute per address.
pub const RESET_INTERVAL: Duration = Duration::from_secs(60);

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

/// What the email worker renders for `email` to `user`, in their language.
/// `None` when the account has no email address.
fn request(settings: &Settings, user: &UserRow, email: AccountEmail<'_>) -> Option<EmailRequest> {
    let to = user.email.clone()?;
    let mut params = Map::new();
    params.insert("nickname".into(), Value::String(user.nickname.clone()));
    if let Some((page, token)) = email.link() {
        let link = format!("{}{page}?token={token}", settings.frontend_url);
        params.insert("token".into(), Value::String(token.to_owned()));
        params.insert("link".into(), Value::String(link));
    }
    Some(EmailRequest {
        template: email.template(),
        to,
        locale: user.locale.clone(),
        params,
    })
}

/// Asks the email worker to send `email` to `user`. Never fails the request: the change is
/// committed, and the person can ask for the email again.
pub fn send(state: &AppState, user: &UserRow, email: AccountEmail<'_>) {
    if let Some(request) = request(&state.settings, user, email) {
        publish(state, &EmailEvent::Send(request), "account email");
    }
}

/// `forgot-password`: the same work and the same answer whether or not `email` has an
/// account — one Redis write (a link at most once a minute per address; an outage is the
/// same 503 for everyone) and one background publish. The email worker looks the address up.
pub async fn request_password_reset(state: &AppState, email: &Email) -> Result<(), ApiError> {
    if state
        .cache
        .set_nx(&reset_key(email), "1", RESET_INTERVAL)
        .await
    {
        let event = EmailEvent::PasswordResetRequested {
            email: email.as_str().to_owned(),
        };
        publish(state, &event, "password reset request");
    }
    Ok(())
}

/// The cache key of an address's reset interval (a digest: the cache holds no addresses).
pub fn reset_key(email: &Email) -> String {
    let digest = URL_SAFE_NO_PAD.encode(Sha256::digest(email.as_str().as_bytes()));
    format!("forgot:{digest}")
}

fn publish(state: &AppState, event: &EmailEvent, what: &'static str) {
    let topic = &state.settings.pubsub.topic_email_send;
    state.events.publish_later(topic, event, what);
}

/// The email an event asks for, for the email worker: a reset request becomes a link with a
/// new token when the address has an account (the token is committed before the email is
/// sent, with no connection held meanwhile), and nothing otherwise.
pub async fn prepare(
    db: &PgPool,
    settings: &Settings,
    event: EmailEvent,
) -> Result<Option<EmailRequest>, ApiError> {
    let address = match event {
        EmailEvent::Send(request) => return Ok(Some(request)),
        EmailEvent::PasswordResetRequested { email } => email,
    };
    let Ok(address) = Email::parse(&address) else {
        return Ok(None);
    };
    let mut tx = db.begin().await?;
    let Some(user) = super::find_by_email(&mut tx, &address).await? else {
        return Ok(None);
    };
    let token = one_time::issue(&mut tx, user.id, one_time::Purpose::PasswordReset).await?;
    tx.commit().await?;
    let email = AccountEmail::PasswordReset { token: &token };
    Ok(request(settings, &user, email))
}
