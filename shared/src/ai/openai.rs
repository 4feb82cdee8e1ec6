//! OpenAI through async-openai: one client, at most two retries (429, 5xx, connection
//! failures) with exponential backoff, a deadline on every call, and moderation.

use std::time::Duration;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::middleware::retry::should_retry;
use async_openai::middleware::{HttpRequestFactory, ReqwestService};
use async_openai::types::chat::{
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestMessage,
    ChatCompletionRequestSystemMessage, ChatCompletionRequestUserMessage,
    CreateChatCompletionRequest, CreateChatCompletionRequestArgs,
};
use async_openai::types::moderations::CreateModerationRequestArgs;
use futures_util::StreamExt;

use super::{AiError, TextStream, Turn};
use crate::config::{ConfigError, OpenAiSettings, Secret};
use crate::error::ErrorChain;

const MODERATION_DEADLINE: Duration = Duration::from_secs(5);

pub struct OpenAi {
    client: Client<OpenAIConfig>,
    model: String,
    max_tokens: u32,
    /// The whole answer (retries included), or each piece of a streamed one.
    deadline: Duration,
}

/// At most two retries, 250 ms then 500 ms apart, for what is worth retrying. A provider's
/// `Retry-After` is not honoured: the person is waiting, and the deadline bounds it anyway.
#[derive(Clone)]
struct BoundedRetry {
    retries_left: usize,
    next_delay: Duration,
}

impl tower::retry::Policy<HttpRequestFactory, reqwest::Response, OpenAIError> for BoundedRetry {
    type Future = tokio::time::Sleep;

    fn retry(
        &mut self,
        _: &mut HttpRequestFactory,
        result: &mut Result<reqwest::Response, OpenAIError>,
    ) -> Option<Self::Future> {
        if self.retries_left == 0 || !should_retry(result) {
            return None;
        }
        self.retries_left -= 1;
        let delay = self.next_delay;
        self.next_delay = self.next_delay.saturating_mul(2);
        Some(tokio::time::sleep(delay))
    }

    fn clone_request(&mut self, request: &HttpRequestFactory) -> Option<HttpRequestFactory> {
        Some(request.clone())
    }
}

fn unavailable(e: OpenAIError) -> AiError {
    // Never the body: it may carry the person's words. Transport errors keep their cause.
    match e {
        OpenAIError::ApiError(r) => AiError::new(format!("status {}", r.status_code)),
        OpenAIError::Reqwest(r) => AiError::caused_by("transport error", r),
        OpenAIError::JSONDeserialize(..) => AiError::new("unexpected response"),
        OpenAIError::StreamError(_) => AiError::new("stream broken"),
        _ => AiError::new("request failed"),
    }
}

impl OpenAi {
    pub fn new(settings: &OpenAiSettings, key: &Secret) -> Result<Self, ConfigError> {
        crate::install_tls_provider();
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .read_timeout(settings.timeout)
            .build()
            .map_err(|e| ConfigError::new("OPENAI_BASE_URL", e.to_string()))?;
        let config = OpenAIConfig::new()
            .with_api_key(key.expose().trim())
            .with_api_base(settings.base_url.trim_end_matches('/'));
        let service = tower::ServiceBuilder::new()
            .retry(BoundedRetry {
                retries_left: 2,
                next_delay: Duration::from_millis(250),
            })
            .service(ReqwestService::new(http.clone()));
        Ok(Self {
            client: Client::build(http, config).with_http_service(service),
            model: settings.model.clone(),
            max_tokens: settings.max_tokens,
            deadline: settings.timeout,
        })
    }

    fn request(
        &self,
        system: &str,
        history: &[Turn],
    ) -> Result<CreateChatCompletionRequest, AiError> {
        let mut messages: Vec<ChatCompletionRequestMessage> = Vec::with_capacity(history.len() + 1);
        messages.push(ChatCompletionRequestSystemMessage::from(system).into());
        for turn in history {
            messages.push(match turn {
                Turn::User(t) => ChatCompletionRequestUserMessage::from(t.as_str()).into(),
                Turn::Assistant(t) => {
                    ChatCompletionRequestAssistantMessage::from(t.as_str()).into()
                }
            });
        }
        CreateChatCompletionRequestArgs::default()
            .model(self.model.as_str())
            .max_completion_tokens(self.max_tokens)
            .messages(messages)
            .build()
            .map_err(unavailable)
    }

    pub async fn reply(&self, system: &str, history: &[Turn]) -> Result<String, AiError> {
        let request = self.request(system, history)?;
        let response = tokio::time::timeout(self.deadline, self.client.chat().create(request))
            .await
            .map_err(|_| AiError::new("timeout"))?
            .map_err(unavailable)?;
        response
            .choices
            .into_iter()
            .next()
            .and_then(|c| c.message.content)
            .filter(|c| !c.trim().is_empty())
            .ok_or_else(|| AiError::new("empty reply"))
    }

    /// The reply as it is written. The whole of it must arrive within the deadline, as a
    /// reply that is not streamed: a provider trickling a piece now and then cannot hold the
    /// request (and its connection) open for longer.
    pub async fn stream(&self, system: &str, history: &[Turn]) -> Result<TextStream, AiError> {
        let request = self.request(system, history)?;
        let end = tokio::time::Instant::now() + self.deadline;
        let upstream = tokio::time::timeout_at(end, self.client.chat().create_stream(request))
            .await
            .map_err(|_| AiError::new("timeout"))?
            .map_err(unavailable)?;
        let pieces = futures_util::stream::unfold(Some(upstream), move |upstream| async move {
            let mut upstream = upstream?;
            loop {
                match tokio::time::timeout_at(end, upstream.next()).await {
                    Err(_) => return Some((Err(AiError::new("timeout")), None)),
                    Ok(None) => return None,
                    Ok(Some(Err(OpenAIError::JSONDeserialize(..)))) => {
                        return Some((Err(AiError::new("unexpected response")), None));
                    }
                    Ok(Some(Err(e))) => return Some((Err(unavailable(e)), None)),
                    Ok(Some(Ok(chunk))) => {
                        let text: String = chunk
                            .choices
                            .iter()
                            .filter_map(|c| c.delta.content.as_deref())
                            .collect();
                        if !text.is_empty() {
                            return Some((Ok(text), Some(upstream)));
                        }
                    }
                }
            }
        });
        Ok(Box::pin(pieces))
    }

    pub async fn moderate(&self, text: &str) -> Option<super::SelfHarm> {
        let request = CreateModerationRequestArgs::default()
            .input(text)
            .model("omni-moderation-latest")
            .build()
            .ok()?;
        match tokio::time::timeout(
            MODERATION_DEADLINE.min(self.deadline),
            self.client.moderations().create(request),
        )
        .await
        {
            Ok(Ok(response)) => Some(response.results.iter().fold(
                super::SelfHarm::default(),
                |seen, r| {
                    let c = &r.categories;
                    super::SelfHarm {
                        flagged: seen.flagged
                            || c.self_harm
                            || c.self_harm_intent
                            || c.self_harm_instructions,
                        instructions: seen.instructions || c.self_harm_instructions,
                    }
                },
            )),
            Ok(Err(e)) => {
                tracing::warn!(error = %ErrorChain(&unavailable(e)), "moderation unavailable; the lexicon still applies");
                None
            }
            Err(_) => {
                tracing::warn!("moderation timed out; the lexicon still applies");
                None
            }
        }
    }
}
