//! Sending one email: SendGrid's v3 HTTP API in production, or a JSON file per email in the
//! outbox directory in development. Addresses and message contents never reach the logs.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::config::{ConfigError, MailSettings, Secret};

/// A rendered email.
#[derive(Debug, Clone, Serialize)]
pub struct OutgoingEmail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The template it came from, and what the template used (the outbox keeps both).
    pub template: String,
    pub params: Map<String, Value>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MailError {
    /// Worth trying again: the provider's 429 or 5xx, a timeout, a full disk.
    #[error("retryable: {0}")]
    Retryable(String),
    /// Will never work: the provider refused the request (4xx).
    #[error("permanent: {0}")]
    Permanent(String),
}

pub enum Mailer {
    SendGrid {
        http: reqwest::Client,
        api_key: Secret,
        base_url: String,
        from: String,
    },
    Outbox {
        dir: PathBuf,
    },
}

impl Mailer {
    pub fn from_settings(settings: &MailSettings, production: bool) -> Result<Self, ConfigError> {
        let provider =
            settings
                .provider
                .as_deref()
                .unwrap_or(if settings.sendgrid_api_key.is_some() {
                    "sendgrid"
                } else {
                    "outbox"
                });
        match provider {
            "sendgrid" => {
                let api_key = settings.sendgrid_api_key.clone().ok_or_else(|| {
                    ConfigError::new(
                        "SENDGRID_API_KEY",
                        "is required with MAIL_PROVIDER=sendgrid",
                    )
                })?;
                crate::install_tls_provider();
                let http = reqwest::Client::builder()
                    .timeout(Duration::from_secs(10))
                    .build()
                    .map_err(|e| ConfigError::new("SENDGRID_BASE_URL", e.to_string()))?;
                Ok(Self::SendGrid {
                    http,
                    api_key,
                    base_url: settings.sendgrid_base_url.clone(),
                    from: settings.from_email.clone(),
                })
            }
            _ if production => Err(ConfigError::new(
                "MAIL_PROVIDER",
                "the outbox is for development; set SENDGRID_API_KEY in production",
            )),
            _ => Ok(Self::Outbox {
                dir: PathBuf::from(&settings.outbox_dir),
            }),
        }
    }

    /// Sends `email`; `key` (the event's message id) names the outbox file and is passed to
    /// SendGrid as a custom argument for tracing a delivery.
    pub async fn send(&self, email: &OutgoingEmail, key: &str) -> Result<(), MailError> {
        match self {
            Self::SendGrid {
                http,
                api_key,
                base_url,
                from,
            } => {
                let body = json!({
                    "personalizations": [{ "to": [{ "email": email.to }] }],
                    "from": { "email": from, "name": "마음쉼표" },
                    "subject": email.subject,
                    "content": [
                        { "type": "text/plain", "value": email.text },
                        { "type": "text/html", "value": email.html },
                    ],
                    "custom_args": { "message_id": key, "template": email.template },
                });
                let response = http
                    .post(format!("{base_url}/v3/mail/send"))
                    .bearer_auth(api_key.expose())
                    .json(&body)
                    .send()
                    .await
                    .map_err(|e| {
                        MailError::Retryable(format!("sendgrid unreachable: {}", e.without_url()))
                    })?;
                let status = response.status();
                if status.is_success() {
                    tracing::info!(template = %email.template, "email sent through SendGrid");
                    Ok(())
                } else if status.as_u16() == 429 || status.is_server_error() {
                    Err(MailError::Retryable(format!("sendgrid answered {status}")))
                } else {
                    Err(MailError::Permanent(format!(
                        "sendgrid refused the email: {status}"
                    )))
                }
            }
            Self::Outbox { dir } => {
                let name: String = key
                    .chars()
                    .map(|c| {
                        if c.is_ascii_alphanumeric() || c == '-' {
                            c
                        } else {
                            '_'
                        }
                    })
                    .collect();
                let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
                let path = dir.join(format!("{stamp}-{name}.json"));
                let temporary = dir.join(format!(".{name}.json.tmp"));
                let contents = serde_json::to_vec_pretty(email).expect("emails serialize");
                let io = |e: std::io::Error| MailError::Retryable(format!("outbox: {}", e.kind()));
                tokio::fs::create_dir_all(dir).await.map_err(io)?;
                // Written then renamed, so a reader never sees half a file.
                tokio::fs::write(&temporary, contents).await.map_err(io)?;
                tokio::fs::rename(&temporary, &path).await.map_err(io)?;
                tracing::info!(template = %email.template, file = %path.display(), "email written to the outbox");
                Ok(())
            }
        }
    }
}
