//! Publishing through Google's Pub/Sub SDK (gRPC), to the emulator when
//! `PUBSUB_EMULATOR_HOST` is set (the SDK itself ignores that variable).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use google_cloud_pubsub::client::Publisher;
use google_cloud_pubsub::model::Message;

use crate::config::{ConfigError, PubSubSettings};
use crate::error::ApiError;

pub struct PubSubPublisher {
    project: String,
    emulator_host: Option<String>,
    /// One publisher per topic, built on first use (building connects lazily).
    publishers: tokio::sync::Mutex<HashMap<String, Publisher>>,
    credentials: Mutex<Option<google_cloud_auth::credentials::Credentials>>,
}

const PUBLISH_TIMEOUT: Duration = Duration::from_secs(10);

impl PubSubPublisher {
    pub fn new(settings: &PubSubSettings) -> Result<Self, ConfigError> {
        let project = settings.project_id.clone().ok_or_else(|| {
            ConfigError::new("PUBSUB_PROJECT_ID", "is required to publish to Pub/Sub")
        })?;
        crate::install_tls_provider();
        Ok(Self {
            project,
            emulator_host: settings.emulator_host.clone(),
            publishers: tokio::sync::Mutex::new(HashMap::new()),
            credentials: Mutex::new(None),
        })
    }

    async fn publisher(&self, topic: &str) -> Result<Publisher, ApiError> {
        let mut publishers = self.publishers.lock().await;
        if let Some(p) = publishers.get(topic) {
            return Ok(p.clone());
        }
        let name = format!("projects/{}/topics/{}", self.project, topic);
        let mut builder = Publisher::builder(name).set_message_count_threshold(1);
        if let Some(host) = &self.emulator_host {
            let anonymous = self
                .credentials
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_or_insert_with(|| {
                    google_cloud_auth::credentials::anonymous::Builder::new().build()
                })
                .clone();
            builder = builder
                .with_endpoint(format!("http://{host}"))
                .with_credentials(anonymous);
        }
        let publisher = builder.build().await.map_err(ApiError::unavailable)?;
        publishers.insert(topic.to_owned(), publisher.clone());
        Ok(publisher)
    }

    pub async fn publish(&self, topic: &str, data: Vec<u8>) -> Result<String, ApiError> {
        let publisher = self.publisher(topic).await?;
        let sent = publisher.publish(Message::new().set_data(data));
        match tokio::time::timeout(PUBLISH_TIMEOUT, sent).await {
            Ok(Ok(id)) => Ok(id),
            Ok(Err(e)) => Err(ApiError::unavailable(e)),
            Err(_) => Err(ApiError::unavailable(format!(
                "pubsub publish to {topic}: timed out"
            ))),
        }
    }
}
