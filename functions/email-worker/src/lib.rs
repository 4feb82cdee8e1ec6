//! The email worker: consumes `email-send` events, turns a password reset request into a
//! link when the address has an account, renders the template in the user's language and
//! sends it through SendGrid (or the development outbox), once per message.

pub mod templates;

use std::sync::Arc;

use axum::Router;
use shared::AppState;
use shared::config::ConfigError;
use shared::domain::accounts::emails;
use shared::events::email::Incoming;
use shared::mail::{MailError, Mailer};
use shared::worker::{self, PushMessage, WorkError, Worker};

#[derive(Clone)]
pub struct EmailWorker {
    mailer: Arc<Mailer>,
}

impl Worker for EmailWorker {
    type Payload = Incoming;
    const NAME: &'static str = "email-worker";

    async fn handle(
        &self,
        state: &AppState,
        message: &PushMessage,
        event: Incoming,
    ) -> Result<(), WorkError> {
        let request = emails::prepare(&state.db, &state.settings, event.into())
            .await
            .map_err(WorkError::retry)?;
        // An address without an account gets nothing, exactly as if it had one.
        let Some(request) = request else {
            return Ok(());
        };
        let email = templates::render(&request).map_err(WorkError::permanent)?;
        self.mailer
            .send(&email, &message.id)
            .await
            .map_err(|e| match e {
                MailError::Retryable(why) => WorkError::retry(why),
                MailError::Permanent(why) => WorkError::permanent(why),
            })
    }
}

pub fn routes(state: &AppState) -> Result<Router<AppState>, ConfigError> {
    let mailer = Mailer::from_settings(&state.settings.mail, state.settings.is_production())?;
    let worker = EmailWorker {
        mailer: Arc::new(mailer),
    };
    Ok(worker::route(
        &state.settings.pubsub.topic_email_send,
        worker,
    ))
}
