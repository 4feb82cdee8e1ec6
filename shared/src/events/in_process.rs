//! Development delivery: a published event is POSTed, in the push envelope, to the worker
//! router of this process, with retries like Pub/Sub's (a few, with backoff).

use std::sync::OnceLock;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, header};
use tower::ServiceExt;
use uuid::Uuid;

use super::{push_envelope, push_path};

#[derive(Default)]
pub struct InProcessBus {
    workers: OnceLock<Router>,
}

const ATTEMPTS: u32 = 5;

impl InProcessBus {
    pub fn new() -> Self {
        Self::default()
    }

    /// Attaches the routers of the workers running in this process (the local server does
    /// this once all are built). Without it, events are logged and dropped.
    pub fn attach_workers(&self, workers: Router) {
        let _ = self.workers.set(workers);
    }

    pub fn publish(&self, topic: &str, data: Vec<u8>) -> String {
        let message_id = Uuid::now_v7().to_string();
        let Some(workers) = self.workers.get().cloned() else {
            tracing::warn!(topic, %message_id, "no in-process worker attached; event dropped");
            return message_id;
        };
        let topic = topic.to_owned();
        let id = message_id.clone();
        tokio::spawn(async move {
            let body = push_envelope(&format!("in-process/{topic}"), &id, &data).to_string();
            for attempt in 1..=ATTEMPTS {
                let request = Request::post(push_path(&topic))
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Body::from(body.clone()))
                    .expect("a valid request");
                let status = match workers.clone().oneshot(request).await {
                    Ok(response) => response.status(),
                    Err(never) => match never {},
                };
                if status.is_success() {
                    return;
                }
                tracing::warn!(%topic, message_id = %id, attempt, %status, "in-process delivery failed");
                tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt))).await;
            }
            tracing::error!(%topic, message_id = %id, "in-process delivery gave up");
        });
        message_id
    }
}
