//! The push-endpoint framework of every worker: parse Pub/Sub's push envelope, verify its
//! OIDC token (production), claim the message id, run the handler with no connection held,
//! record the outcome, and answer 2xx when done or never possible, 5xx when worth retrying.

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use tracing::Instrument;

use crate::error::{ApiError, BoxError, ErrorChain};
use crate::events::{PAYLOAD_VERSION, push_path};
use crate::state::AppState;

/// One delivered message, decoded.
#[derive(Debug, Clone)]
pub struct PushMessage {
    pub id: String,
    pub subscription: String,
    pub attributes: HashMap<String, String>,
    pub data: Vec<u8>,
    pub delivery_attempt: Option<u32>,
}

/// Why a handler did not finish; the cause is kept for the log.
#[derive(Debug, thiserror::Error)]
pub enum WorkError {
    /// Worth trying again later (a provider's 5xx or 429, a dead database): 503, redelivered.
    #[error("will be retried")]
    Retry(#[source] BoxError),
    /// Can never succeed (a payload naming a deleted user): logged, acked, recorded.
    #[error("can never succeed")]
    Permanent(#[source] BoxError),
}

impl WorkError {
    pub fn retry(cause: impl Into<BoxError>) -> Self {
        Self::Retry(cause.into())
    }

    pub fn permanent(cause: impl Into<BoxError>) -> Self {
        Self::Permanent(cause.into())
    }
}

impl From<sqlx::Error> for WorkError {
    fn from(e: sqlx::Error) -> Self {
        Self::retry(e)
    }
}

/// A worker: what it is called (for the idempotency record), what it reads, what it does.
///
/// `handle` runs once per message id while the delivery holds the message's claim; it
/// opens its own short transactions if it writes the database, and holds no connection
/// while it waits for anything else. An effect can repeat only if the instance dies
/// between the effect and the record (the claim then runs out and a redelivery runs again).
pub trait Worker: Clone + Send + Sync + 'static {
    type Payload: DeserializeOwned + Send + 'static;
    const NAME: &'static str;

    fn handle(
        &self,
        state: &AppState,
        message: &PushMessage,
        payload: Self::Payload,
    ) -> impl Future<Output = Result<(), WorkError>> + Send;
}

/// How long a delivery owns its message: longer than a request may run (Cloud Run's 60 s
/// timeout), so a live delivery is never overtaken, and short enough that a dead one's
/// message is taken over by one of Pub/Sub's redeliveries.
pub const LEASE: Duration = Duration::from_secs(120);

/// `POST /push/<topic>` for `worker`.
pub fn route<W: Worker>(topic: &str, worker: W) -> Router<AppState> {
    Router::new().route(
        &push_path(topic),
        post(
            move |State(state): State<AppState>, headers: HeaderMap, body: Bytes| {
                let worker = worker.clone();
                async move { receive(worker, state, headers, body).await }
            },
        ),
    )
}

#[derive(Deserialize)]
struct Envelope {
    message: EnvelopeMessage,
    #[serde(default)]
    subscription: String,
    #[serde(default, alias = "deliveryAttempt")]
    delivery_attempt: Option<u32>,
}

/// Pub/Sub sends both `messageId` and `message_id` (and both publish times): accept either,
/// ignore the other (the SDK's own type fails on the duplicate).
#[derive(Deserialize)]
struct EnvelopeMessage {
    #[serde(default)]
    data: Option<String>,
    #[serde(default)]
    attributes: Option<HashMap<String, String>>,
    #[serde(rename = "messageId", default)]
    message_id_camel: Option<String>,
    #[serde(rename = "message_id", default)]
    message_id_snake: Option<String>,
}

/// Parses a push body; `None` when it is not a push envelope at all.
pub fn parse_envelope(body: &[u8]) -> Option<PushMessage> {
    let envelope: Envelope = serde_json::from_slice(body).ok()?;
    let m = envelope.message;
    let id = m
        .message_id_camel
        .or(m.message_id_snake)
        .filter(|id| !id.is_empty())?;
    let data = match m.data {
        Some(d) => STANDARD.decode(d).ok()?,
        None => Vec::new(),
    };
    Some(PushMessage {
        id,
        subscription: envelope.subscription,
        attributes: m.attributes.unwrap_or_default(),
        data,
        delivery_attempt: envelope.delivery_attempt,
    })
}

/// Decodes a payload and checks its version; `Err` explains why it can never be handled.
pub fn decode_payload<T: DeserializeOwned>(data: &[u8]) -> Result<T, String> {
    let value: Value = serde_json::from_slice(data).map_err(|e| format!("not JSON: {e}"))?;
    match value.get("version").and_then(Value::as_u64) {
        Some(PAYLOAD_VERSION) => {}
        other => return Err(format!("unsupported payload version {other:?}")),
    }
    serde_json::from_value(value).map_err(|e| format!("payload does not fit: {e}"))
}

fn ack(status: &str) -> Response {
    (
        StatusCode::OK,
        axum::Json(json!({
            "success": true, "data": { "status": status }, "message": "Success",
            "timestamp": crate::envelope::timestamp(),
        })),
    )
        .into_response()
}

async fn receive<W: Worker>(
    worker: W,
    state: AppState,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    #[cfg(feature = "worker")]
    if let Some(verifier) = &state.push_verifier {
        let token = crate::auth::bearer_token(&headers).unwrap_or("");
        if let Err(e) = verifier.verify(token).await {
            tracing::warn!(worker = W::NAME, error = %ErrorChain(&e), "push request refused");
            return ApiError::unauthorized().into_response();
        }
    }
    #[cfg(not(feature = "worker"))]
    let _ = headers;

    let Some(message) = parse_envelope(&body) else {
        tracing::error!(worker = W::NAME, "not a push envelope; acked and dropped");
        return ack("discarded");
    };
    let span = tracing::info_span!("push", worker = W::NAME, message_id = %message.id);
    async {
        match process(&worker, &state, &message).await {
            Ok(status) => {
                tracing::info!(status, "push handled");
                ack(status)
            }
            // Logged once, with its cause, as the 503 asking Pub/Sub to redeliver.
            Err(e) => ApiError::unavailable(e).into_response(),
        }
    }
    .instrument(span)
    .await
}

/// Runs the handler once per message id. `Ok(status)` acks; `Err` asks for a retry.
async fn process<W: Worker>(
    worker: &W,
    state: &AppState,
    message: &PushMessage,
) -> Result<&'static str, WorkError> {
    let payload = match decode_payload::<W::Payload>(&message.data) {
        Ok(p) => p,
        Err(why) => {
            tracing::error!(%why, "malformed payload; acked");
            record(state, W::NAME, &message.id, "discarded").await?;
            return Ok("discarded");
        }
    };
    match claim(state, W::NAME, &message.id).await? {
        Claim::Taken => {}
        Claim::Finished => return Ok("duplicate"),
        // Acking this copy could lose the message if the other delivery then fails.
        Claim::Busy => {
            return Err(WorkError::retry(
                "another delivery of this message is still working",
            ));
        }
    }
    let (status, outcome) = match worker.handle(state, message, payload).await {
        Ok(()) => ("processed", "done"),
        Err(e @ WorkError::Retry(_)) => {
            release(state, W::NAME, &message.id).await;
            return Err(e);
        }
        Err(e @ WorkError::Permanent(_)) => {
            tracing::error!(error = %ErrorChain(&e), "permanent failure; acked");
            ("discarded", "discarded")
        }
    };
    // The effect happened: ack even if the record fails (a retry would repeat the effect);
    // the claim then runs out unseen and the 7-day purge removes it.
    if let Err(e) = record(state, W::NAME, &message.id, outcome).await {
        tracing::error!(error = %ErrorChain(&e), "could not record the outcome; acked");
    }
    Ok(status)
}

enum Claim {
    /// This delivery owns the message until [`LEASE`] has passed.
    Taken,
    /// Done or discarded already.
    Finished,
    /// Another delivery is working on it.
    Busy,
}

async fn claim(state: &AppState, worker: &str, message_id: &str) -> Result<Claim, WorkError> {
    // One statement: a new message, or a claim whose worker died, becomes ours; the
    // primary key makes a concurrent claim of the same message wait for this one.
    let outcome: Option<String> = sqlx::query_scalar(
        "WITH mine AS (
             INSERT INTO processed_messages AS p (worker, message_id, outcome, lease_until)
             VALUES ($1, $2, 'working', now() + make_interval(secs => $3))
             ON CONFLICT (worker, message_id) DO UPDATE
                 SET lease_until = EXCLUDED.lease_until, processed_at = now()
                 WHERE p.outcome = 'working' AND p.lease_until < now()
             RETURNING 'taken'::text AS outcome
         )
         SELECT outcome FROM mine
         UNION ALL
         SELECT outcome FROM processed_messages
         WHERE worker = $1 AND message_id = $2 AND NOT EXISTS (SELECT 1 FROM mine)",
    )
    .bind(worker)
    .bind(message_id)
    .bind(LEASE.as_secs_f64())
    .fetch_optional(&state.db)
    .await?;
    Ok(match outcome.as_deref() {
        Some("taken") => Claim::Taken,
        Some("working") | None => Claim::Busy,
        Some(_) => Claim::Finished,
    })
}

/// Gives a claimed message back so that the redelivery of a retryable failure runs at once.
async fn release(state: &AppState, worker: &str, message_id: &str) {
    let released = sqlx::query(
        "DELETE FROM processed_messages
         WHERE worker = $1 AND message_id = $2 AND outcome = 'working'",
    )
    .bind(worker)
    .bind(message_id)
    .execute(&state.db)
    .await;
    if let Err(e) = released {
        // The claim runs out by itself; the redelivery waits for it.
        tracing::warn!(error = %ErrorChain(&e), "could not release a claim");
    }
}

/// Records the final outcome (the claim's row, or a new one for a malformed payload).
async fn record(
    state: &AppState,
    worker: &str,
    message_id: &str,
    outcome: &str,
) -> Result<(), WorkError> {
    sqlx::query(
        "INSERT INTO processed_messages (worker, message_id, outcome) VALUES ($1, $2, $3)
         ON CONFLICT (worker, message_id) DO UPDATE
             SET outcome = EXCLUDED.outcome, lease_until = NULL, processed_at = now()",
    )
    .bind(worker)
    .bind(message_id)
    .bind(outcome)
    .execute(&state.db)
    .await?;
    Ok(())
}

/// Idempotency records by age, for [`crate::db::delete_oldest`]. Pub/Sub redelivers for at
/// most 7 days, so older records can never be needed.
pub const RECORDS_BY_AGE: crate::db::Expiring = crate::db::Expiring {
    table: "processed_messages",
    key: &["worker", "message_id"],
    at: "processed_at",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_field_spellings() {
        let camel = br#"{"message":{"data":"eyJ2ZXJzaW9uIjoxfQ==","attributes":{"a":"b"},"messageId":"1","publishTime":"2025-01-01T00:00:00Z"},"subscription":"projects/p/subscriptions/s"}"#;
        let m = parse_envelope(camel).unwrap();
        assert_eq!(m.id, "1");
        assert_eq!(m.data, br#"{"version":1}"#);
        assert_eq!(m.attributes["a"], "b");
        assert_eq!(m.subscription, "projects/p/subscriptions/s");

        let both = br#"{"message":{"data":"","messageId":"2","message_id":"2","publishTime":"t","publish_time":"t"},"subscription":"s","deliveryAttempt":3}"#;
        let m = parse_envelope(both).unwrap();
        assert_eq!((m.id.as_str(), m.delivery_attempt), ("2", Some(3)));

        let snake = br#"{"message":{"message_id":"3"}}"#;
        assert_eq!(parse_envelope(snake).unwrap().id, "3");

        for bad in [
            &b"{}"[..],
            b"[]",
            b"{\"message\":{}}",
            b"{\"message\":{\"messageId\":\"4\",\"data\":\"***\"}}",
            b"nope",
        ] {
            assert!(
                parse_envelope(bad).is_none(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn payloads_need_version_one() {
        #[derive(Deserialize, Debug)]
        #[allow(dead_code)]
        struct P {
            to: String,
        }
        assert!(decode_payload::<P>(br#"{"version":1,"to":"x"}"#).is_ok());
        assert!(decode_payload::<P>(br#"{"version":2,"to":"x"}"#).is_err());
        assert!(decode_payload::<P>(br#"{"to":"x"}"#).is_err());
        assert!(decode_payload::<P>(br#"{"version":1}"#).is_err());
        assert!(decode_payload::<P>(b"garbage").is_err());
    }
}
