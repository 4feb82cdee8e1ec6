//! Making tokens: a session's start, refresh with rotation and reuse detection, and new
//! tokens after a password change. Only functions built with `signing` (auth and users)
//! hold the keys, so only they compile this.

use chrono::Utc;
use sqlx::{FromRow, PgConnection};
use uuid::Uuid;

use super::{GRACE, Gate, Tokens, set_gates};
use crate::auth::{AccessClaims, RefreshClaims, Role, TokenKind};
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

fn issue(
    state: &AppState,
    user_id: Uuid,
    role: Role,
    session_id: Uuid,
    refresh_jti: Uuid,
    iat: i64,
) -> Result<Tokens, ApiError> {
    let keys = &state.tokens;
    let access = AccessClaims {
        sub: user_id,
        sid: session_id,
        role,
        iat,
        exp: iat + keys.access_ttl_secs,
        iss: keys.issuer.clone(),
        aud: keys.audience.clone(),
        jti: Uuid::now_v7(),
    };
    let refresh = RefreshClaims {
        sub: user_id,
        sid: session_id,
        iat,
        exp: iat + keys.refresh_ttl_secs,
        iss: keys.issuer.clone(),
        aud: keys.audience.clone(),
        jti: refresh_jti,
    };
    Ok(Tokens {
        access_token: keys.sign(TokenKind::Access, &access)?,
        refresh_token: keys.sign(TokenKind::Refresh, &refresh)?,
        token_type: "Bearer",
        expires_in: keys.access_ttl_secs,
    })
}

/// Starts a session for a user who has just proved who they are.
pub async fn start(
    state: &AppState,
    db: &mut PgConnection,
    user_id: Uuid,
    role: Role,
) -> Result<Tokens, ApiError> {
    let session_id = Uuid::now_v7();
    let refresh_jti = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO sessions (id, user_id, refresh_jti, expires_at)
         VALUES ($1, $2, $3, now() + make_interval(secs => $4))",
    )
    .bind(session_id)
    .bind(user_id)
    .bind(refresh_jti)
    .bind(state.tokens.refresh_ttl_secs as f64)
    .execute(&mut *db)
    .await?;
    let iat = issued_at(&mut *db, user_id).await?;
    issue(state, user_id, role, session_id, refresh_jti, iat)
}

/// Now, but never before the user's `tokens_valid_after` (which a password change sets one
/// second ahead, so that tokens of that same second issued before it are refused).
async fn issued_at(db: &mut PgConnection, user_id: Uuid) -> Result<i64, ApiError> {
    let valid_after: i64 = sqlx::query_scalar("SELECT tokens_valid_after FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(db)
        .await?;
    Ok(Utc::now().timestamp().max(valid_after))
}

/// What a refresh found, decided by the statement that acted on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "lowercase")]
enum Verdict {
    /// The current token: rotated.
    Rotated,
    /// The token just rotated away, within [`GRACE`]: the same client refreshing twice at
    /// once; both get the current generation.
    Grace,
    /// An older token presented again: the session is revoked.
    Reused,
    /// Revoked, expired, or issued before a password change (whose owner holds the token
    /// the change answered with): refused, the session untouched.
    Refused,
    Suspended,
}

#[derive(FromRow)]
struct Refreshed {
    verdict: Verdict,
    role: Role,
    /// The refresh token id to issue (the new one when rotated).
    refresh_jti: Uuid,
    tokens_valid_after: i64,
}

/// `POST /auth/refresh`: rotates the session's refresh token, in one statement: the session
/// locked, the verdict, the rotation or the revocation, and the user's activity.
pub async fn refresh(state: &AppState, refresh_token: &str) -> Result<Tokens, ApiError> {
    let claims: RefreshClaims = state
        .tokens
        .verify(TokenKind::Refresh, refresh_token)
        .map_err(|_| ApiError::unauthorized())?;
    // `found` sees the session as its lock left it (a concurrent refresh committed first is
    // seen rotated) and holds the user's row as the activity update will, so a suspension or
    // password change waits for the commit; the updates act on that verdict. The user is
    // locked before the session, in the order of those changes (no deadlock between them).
    let found: Option<Refreshed> = sqlx::query_as(
        "WITH found AS (
             SELECT s.id, u.role, u.tokens_valid_after, s.refresh_jti,
                    CASE WHEN u.status = 'suspended' AND (u.suspended_until IS NULL OR u.suspended_until > now()) THEN 'suspended'
                         WHEN s.revoked_at IS NOT NULL OR s.expires_at <= now() OR $4 < u.tokens_valid_after THEN 'refused'
                         WHEN s.refresh_jti = $3 THEN 'rotated'
                         WHEN s.previous_jti = $3 AND s.rotated_at >= now() - make_interval(secs => $7) THEN 'grace'
                         ELSE 'reused'
                    END AS verdict
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.id = $1 AND s.user_id = $2
             FOR NO KEY UPDATE OF u FOR UPDATE OF s
         ),
         rotated AS (
             UPDATE sessions s SET refresh_jti = $5, previous_jti = s.refresh_jti, rotated_at = now(),
                    last_used_at = now(), expires_at = now() + make_interval(secs => $6)
             FROM found WHERE s.id = found.id AND found.verdict = 'rotated'
         ),
         reused AS (
             UPDATE sessions s SET revoked_at = now(), revoked_reason = 'reuse'
             FROM found WHERE s.id = found.id AND found.verdict = 'reused'
         ),
         touched AS (
             UPDATE users SET last_active_at = now()
             WHERE id = $2 AND EXISTS (SELECT FROM found WHERE verdict IN ('rotated', 'grace'))
         )
         SELECT verdict, role, tokens_valid_after,
                CASE WHEN verdict = 'rotated' THEN $5 ELSE refresh_jti END AS refresh_jti
         FROM found",
    )
    .bind(claims.sid)
    .bind(claims.sub)
    .bind(claims.jti)
    .bind(claims.iat)
    .bind(Uuid::now_v7())
    .bind(state.tokens.refresh_ttl_secs as f64)
    .bind(GRACE.as_secs_f64())
    .fetch_optional(&state.db)
    .await?;
    let Some(found) = found else {
        return Err(ApiError::unauthorized());
    };
    match found.verdict {
        Verdict::Rotated | Verdict::Grace => {}
        Verdict::Suspended => return Err(ApiError::code(ErrorCode::AccountSuspended)),
        Verdict::Refused => return Err(ApiError::unauthorized()),
        Verdict::Reused => {
            set_gates(state, &[(claims.sid, Gate::Revoked)]).await;
            tracing::warn!(session_id = %claims.sid, "refresh token reuse: session revoked");
            return Err(ApiError::code(ErrorCode::TokenReused));
        }
    }
    let iat = Utc::now().timestamp().max(found.tokens_valid_after);
    issue(
        state,
        claims.sub,
        found.role,
        claims.sid,
        found.refresh_jti,
        iat,
    )
}

/// New tokens for an existing session with its current refresh token id (after a password
/// change, which rotated it, the caller's own session continues).
pub async fn reissue(
    state: &AppState,
    db: &mut PgConnection,
    user_id: Uuid,
    role: Role,
    session_id: Uuid,
) -> Result<Tokens, ApiError> {
    let refresh_jti: Uuid = sqlx::query_scalar(
        "SELECT refresh_jti FROM sessions WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
    )
    .bind(session_id)
    .bind(user_id)
    .fetch_optional(&mut *db)
    .await?
    .ok_or_else(ApiError::unauthorized)?;
    let iat = issued_at(db, user_id).await?;
    issue(state, user_id, role, session_id, refresh_jti, iat)
}
