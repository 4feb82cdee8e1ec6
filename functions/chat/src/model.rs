//! Conversations and messages as the API shows them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::FromRow;
use utoipa::ToSchema;
use uuid::Uuid;

use shared::safety::Safety;
use shared::sealing::{Column, Keyring, SealError, columns};

/// Titles and messages are stored sealed for the conversation's owner.
pub const TITLE: Column = columns::CONVERSATION_TITLE;
pub const CONTENT: Column = columns::CHAT_MESSAGE;

pub const TITLE_MAX: usize = 100;
pub const CONTENT_MAX: usize = 2000;

/// `conversation` of the API.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Conversation {
    pub id: Uuid,
    pub title: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_message_at: DateTime<Utc>,
    pub message_count: i32,
}

/// A row of `conversations`, its title still sealed.
#[derive(Debug, FromRow)]
pub struct ConversationRow {
    pub id: Uuid,
    pub title: Vec<u8>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub last_message_at: DateTime<Utc>,
    pub message_count: i32,
}

impl ConversationRow {
    pub fn open(self, keys: &Keyring, owner: Uuid) -> Result<Conversation, SealError> {
        Ok(Conversation {
            id: self.id,
            title: keys.open(TITLE, owner, &self.title)?,
            created_at: self.created_at,
            updated_at: self.updated_at,
            last_message_at: self.last_message_at,
            message_count: self.message_count,
        })
    }
}

/// The columns of [`ConversationRow`].
macro_rules! conversation_columns {
    () => {
        "id, title, created_at, updated_at, last_message_at, message_count"
    };
}
pub(crate) use conversation_columns;

/// `message` of the API; assistant messages also carry `provider`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Message {
    pub id: Uuid,
    /// `user` or `assistant`.
    pub role: String,
    pub content: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// `openai` or `offline` (assistant messages).
    pub provider: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A row of `chat_messages`, its content still sealed.
#[derive(Debug, FromRow)]
pub struct MessageRow {
    pub id: Uuid,
    pub role: String,
    pub content: Vec<u8>,
    pub provider: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl MessageRow {
    pub fn open(self, keys: &Keyring, owner: Uuid) -> Result<Message, SealError> {
        Ok(Message {
            id: self.id,
            role: self.role,
            content: keys.open(CONTENT, owner, &self.content)?,
            provider: self.provider,
            created_at: self.created_at,
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateConversation {
    /// Made from the first message when absent or blank.
    #[serde(default)]
    #[schema(max_length = 100)]
    pub title: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendMessage {
    #[schema(
        min_length = 1,
        max_length = 2000,
        pattern = r"[^\s\x00-\x1f\x7f-\x9f\ufeff]"
    )]
    pub content: String,
}

/// The answer to a sent message.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Exchange {
    pub user_message: Message,
    pub assistant_message: Message,
    pub safety: Safety,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationDetail {
    pub conversation: Conversation,
    /// Oldest to newest.
    pub messages: Vec<Message>,
    /// Pass as `before` for older messages; null at the beginning.
    pub next_cursor: Option<String>,
}

/// A message as typed: at most 2000 characters, not blank; trimmed.
pub fn content(value: &str) -> Result<String, &'static str> {
    shared::text::required(value, CONTENT_MAX, "must be at most 2000 characters")
}

/// A title as typed: at most 100 characters; blank is none (made from the first message).
pub fn title(value: Option<String>) -> Result<Option<String>, &'static str> {
    shared::text::optional(value, TITLE_MAX, "must be at most 100 characters")
}

/// A title from the first message: its first line, at most 30 characters.
pub fn title_from(content: &str) -> String {
    let line = content
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("새 대화");
    let mut title: String = line.chars().take(30).collect();
    if line.chars().count() > 30 {
        title.push('…');
    }
    title
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::testing::{assert_text_bounds, schema_of};

    #[test]
    fn the_document_states_the_validators_bounds() {
        let message = schema_of::<SendMessage>();
        assert_text_bounds("content", &message["properties"]["content"], |t| {
            content(t).is_ok()
        });
        let conversation = schema_of::<CreateConversation>();
        assert_text_bounds("title", &conversation["properties"]["title"], |t| {
            title(Some(t.into())).is_ok()
        });
    }

    #[test]
    fn titles_from_first_lines() {
        assert_eq!(
            title_from("\n  오늘 너무 힘들었어\n그래서"),
            "오늘 너무 힘들었어"
        );
        assert_eq!(
            title_from(&"가".repeat(40)),
            format!("{}…", "가".repeat(30))
        );
        assert_eq!(title_from("   "), "새 대화");
    }
}
