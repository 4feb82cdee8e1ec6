//! Users: the input rules (parse, don't validate) and the `user` object of the API.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection};
use unicode_normalization::UnicodeNormalization;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Role;
use crate::error::ApiError;

/// A trimmed, lower-cased, plausible email address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let email = raw.trim().to_lowercase();
        let (local, domain) = email.rsplit_once('@').ok_or("invalid email")?;
        let valid = !local.is_empty()
            && local.len() <= 64
            && email.len() <= 254
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && !email.chars().any(|c| c.is_whitespace() || c.is_control())
            && !local.contains('@')
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
        if valid {
            Ok(Self(email))
        } else {
            Err("invalid email")
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// 2..=20 characters: letters (Hangul included), digits, `_`, `-` and single inner spaces.
/// NFC-normalized, so that the same Hangul typed on different keyboards is the same name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nickname(String);

impl Nickname {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let nickname: String = raw.trim().nfc().collect();
        let length = nickname.chars().count();
        if !(2..=20).contains(&length) {
            return Err("must be 2 to 20 characters");
        }
        if nickname.contains("  ") {
            return Err("may not contain consecutive spaces");
        }
        let allowed = |c: char| c.is_alphanumeric() || c == '_' || c == '-' || c == ' ';
        if !nickname.chars().all(allowed) {
            return Err("may contain only letters, digits, _, - and spaces");
        }
        Ok(Self(nickname))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// 8..=128 characters, not a single repeated character.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

impl Password {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let length = raw.chars().count();
        if length < 8 {
            return Err("must be at least 8 characters");
        }
        if length > 128 {
            return Err("must be at most 128 characters");
        }
        let mut chars = raw.chars();
        let first = chars.next();
        if chars.all(|c| Some(c) == first) {
            return Err("must not be one repeated character");
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// The `user` object of the API.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub nickname: String,
    pub bio: Option<String>,
    pub profile_image_url: Option<String>,
    pub role: Role,
    /// IANA time zone, default `Asia/Seoul`.
    pub timezone: String,
    /// `ko` or `en`.
    pub locale: String,
    pub email_verified: bool,
    /// `password`, `google`, `kakao`.
    pub providers: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// A user row as the account logic needs it.
#[derive(Debug, Clone, FromRow)]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub nickname: String,
    pub bio: Option<String>,
    pub profile_image_url: Option<String>,
    pub role: Role,
    pub timezone: String,
    pub locale: String,
    pub email_verified_at: Option<DateTime<Utc>>,
    pub status: String,
    pub suspended_until: Option<DateTime<Utc>>,
    pub password_hash: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// The columns of [`UserRow`], for `SELECT`s and `RETURNING`s.
#[macro_export]
macro_rules! user_columns {
    () => {
        "id, email, nickname, bio, profile_image_url, role, timezone, locale, email_verified_at, \
         status, suspended_until, password_hash, created_at"
    };
}

impl UserRow {
    /// Suspended now (a suspension with an end in the past no longer counts).
    pub fn is_suspended(&self) -> bool {
        self.status == "suspended" && self.suspended_until.is_none_or(|until| until > Utc::now())
    }

    pub fn to_user(&self) -> User {
        let mut providers = Vec::new();
        if self.password_hash.is_some() {
            providers.push("password".to_owned());
        }
        User {
            id: self.id,
            email: self.email.clone(),
            nickname: self.nickname.clone(),
            bio: self.bio.clone(),
            profile_image_url: self.profile_image_url.clone(),
            role: self.role,
            timezone: self.timezone.clone(),
            locale: self.locale.clone(),
            email_verified: self.email_verified_at.is_some(),
            providers,
            created_at: self.created_at,
        }
    }
}

pub async fn find(db: &mut PgConnection, id: Uuid) -> Result<Option<UserRow>, ApiError> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(db)
    .await?)
}

pub async fn find_by_email(
    db: &mut PgConnection,
    email: &Email,
) -> Result<Option<UserRow>, ApiError> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE email = $1"
    ))
    .bind(email.as_str())
    .fetch_optional(db)
    .await?)
}

/// The user behind an authenticated request; a deleted account is 401.
pub async fn current(db: &sqlx::PgPool, id: Uuid) -> Result<UserRow, ApiError> {
    let mut conn = db.acquire().await?;
    find(&mut conn, id)
        .await?
        .ok_or_else(ApiError::unauthorized)
}

/// Whether `name` is an IANA time zone PostgreSQL knows (the same database that converts
/// times for statistics). The catalogue view reads the zone files, so answers are remembered.
pub async fn is_time_zone(db: &sqlx::PgPool, name: &str) -> Result<bool, ApiError> {
    static KNOWN: std::sync::Mutex<Option<std::collections::HashSet<String>>> =
        std::sync::Mutex::new(None);
    let known = |name: &str| {
        KNOWN
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|k| k.contains(name))
    };
    if known(name) {
        return Ok(true);
    }
    if name.is_empty()
        || name.len() > 64
        || name.starts_with("posix/")
        || name.starts_with("right/")
    {
        return Ok(false);
    }
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $1)")
            .bind(name)
            .fetch_one(db)
            .await?;
    if exists {
        KNOWN
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert_with(Default::default)
            .insert(name.to_owned());
    }
    Ok(exists)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(
            Email::parse("  Alice@Example.COM ").unwrap().as_str(),
            "alice@example.com"
        );
        assert!(Email::parse("하늘@예시.한국").is_ok());
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "alice@example",
            "a b@example.com",
            "alice@exa_mple.com",
            "alice@.example.com",
            "alice@example..com",
            "a@b@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(65))).is_err());
    }

    #[test]
    fn nicknames() {
        assert_eq!(
            Nickname::parse(" 마음 쉼표_1 ").unwrap().as_str(),
            "마음 쉼표_1"
        );
        assert!(Nickname::parse("ab").is_ok());
        assert!(Nickname::parse("a-b").is_ok());
        // Decomposed Hangul (NFD) becomes the composed form.
        let nfd = "\u{1112}\u{1161}\u{1102}\u{1173}\u{11af}";
        assert_eq!(Nickname::parse(nfd).unwrap().as_str(), "하늘");
        for bad in [
            "a",
            "   a  ",
            &"가".repeat(21),
            "a  b",
            "no!",
            "<script>",
            "a\tb",
            "😀😀",
        ] {
            assert!(Nickname::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords() {
        assert!(Password::parse("correct horse").is_ok());
        assert!(Password::parse("비밀번호는길게").is_err()); // 7 characters
        assert!(Password::parse("비밀번호는길게요").is_ok());
        for bad in ["short", "aaaaaaaaaaaa", "        ", &"x".repeat(129)] {
            assert!(Password::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Password::parse(&"xy".repeat(64)).is_ok());
        assert_eq!(
            format!("{:?}", Password::parse("secret-words").unwrap()),
            "Password(***)"
        );
    }
}
