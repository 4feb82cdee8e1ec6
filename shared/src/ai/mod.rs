//! The AI companion: OpenAI (or any OpenAI-compatible server) through async-openai, with
//! timeouts and bounded retries; or, with no key (development only), an offline companion
//! that answers deterministically and says so (`provider: "offline"`).

mod offline;
mod openai;

use std::pin::Pin;

use futures_util::Stream;

use crate::config::{ConfigError, Settings};

/// Self-harm as a moderation check sees it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SelfHarm {
    /// Any self-harm: the topic, intent or instructions.
    pub flagged: bool,
    /// Asking for or giving means and methods: the model's own words must not pass.
    pub instructions: bool,
}

/// One earlier message of the conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Turn {
    User(String),
    Assistant(String),
}

/// Why the companion could not answer; always "try again later" for the user.
#[derive(Debug, thiserror::Error)]
#[error("AI provider: {what}")]
pub struct AiError {
    what: String,
    #[source]
    source: Option<crate::error::BoxError>,
}

impl AiError {
    pub fn new(what: impl Into<String>) -> Self {
        Self {
            what: what.into(),
            source: None,
        }
    }

    pub fn caused_by(what: &str, source: impl Into<crate::error::BoxError>) -> Self {
        Self {
            what: what.into(),
            source: Some(source.into()),
        }
    }
}

pub type TextStream = Pin<Box<dyn Stream<Item = Result<String, AiError>> + Send>>;

pub enum Companion {
    OpenAi(Box<openai::OpenAi>),
    Offline,
}

impl Companion {
    pub fn from_settings(settings: &Settings) -> Result<Self, ConfigError> {
        match settings.require_openai_key()? {
            Some(key) => Ok(Self::OpenAi(Box::new(openai::OpenAi::new(
                &settings.openai,
                key,
            )?))),
            None => Ok(Self::Offline),
        }
    }

    /// `openai` or `offline`, as messages record it.
    pub fn provider(&self) -> &'static str {
        match self {
            Self::OpenAi(_) => "openai",
            Self::Offline => "offline",
        }
    }

    /// The whole reply to `history` (oldest first, ending with the user's message).
    pub async fn reply(
        &self,
        system: &str,
        history: &[Turn],
        english: bool,
    ) -> Result<String, AiError> {
        match self {
            Self::OpenAi(ai) => ai.reply(system, history).await,
            Self::Offline => Ok(offline::reply(history, english)),
        }
    }

    /// The reply as it is generated, piece by piece.
    pub async fn stream(
        &self,
        system: &str,
        history: &[Turn],
        english: bool,
    ) -> Result<TextStream, AiError> {
        match self {
            Self::OpenAi(ai) => ai.stream(system, history).await,
            Self::Offline => Ok(offline::stream(offline::reply(history, english))),
        }
    }

    /// What the provider's moderation says of self-harm in `text`; `None` when there is no
    /// such check (offline) or it failed (the lexicon still applies).
    pub async fn moderate(&self, text: &str) -> Option<SelfHarm> {
        match self {
            Self::OpenAi(ai) => ai.moderate(text).await,
            Self::Offline => None,
        }
    }
}
