//! Events: JSON payloads (`"version": 1`) published to Pub/Sub topics, or — in development —
//! delivered in-process to the same worker handlers, wrapped in the same push envelope.

pub mod email;
pub mod image;
mod in_process;
#[cfg(feature = "worker")]
pub mod oidc;
#[cfg(feature = "pubsub")]
mod pubsub;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::task::JoinSet;

pub use in_process::InProcessBus;
#[cfg(feature = "pubsub")]
pub use pubsub::PubSubPublisher;

use crate::error::{ApiError, ErrorChain};

/// The version every payload carries, so workers can refuse what they do not understand.
pub const PAYLOAD_VERSION: u64 = 1;

/// Where events go, and the publishes still running after their request answered.
#[derive(Clone)]
pub struct Events {
    transport: Transport,
    later: Arc<Mutex<JoinSet<()>>>,
}

#[derive(Clone)]
enum Transport {
    InProcess(Arc<InProcessBus>),
    #[cfg(feature = "pubsub")]
    PubSub(Arc<PubSubPublisher>),
}

/// How long a stopping instance waits for its remaining background publishes (Cloud Run
/// allows 10 s after SIGTERM).
const DRAIN: Duration = Duration::from_secs(8);

impl Events {
    /// Pub/Sub when configured (`EVENTS_PROVIDER=pubsub`, or a project or emulator is set and
    /// this binary links the `pubsub` feature); in-process delivery otherwise (development).
    pub fn from_settings(
        settings: &crate::config::Settings,
    ) -> Result<Self, crate::config::ConfigError> {
        let p = &settings.pubsub;
        let wants_pubsub = match p.provider.as_deref() {
            Some("pubsub") => true,
            Some(_) => false,
            None => p.project_id.is_some() || p.emulator_host.is_some(),
        };
        #[cfg(feature = "pubsub")]
        if wants_pubsub {
            return Ok(Self::pubsub(PubSubPublisher::new(p)?));
        }
        #[cfg(not(feature = "pubsub"))]
        let _ = wants_pubsub;
        Ok(Self::in_process(Arc::new(InProcessBus::new())))
    }

    /// Delivery to the workers attached to `bus`, in this process.
    pub fn in_process(bus: Arc<InProcessBus>) -> Self {
        Self::on(Transport::InProcess(bus))
    }

    #[cfg(feature = "pubsub")]
    pub fn pubsub(publisher: PubSubPublisher) -> Self {
        Self::on(Transport::PubSub(Arc::new(publisher)))
    }

    fn on(transport: Transport) -> Self {
        Self {
            transport,
            later: Arc::default(),
        }
    }

    pub fn is_pubsub(&self) -> bool {
        !matches!(self.transport, Transport::InProcess(_))
    }

    /// Publishes `payload` (an object; `version` is added) to `topic` and returns the message
    /// id. With Pub/Sub this waits for the server's acknowledgement.
    pub async fn publish<T: Serialize>(
        &self,
        topic: &str,
        payload: &T,
    ) -> Result<String, ApiError> {
        let data = encode_payload(payload)?;
        match &self.transport {
            Transport::InProcess(bus) => Ok(bus.publish(topic, data)),
            #[cfg(feature = "pubsub")]
            Transport::PubSub(publisher) => publisher.publish(topic, data).await,
        }
    }

    /// Publishes in the background so that the request answers without waiting for Pub/Sub
    /// (how long a publish takes must not tell anything, and a slow Pub/Sub must not slow
    /// anyone down). A failure is logged with `what`, never with the payload. The instance
    /// waits for these before it stops ([`Events::drain`]).
    pub fn publish_later<T: Serialize>(&self, topic: &str, payload: &T, what: &'static str) {
        let data = match encode_payload(payload) {
            Ok(data) => data,
            Err(e) => {
                tracing::error!(what, error = %ErrorChain(&e), "could not encode an event");
                return;
            }
        };
        let transport = self.transport.clone();
        let topic = topic.to_owned();
        let mut later = self.later.lock().unwrap_or_else(|p| p.into_inner());
        while later.try_join_next().is_some() {}
        later.spawn(async move {
            let published: Result<String, ApiError> = match &transport {
                Transport::InProcess(bus) => Ok(bus.publish(&topic, data)),
                #[cfg(feature = "pubsub")]
                Transport::PubSub(publisher) => publisher.publish(&topic, data).await,
            };
            if let Err(e) = published {
                tracing::error!(what, %topic, error = %ErrorChain(&e), "could not publish an event");
            }
        });
    }

    /// How many background publishes are still running.
    pub fn pending(&self) -> usize {
        let mut later = self.later.lock().unwrap_or_else(|p| p.into_inner());
        while later.try_join_next().is_some() {}
        later.len()
    }

    /// Waits (up to a few seconds) for the background publishes: the instance is stopping.
    pub async fn drain(&self) {
        let mut later = std::mem::take(&mut *self.later.lock().unwrap_or_else(|p| p.into_inner()));
        if later.is_empty() {
            return;
        }
        let waiting = later.len();
        tracing::info!(waiting, "waiting for background publishes");
        if tokio::time::timeout(DRAIN, async { while later.join_next().await.is_some() {} })
            .await
            .is_err()
        {
            tracing::error!(
                left = later.len(),
                "stopped before every background publish finished"
            );
        }
    }
}

/// The JSON bytes of a payload object with `"version": 1` added.
pub fn encode_payload<T: Serialize>(payload: &T) -> Result<Vec<u8>, ApiError> {
    let mut value = serde_json::to_value(payload).map_err(ApiError::internal)?;
    let Value::Object(map) = &mut value else {
        return Err(ApiError::internal("event payloads must be JSON objects"));
    };
    map.insert("version".into(), PAYLOAD_VERSION.into());
    serde_json::to_vec(&value).map_err(ApiError::internal)
}

/// The body Pub/Sub POSTs to a push endpoint.
pub fn push_envelope(subscription: &str, message_id: &str, data: &[u8]) -> Value {
    json!({
        "message": {
            "data": STANDARD.encode(data),
            "attributes": {},
            "messageId": message_id,
            "message_id": message_id,
            "publishTime": crate::envelope::timestamp(),
            "publish_time": crate::envelope::timestamp(),
        },
        "subscription": subscription,
    })
}

/// Where a worker listens for the pushes of `topic`.
pub fn push_path(topic: &str) -> String {
    format!("/push/{topic}")
}
