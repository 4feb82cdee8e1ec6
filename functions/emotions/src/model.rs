//! A log and the rules of its fields.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared::Fields;
pub use shared::domain::journal::Emotion;
use shared::http::Patch;
use shared::sealing::{Column, Keyring, SealError, columns};
use sqlx::FromRow;
use utoipa::ToSchema;
use uuid::Uuid;

/// Notes are stored sealed for their writer.
pub const NOTE: Column = columns::EMOTION_NOTE;

/// `log` of the API.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Log {
    pub id: Uuid,
    pub emotion: Emotion,
    /// 1..=5
    pub intensity: i16,
    pub note: Option<String>,
    pub tags: Vec<String>,
    pub recorded_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A row of `emotion_logs`, its note still sealed.
#[derive(Debug, FromRow)]
pub struct LogRow {
    pub id: Uuid,
    pub emotion: Emotion,
    pub intensity: i16,
    pub note: Option<Vec<u8>>,
    pub tags: Vec<String>,
    pub recorded_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl LogRow {
    /// The log as its writer sees it.
    pub fn open(self, keys: &Keyring, owner: Uuid) -> Result<Log, SealError> {
        let note = keys.open_opt(NOTE, owner, self.note.as_deref())?;
        Ok(self.with_note(note))
    }

    /// The log with its note known already (just written).
    pub fn with_note(self, note: Option<String>) -> Log {
        Log {
            id: self.id,
            emotion: self.emotion,
            intensity: self.intensity,
            note,
            tags: self.tags,
            recorded_at: self.recorded_at,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// The columns of [`LogRow`], for `SELECT`s and `RETURNING`s (as `journal::LOG_COLUMNS`).
macro_rules! log_columns {
    () => {
        "id, emotion, intensity, note, tags, recorded_at, created_at, updated_at"
    };
}
pub(crate) use log_columns;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLog {
    pub emotion: Emotion,
    #[schema(minimum = 1, maximum = 5)]
    pub intensity: i64,
    /// Trimmed; blank is no note.
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub note: Option<String>,
    /// Trimmed, duplicates dropped.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Tag>>, max_items = 10)]
    pub tags: Option<Vec<String>>,
    /// Defaults to now; at most 5 minutes in the future.
    #[serde(default)]
    pub recorded_at: Option<DateTime<Utc>>,
}

/// A tag of a log.
#[derive(ToSchema)]
#[schema(
    min_length = 1,
    max_length = 20,
    pattern = r"[^\s\x00-\x1f\x7f-\x9f\ufeff]"
)]
pub struct Tag(#[allow(dead_code)] String);

/// Any of the fields; an absent one is kept.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateLog {
    #[serde(default)]
    #[schema(value_type = Emotion)]
    pub emotion: Patch<Emotion>,
    #[serde(default)]
    #[schema(value_type = i64, minimum = 1, maximum = 5)]
    pub intensity: Patch<i64>,
    /// `null` clears the note.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub note: Patch<String>,
    /// `null` clears the tags.
    #[serde(default)]
    #[schema(value_type = Option<Vec<Tag>>, max_items = 10)]
    pub tags: Patch<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = DateTime<Utc>)]
    pub recorded_at: Patch<DateTime<Utc>>,
}

pub fn intensity(value: i64) -> Result<i16, &'static str> {
    if (1..=5).contains(&value) {
        Ok(value as i16)
    } else {
        Err("must be between 1 and 5")
    }
}

/// At most 2000 characters as typed; trimmed, blank is no note.
pub fn note(value: Option<String>) -> Result<Option<String>, &'static str> {
    shared::text::optional(value, 2000, "must be at most 2000 characters")
}

pub fn tags(value: Option<Vec<String>>) -> Result<Vec<String>, &'static str> {
    let value = value.unwrap_or_default();
    if value.len() > 10 {
        return Err("at most 10 tags");
    }
    let mut out: Vec<String> = Vec::new();
    for tag in value {
        let tag = shared::text::required(&tag, 20, "")
            .map_err(|_| "each tag must be 1 to 20 characters")?;
        if !out.contains(&tag) {
            out.push(tag);
        }
    }
    Ok(out)
}

/// Not more than 5 minutes ahead of the server's clock.
pub fn recorded_at(value: DateTime<Utc>) -> Result<DateTime<Utc>, &'static str> {
    if value > Utc::now() + chrono::Duration::minutes(5) {
        Err("may not be more than 5 minutes in the future")
    } else {
        Ok(value)
    }
}

/// A validated new log.
pub struct NewLog {
    pub emotion: Emotion,
    pub intensity: i16,
    pub note: Option<String>,
    pub tags: Vec<String>,
    pub recorded_at: DateTime<Utc>,
}

impl CreateLog {
    pub fn validate(self) -> Result<NewLog, shared::ApiError> {
        let mut f = Fields::default();
        let intensity = f.check("intensity", intensity(self.intensity));
        let note = f.check("note", note(self.note));
        let tags = f.check("tags", tags(self.tags));
        let recorded_at = f.check(
            "recorded_at",
            recorded_at(self.recorded_at.unwrap_or_else(Utc::now)),
        );
        let (intensity, note, tags, recorded_at) =
            f.finish((intensity, note, tags, recorded_at))?;
        Ok(NewLog {
            emotion: self.emotion,
            intensity,
            note,
            tags,
            recorded_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::testing::{assert_number_bounds, assert_text_bounds, schema_of};

    #[test]
    fn the_document_states_the_validators_bounds() {
        for body in [schema_of::<CreateLog>(), schema_of::<UpdateLog>()] {
            let field = |name: &str| body["properties"][name].clone();
            assert_number_bounds("intensity", &field("intensity"), |n| intensity(n).is_ok());
            assert_text_bounds("note", &field("note"), |t| note(Some(t.into())).is_ok());
            let max = field("tags")["maxItems"].as_u64().unwrap();
            let some = |n: u64| Some((0..n).map(|i| i.to_string()).collect());
            assert!(tags(some(max)).is_ok() && tags(some(max + 1)).is_err());
        }
        assert_text_bounds("tag", &schema_of::<Tag>(), |t| {
            tags(Some(vec![t.into()])).is_ok()
        });
    }

    #[test]
    fn rows_are_read_as_the_journal_writes_them() {
        assert_eq!(log_columns!(), shared::domain::journal::LOG_COLUMNS);
    }

    #[test]
    fn field_rules() {
        assert_eq!(intensity(1), Ok(1));
        assert!(intensity(0).is_err() && intensity(6).is_err());
        assert_eq!(note(Some("  ".into())), Ok(None));
        assert!(note(Some("가".repeat(2001))).is_err());
        assert!(note(Some("가".repeat(2000))).is_ok());
        assert_eq!(
            tags(Some(vec![" 산책 ".into(), "산책".into(), "일".into()])),
            Ok(vec!["산책".into(), "일".into()])
        );
        assert!(tags(Some(vec!["".into()])).is_err());
        assert!(tags(Some(vec!["가".repeat(21)])).is_err());
        assert!(tags(Some((0..11).map(|i| i.to_string()).collect())).is_err());
        // Counted as sent (the document's maxItems), duplicates included.
        assert!(
            tags(Some(
                (0..10).map(|i| i.to_string()).chain(["0".into()]).collect()
            ))
            .is_err()
        );
        assert!(recorded_at(Utc::now() + chrono::Duration::minutes(4)).is_ok());
        assert!(recorded_at(Utc::now() + chrono::Duration::minutes(6)).is_err());
    }
}
