//! A user row as the account logic needs it, and the `user` object of the API.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::FromRow;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::Role;
use crate::domain::files::{FileLinks, PROFILE_VARIANT};

/// The `user` object of the API.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct User {
    pub id: Uuid,
    /// `null` for an account made through a provider that shared no verified email.
    pub email: Option<String>,
    pub nickname: String,
    pub bio: Option<String>,
    /// A signed link to the profile picture (256 px WebP), valid for at least an hour.
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
    pub email: Option<String>,
    pub nickname: String,
    pub bio: Option<String>,
    pub profile_image_id: Option<Uuid>,
    pub role: Role,
    pub timezone: String,
    pub locale: String,
    pub email_verified_at: Option<DateTime<Utc>>,
    pub status: String,
    pub suspended_until: Option<DateTime<Utc>>,
    pub password_hash: Option<String>,
    /// The linked providers (`google`, `kakao`), in that order.
    pub identities: Vec<String>,
    pub created_at: DateTime<Utc>,
}

/// The columns of [`UserRow`], for `SELECT`s and `RETURNING`s.
macro_rules! user_columns {
    () => {
        "id, email, nickname, bio, profile_image_id, role, timezone, locale, email_verified_at, \
         status, suspended_until, password_hash, created_at, \
         ARRAY(SELECT i.provider FROM user_identities i WHERE i.user_id = users.id \
               ORDER BY i.provider) AS identities"
    };
}
pub(super) use user_columns;

impl UserRow {
    /// Suspended now (a suspension with an end in the past no longer counts).
    pub fn is_suspended(&self) -> bool {
        self.status == "suspended" && self.suspended_until.is_none_or(|until| until > Utc::now())
    }

    /// The `user` object; its picture is a signed link ([`FileLinks`]).
    pub fn to_user(&self, links: &FileLinks) -> User {
        let mut providers = Vec::new();
        if self.password_hash.is_some() {
            providers.push("password".to_owned());
        }
        providers.extend(self.identities.iter().cloned());
        User {
            id: self.id,
            email: self.email.clone(),
            nickname: self.nickname.clone(),
            bio: self.bio.clone(),
            profile_image_url: self
                .profile_image_id
                .map(|file| links.link(file, &PROFILE_VARIANT.to_string(), Utc::now())),
            role: self.role,
            timezone: self.timezone.clone(),
            locale: self.locale.clone(),
            email_verified: self.email_verified_at.is_some(),
            providers,
            created_at: self.created_at,
        }
    }
}
