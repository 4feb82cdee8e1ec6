//! A challenge, the bodies that make and change it, and its rules: the state machine and
//! the check-in.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use shared::Fields;
use shared::http::Patch;
use sqlx::FromRow;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
#[schema(as = ChallengeStatus)]
pub enum Status {
    Active,
    Completed,
    Abandoned,
}

impl Status {
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        match value {
            "active" => Ok(Self::Active),
            "completed" => Ok(Self::Completed),
            "abandoned" => Ok(Self::Abandoned),
            _ => Err("must be one of active, completed, abandoned"),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Completed => "completed",
            Self::Abandoned => "abandoned",
        }
    }

    /// active → completed | abandoned, and an abandoned challenge may be resumed; a completed
    /// one stays completed. Staying where it is is always allowed (a repeated request).
    pub fn may_become(self, next: Self) -> bool {
        use Status::*;
        self == next
            || matches!(
                (self, next),
                (Active, Completed) | (Active, Abandoned) | (Abandoned, Active)
            )
    }
}

/// `challenge` of the API.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Challenge {
    pub id: Uuid,
    pub title: String,
    pub description: Option<String>,
    pub target_days: i32,
    pub start_date: NaiveDate,
    pub status: Status,
    pub progress_days: i32,
    /// The person's local date of the last check-in.
    pub last_check_in_date: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

macro_rules! challenge_columns {
    () => {
        "id, title, description, target_days, start_date, status, progress_days, \
         last_check_in_date, created_at, updated_at"
    };
}
pub(crate) use challenge_columns;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateChallenge {
    #[schema(
        min_length = 1,
        max_length = 50,
        pattern = r"[^\s\x00-\x1f\x7f-\x9f\ufeff]"
    )]
    pub title: String,
    /// Blank is none.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub description: Option<String>,
    #[schema(minimum = 1, maximum = 365)]
    pub target_days: i64,
    /// Your local today by default; at most 30 days in the past, 365 ahead.
    #[serde(default)]
    pub start_date: Option<NaiveDate>,
}

/// Any of the fields; `check_in: true` counts today (not together with `status`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateChallenge {
    #[serde(default)]
    #[schema(value_type = String, min_length = 1, max_length = 50, pattern = r"[^\s\x00-\x1f\x7f-\x9f\ufeff]")]
    pub title: Patch<String>,
    /// `null` clears it.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 500)]
    pub description: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Status)]
    pub status: Patch<Status>,
    /// `true` (the only value): counts today.
    #[serde(default)]
    #[schema(schema_with = only_true)]
    pub check_in: Option<bool>,
}

fn only_true() -> utoipa::openapi::schema::Schema {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::Boolean)
        .enum_values(Some([true]))
        .into()
}

pub fn title(value: &str) -> Result<String, &'static str> {
    shared::text::required(value, 50, "must be at most 50 characters")
}

/// Trimmed; blank is none.
pub fn description(value: Option<String>) -> Result<Option<String>, &'static str> {
    shared::text::optional(value, 500, "must be at most 500 characters")
}

pub fn target_days(value: i64) -> Result<i32, &'static str> {
    if (1..=365).contains(&value) {
        Ok(value as i32)
    } else {
        Err("must be between 1 and 365")
    }
}

/// A start date may be up to 30 days before and 365 days after the person's `today`.
pub fn start_date(value: NaiveDate, today: NaiveDate) -> Result<NaiveDate, &'static str> {
    let days = (value - today).num_days();
    if (-30..=365).contains(&days) {
        Ok(value)
    } else {
        Err("must be between 30 days ago and a year from today")
    }
}

/// Why a check-in on the local date `today` is refused (409 CONFLICT with this reason).
pub fn check_in_refusal(
    status: Status,
    start_date: NaiveDate,
    last_check_in: Option<NaiveDate>,
    today: NaiveDate,
) -> Option<&'static str> {
    if status != Status::Active {
        Some("not_active")
    } else if today < start_date {
        Some("not_started")
    } else if last_check_in.is_some_and(|last| last >= today) {
        Some("already_checked_in")
    } else {
        None
    }
}

/// A validated change: `None` leaves a field as it is.
pub struct Change {
    pub title: Option<String>,
    /// `Some(None)` clears it.
    pub description: Option<Option<String>>,
    pub status: Option<Status>,
    pub check_in: bool,
}

impl UpdateChallenge {
    pub fn validate(self) -> Result<Change, shared::ApiError> {
        let mut f = Fields::default();
        let title = f
            .check("title", self.title.required())
            .map(|t| t.and_then(|t| f.check("title", title(&t))));
        let description = match self.description {
            Patch::Absent => Some(None),
            Patch::Null => Some(Some(None)),
            Patch::Value(d) => f.check("description", description(Some(d))).map(Some),
        };
        let status = f.check("status", self.status.required());
        let check_in = match (self.check_in, &status) {
            (None, _) => Some(false),
            (Some(false), _) => f.check::<bool>("check_in", Err("must be true")),
            (Some(true), Some(Some(_))) => {
                f.check::<bool>("check_in", Err("cannot be sent together with status"))
            }
            (Some(true), _) => Some(true),
        };
        let (title, description, status, check_in) =
            f.finish((title, description, status, check_in))?;
        Ok(Change {
            title,
            description,
            status,
            check_in,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::testing::{assert_number_bounds, assert_text_bounds, schema_of};

    #[test]
    fn the_document_states_the_validators_bounds() {
        for body in [
            schema_of::<CreateChallenge>(),
            schema_of::<UpdateChallenge>(),
        ] {
            let field = |name: &str| body["properties"][name].clone();
            assert_text_bounds("title", &field("title"), |t| title(t).is_ok());
            assert_text_bounds("description", &field("description"), |t| {
                description(Some(t.into())).is_ok()
            });
        }
        let create = schema_of::<CreateChallenge>();
        assert_number_bounds("target_days", &create["properties"]["target_days"], |n| {
            target_days(n).is_ok()
        });
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_state_machine() {
        use Status::*;
        for (from, to, allowed) in [
            (Active, Completed, true),
            (Active, Abandoned, true),
            (Abandoned, Active, true),
            (Completed, Active, false),
            (Completed, Abandoned, false),
            (Abandoned, Completed, false),
            (Completed, Completed, true),
            (Active, Active, true),
        ] {
            assert_eq!(from.may_become(to), allowed, "{from:?} -> {to:?}");
        }
        assert!(Status::parse("paused").is_err());
    }

    #[test]
    fn a_check_in_counts_once_a_day_from_the_start_while_active() {
        let start = day("2026-03-01");
        let ok = |last, today| check_in_refusal(Status::Active, start, last, day(today));
        assert_eq!(ok(None, "2026-03-01"), None);
        assert_eq!(ok(None, "2026-02-28"), Some("not_started"));
        assert_eq!(
            ok(Some(day("2026-03-01")), "2026-03-01"),
            Some("already_checked_in")
        );
        assert_eq!(ok(Some(day("2026-03-01")), "2026-03-02"), None);
        // A later time zone moved "today" back: that day was already counted.
        assert_eq!(
            ok(Some(day("2026-03-02")), "2026-03-01"),
            Some("already_checked_in")
        );
        for status in [Status::Completed, Status::Abandoned] {
            assert_eq!(
                check_in_refusal(status, start, None, day("2026-03-05")),
                Some("not_active")
            );
        }
    }

    #[test]
    fn field_rules() {
        assert_eq!(title("  물 마시기  "), Ok("물 마시기".into()));
        assert!(title(" ").is_err() && title(&"가".repeat(51)).is_err());
        assert_eq!(description(Some("  ".into())), Ok(None));
        assert!(description(Some("가".repeat(501))).is_err());
        assert_eq!(target_days(365), Ok(365));
        assert!(target_days(0).is_err() && target_days(366).is_err());
        let today = day("2026-03-31");
        assert!(start_date(day("2026-03-01"), today).is_ok());
        assert!(start_date(day("2026-02-28"), today).is_err());
        assert!(start_date(day("2027-03-31"), today).is_ok());
        assert!(start_date(day("2027-04-01"), today).is_err());
    }
}
