//! Events: JSON payloads (`"version": 1`) published to Pub/Sub topics, or — in development —
//! delivered in-process to the same worker handlers, wrapped in the same push envelope.

pub mod email;
mod in_process;
#[cfg(feature = "worker")]
pub mod oidc;
#[cfg(feature = "pubsub")]
mod pubsub;

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use serde_json::{Value, json};

pub use in_process::InProcessBus;
#[cfg(feature = "pubsub")]
pub use pubsub::PubSubPublisher;

use crate::error::ApiError;

/// The version every payload carries, so workers can refuse what they do not understand.
pub const PAYLOAD_VERSION: u64 = 1;

#[derive(Clone)]
pub enum Events {
    InProcess(Arc<InProcessBus>),
    #[cfg(feature = "pubsub")]
    PubSub(Arc<PubSubPublisher>),
}

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
            return Ok(Self::PubSub(Arc::new(PubSubPublisher::new(p)?)));
        }
        #[cfg(not(feature = "pubsub"))]
        let _ = wants_pubsub;
        Ok(Self::InProcess(Arc::new(InProcessBus::new())))
    }

    /// Publishes `payload` (an object; `version` is added) to `topic` and returns the message
    /// id. With Pub/Sub this waits for the server's acknowledgement.
    pub async fn publish<T: Serialize>(
        &self,
        topic: &str,
        payload: &T,
    ) -> Result<String, ApiError> {
        let data = encode_payload(payload)?;
        match self {
            Self::InProcess(bus) => Ok(bus.publish(topic, data)),
            #[cfg(feature = "pubsub")]
            Self::PubSub(publisher) => publisher.publish(topic, data).await,
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
