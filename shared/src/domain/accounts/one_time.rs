//! Single-use tokens (password reset, email verification, a provider sign-in's code): 256
//! random bits for the user, only their SHA-256 in the database (with what a token is bound
//! to, for a sign-in's code: the app's PKCE challenge), consumed atomically.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Duration, Utc};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::{ApiError, ErrorCode};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    PasswordReset,
    EmailVerification,
    /// What a provider's callback hands the app, traded for tokens once.
    OAuthExchange,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::PasswordReset => "password_reset",
            Self::EmailVerification => "email_verification",
            Self::OAuthExchange => "oauth_exchange",
        }
    }

    pub fn lifetime(self) -> Duration {
        match self {
            Self::PasswordReset => Duration::minutes(30),
            Self::EmailVerification => Duration::hours(24),
            Self::OAuthExchange => Duration::seconds(60),
        }
    }
}

/// What is stored: SHA-256 of the token, or of the token and what it is bound to.
fn digest(token: &str, binding: Option<&str>) -> Vec<u8> {
    let mut hash = Sha256::new();
    hash.update(token.as_bytes());
    if let Some(binding) = binding {
        hash.update(b".");
        hash.update(binding.as_bytes());
    }
    hash.finalize().to_vec()
}

/// A new token for `user_id`; earlier unused tokens of the same purpose stop working.
pub async fn issue(
    db: &mut PgConnection,
    user_id: Uuid,
    purpose: Purpose,
) -> Result<String, ApiError> {
    insert(db, user_id, purpose, None).await
}

/// [`issue`], bound to `binding`: only the token together with it is usable
/// ([`consume_bound`]), so a token that reaches someone else's hands opens nothing.
pub async fn issue_bound(
    db: &mut PgConnection,
    user_id: Uuid,
    purpose: Purpose,
    binding: &str,
) -> Result<String, ApiError> {
    insert(db, user_id, purpose, Some(binding)).await
}

async fn insert(
    db: &mut PgConnection,
    user_id: Uuid,
    purpose: Purpose,
    binding: Option<&str>,
) -> Result<String, ApiError> {
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    let token = URL_SAFE_NO_PAD.encode(raw);
    sqlx::query("DELETE FROM one_time_tokens WHERE user_id = $1 AND purpose = $2")
        .bind(user_id)
        .bind(purpose.as_str())
        .execute(&mut *db)
        .await?;
    sqlx::query(
        "INSERT INTO one_time_tokens (token_hash, user_id, purpose, expires_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(digest(&token, binding))
    .bind(user_id)
    .bind(purpose.as_str())
    .bind(Utc::now() + purpose.lifetime())
    .execute(&mut *db)
    .await?;
    Ok(token)
}

/// 400 INVALID_TOKEN unless `token` is usable now. Only a look: [`consume`] decides, so
/// that costly work (hashing a new password) is not done for a token that cannot succeed.
pub async fn check(db: &mut PgConnection, token: &str, purpose: Purpose) -> Result<(), ApiError> {
    let usable: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM one_time_tokens
                        WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now())",
    )
    .bind(digest(token, None))
    .bind(purpose.as_str())
    .fetch_one(db)
    .await?;
    if usable {
        Ok(())
    } else {
        Err(ApiError::code(ErrorCode::InvalidToken))
    }
}

/// Uses `token` up: the user it was issued to, or 400 INVALID_TOKEN when it is unknown, used,
/// expired or of another purpose.
pub async fn consume(
    db: &mut PgConnection,
    token: &str,
    purpose: Purpose,
) -> Result<Uuid, ApiError> {
    take(db, digest(token, None), purpose).await
}

/// [`consume`] for a token issued bound to `binding`: any other binding is 400 INVALID_TOKEN,
/// as an unknown token is.
pub async fn consume_bound(
    db: &mut PgConnection,
    token: &str,
    binding: &str,
    purpose: Purpose,
) -> Result<Uuid, ApiError> {
    take(db, digest(token, Some(binding)), purpose).await
}

async fn take(db: &mut PgConnection, hash: Vec<u8>, purpose: Purpose) -> Result<Uuid, ApiError> {
    sqlx::query_scalar(
        "UPDATE one_time_tokens SET used_at = now()
         WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()
         RETURNING user_id",
    )
    .bind(hash)
    .bind(purpose.as_str())
    .fetch_optional(db)
    .await?
    .ok_or_else(|| ApiError::code(ErrorCode::InvalidToken))
}
