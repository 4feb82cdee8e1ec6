//! Accounts: the one owner of `users`, `sessions` and `one_time_tokens`.
//!
//! Every statement that writes those tables is here; functions (auth, users, later admin
//! and OAuth) call this typed API and never write them themselves. Writes run in the
//! caller's transaction. A change that must close session gates on every instance returns a
//! [`Revocation`], announced once the transaction has committed.

pub mod emails;
pub mod identities;
mod input;
pub mod one_time;
pub mod passwords;
pub mod sessions;
mod user;

/// Sessions by expiry (revoked ones too: their refresh tokens expire like any), deleted a
/// while after it (retention).
pub const EXPIRED_SESSIONS: crate::db::Expiring = crate::db::Expiring {
    table: "sessions",
    key: &["id"],
    at: "expires_at",
};

/// Single-use tokens by expiry, used or not.
pub const EXPIRED_ONE_TIME_TOKENS: crate::db::Expiring = crate::db::Expiring {
    table: "one_time_tokens",
    key: &["token_hash"],
    at: "expires_at",
};

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

pub use emails::{AccountEmail, request_password_reset, send as send_email};
pub use input::{Email, Nickname, Password};
pub use one_time::Purpose;
pub use sessions::{Tokens, TokensPayload};
pub use user::{User, UserRow};

use crate::auth::Role;
use crate::db::Constraints;
use crate::error::{ApiError, ErrorCode};
use crate::locale::Lang;
use crate::state::AppState;
use sessions::Gate;
use user::user_columns;

/// The unique indexes of `users` that tell a client what is taken.
const TAKEN: &[(&str, ErrorCode)] = &[
    ("users_email_key", ErrorCode::EmailTaken),
    ("users_nickname_key", ErrorCode::NicknameTaken),
];

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
pub async fn current(db: &PgPool, id: Uuid) -> Result<UserRow, ApiError> {
    let mut conn = db.acquire().await?;
    find(&mut conn, id)
        .await?
        .ok_or_else(ApiError::unauthorized)
}

/// A new account, its input already parsed.
pub struct NewAccount<'a> {
    /// `None` for a provider's account without a verified email it could have.
    pub email: Option<&'a Email>,
    pub nickname: &'a Nickname,
    /// `None` for an account that signs in only through a provider.
    pub password_hash: Option<&'a str>,
    pub locale: Lang,
}

/// Creates an account: 409 EMAIL_TAKEN or NICKNAME_TAKEN when either is in use.
pub async fn create(db: &mut PgConnection, new: NewAccount<'_>) -> Result<UserRow, ApiError> {
    sqlx::query_as(concat!(
        "INSERT INTO users (id, email, password_hash, nickname, locale)
         VALUES ($1, $2, $3, $4, $5) RETURNING ",
        user_columns!()
    ))
    .bind(Uuid::now_v7())
    .bind(new.email.map(Email::as_str))
    .bind(new.password_hash)
    .bind(new.nickname.as_str())
    .bind(new.locale.as_str())
    .fetch_one(db)
    .await
    .on_constraints(TAKEN)
}

/// Marks the email of `token`'s account verified (400 INVALID_TOKEN for a bad token).
pub async fn verify_email(db: &mut PgConnection, token: &str) -> Result<UserRow, ApiError> {
    let user_id = one_time::consume(&mut *db, token, Purpose::EmailVerification).await?;
    Ok(sqlx::query_as(concat!(
        "UPDATE users SET email_verified_at = COALESCE(email_verified_at, now()), updated_at = now()
         WHERE id = $1 RETURNING ",
        user_columns!()
    ))
    .bind(user_id)
    .fetch_one(db)
    .await?)
}

/// Sets a new password hash: every session but `keep` is revoked and every token issued until
/// now refused; `keep` continues with a new refresh token id (its gate reopens with the new
/// `tokens_valid_after`), so a stolen refresh token of it dies too.
pub async fn set_password(
    db: &mut PgConnection,
    user_id: Uuid,
    password_hash: &str,
    keep: Option<Uuid>,
    reason: &str,
) -> Result<Revocation, ApiError> {
    // One second ahead, so that tokens of this same second issued before it are refused too.
    let valid_after = Utc::now().timestamp() + 1;
    let role: Role = sqlx::query_scalar(
        "UPDATE users SET password_hash = $2, tokens_valid_after = $3, updated_at = now()
         WHERE id = $1 RETURNING role",
    )
    .bind(user_id)
    .bind(password_hash)
    .bind(valid_after)
    .fetch_one(&mut *db)
    .await?;
    let closed = sessions::revoke_all(&mut *db, user_id, keep, reason).await?;
    let mut revocation = Revocation::closing(closed, Gate::Revoked);
    if let Some(session) = keep {
        sessions::rotate_refresh(db, session).await?;
        revocation
            .gates
            .push((session, Gate::Open { valid_after, role }));
    }
    Ok(revocation)
}

/// Makes `user_id` a `role`. Their access tokens carrying the old role are refused at once
/// on every instance (once the [`Revocation`] is announced); a refresh gets the new role.
pub async fn set_role(
    db: &mut PgConnection,
    user_id: Uuid,
    role: Role,
) -> Result<Revocation, ApiError> {
    let valid_after: i64 = sqlx::query_scalar(
        "UPDATE users SET role = $2, updated_at = now() WHERE id = $1 RETURNING tokens_valid_after",
    )
    .bind(user_id)
    .bind(role)
    .fetch_optional(&mut *db)
    .await?
    .ok_or_else(ApiError::not_found)?;
    let live: Vec<Uuid> = sqlx::query_scalar(
        "SELECT id FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > now()",
    )
    .bind(user_id)
    .fetch_all(&mut *db)
    .await?;
    Ok(Revocation {
        gates: live
            .into_iter()
            .map(|session| (session, Gate::Open { valid_after, role }))
            .collect(),
        forget: None,
    })
}

/// Sets the password of `token`'s account (400 INVALID_TOKEN for a bad token) and revokes
/// every session.
pub async fn reset_password(
    db: &mut PgConnection,
    token: &str,
    password_hash: &str,
) -> Result<(UserRow, Revocation), ApiError> {
    let user_id = one_time::consume(&mut *db, token, Purpose::PasswordReset).await?;
    let revocation = set_password(db, user_id, password_hash, None, "password_reset").await?;
    let user = find(db, user_id).await?.ok_or_else(ApiError::not_found)?;
    Ok((user, revocation))
}

/// A profile change, validated; `None` leaves a field as it is.
#[derive(Debug, Default)]
pub struct ProfileChange {
    pub nickname: Option<Nickname>,
    /// `Some(None)` clears the bio.
    pub bio: Option<Option<String>>,
    /// An IANA name ([`is_time_zone`]).
    pub timezone: Option<String>,
    pub locale: Option<Lang>,
}

/// Applies `change`: 409 NICKNAME_TAKEN when the nickname is in use, 401 for an account
/// that no longer exists.
pub async fn update_profile(
    db: &mut PgConnection,
    user_id: Uuid,
    change: ProfileChange,
) -> Result<UserRow, ApiError> {
    sqlx::query_as(concat!(
        "UPDATE users SET
            nickname = COALESCE($2, nickname),
            bio = CASE WHEN $3 THEN $4 ELSE bio END,
            timezone = COALESCE($5, timezone),
            locale = COALESCE($6, locale),
            updated_at = now()
         WHERE id = $1 RETURNING ",
        user_columns!()
    ))
    .bind(user_id)
    .bind(change.nickname.as_ref().map(Nickname::as_str))
    .bind(change.bio.is_some())
    .bind(change.bio.flatten())
    .bind(change.timezone)
    .bind(change.locale.map(Lang::as_str))
    .fetch_optional(db)
    .await
    .on_constraints(TAKEN)?
    .ok_or_else(ApiError::unauthorized)
}

/// Suspends an account (until `until`, or until lifted): every session is revoked (API.md),
/// its tokens answer 403 ACCOUNT_SUSPENDED meanwhile, and so does login.
pub async fn suspend(
    db: &mut PgConnection,
    user_id: Uuid,
    until: Option<DateTime<Utc>>,
    reason: &str,
) -> Result<Revocation, ApiError> {
    let closed = sqlx::query_scalar(
        "WITH suspended AS (
             UPDATE users SET status = 'suspended', suspended_until = $2, suspension_reason = $3,
                    updated_at = now()
             WHERE id = $1 RETURNING id
         )
         UPDATE sessions s SET revoked_at = now(), revoked_reason = 'suspended'
         FROM suspended u WHERE s.user_id = u.id AND s.revoked_at IS NULL
         RETURNING s.id",
    )
    .bind(user_id)
    .bind(until)
    .bind(reason)
    .fetch_all(db)
    .await?;
    Ok(Revocation::closing(closed, Gate::Suspended))
}

/// Lifts a suspension (logging in works again; the sessions it ended stay ended). `false`
/// when there is no such account.
pub async fn unsuspend(db: &mut PgConnection, user_id: Uuid) -> Result<bool, ApiError> {
    let lifted = sqlx::query(
        "UPDATE users SET status = 'active', suspended_until = NULL, suspension_reason = NULL,
                updated_at = now()
         WHERE id = $1",
    )
    .bind(user_id)
    .execute(db)
    .await?
    .rows_affected();
    Ok(lifted == 1)
}

/// Deletes an account. Personal data goes with it (`ON DELETE CASCADE`); community content
/// stays, its author set to NULL. Announcing the revocation also forgets what Redis holds
/// under the account's id (rate-limit windows, cached statistics).
pub async fn delete(db: &mut PgConnection, user_id: Uuid) -> Result<Revocation, ApiError> {
    let closed = sqlx::query_scalar(
        "WITH gone AS (DELETE FROM users WHERE id = $1 RETURNING id)
         SELECT s.id FROM sessions s JOIN gone ON gone.id = s.user_id",
    )
    .bind(user_id)
    .fetch_all(db)
    .await?;
    Ok(Revocation {
        forget: Some(user_id),
        ..Revocation::closing(closed, Gate::Revoked)
    })
}

/// Shows picture `file` on `user`'s profile unless a newer one is shown already (file ids
/// are UUIDv7: a later upload has the greater id, whichever is processed first).
/// `Some(previous)` when it is shown now (the picture it replaces, if any), `None` when it
/// was overtaken (or the user is gone).
pub async fn show_picture(
    db: &mut PgConnection,
    user_id: Uuid,
    file: Uuid,
) -> Result<Option<Option<Uuid>>, sqlx::Error> {
    sqlx::query_scalar(
        "WITH before AS (SELECT profile_image_id FROM users WHERE id = $1 FOR UPDATE)
         UPDATE users SET profile_image_id = $2, updated_at = now()
         FROM before
         WHERE users.id = $1
           AND (before.profile_image_id IS NULL OR before.profile_image_id < $2)
         RETURNING before.profile_image_id",
    )
    .bind(user_id)
    .bind(file)
    .fetch_optional(db)
    .await
}

/// Records that the user was active now (sign-in, refresh).
pub async fn touch(db: &mut PgConnection, user_id: Uuid) -> Result<(), ApiError> {
    sqlx::query("UPDATE users SET last_active_at = now() WHERE id = $1")
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(())
}

/// Sessions whose gates change with a committed account change: announce it after the
/// commit, so that every instance sees the new gates (a gate written before the commit
/// could be overwritten by a reader that still saw the old row).
#[must_use = "announce the revocation once the transaction has committed"]
#[derive(Debug)]
pub struct Revocation {
    gates: Vec<(Uuid, Gate)>,
    /// A deleted account, whose keys in Redis go too.
    forget: Option<Uuid>,
}

impl Revocation {
    fn closing(sessions: Vec<Uuid>, gate: Gate) -> Self {
        Self {
            gates: sessions.into_iter().map(|s| (s, gate)).collect(),
            forget: None,
        }
    }

    pub async fn announce(self, state: &AppState) {
        sessions::set_gates(state, &self.gates).await;
        if let Some(user) = self.forget {
            state.cache.forget(&user.to_string()).await;
        }
    }
}

/// Whether `name` is an IANA time zone PostgreSQL knows (the same database that converts
/// times for statistics). The catalogue view reads the zone files, so answers are remembered.
pub async fn is_time_zone(db: &PgPool, name: &str) -> Result<bool, ApiError> {
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
        || name.contains(char::is_control)
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
