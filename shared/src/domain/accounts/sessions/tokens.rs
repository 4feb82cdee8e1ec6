//! Making tokens: a session's start, refresh with rotation and reuse detection, and new
//! tokens after a password change. Only functions built with `signing` (auth and users)
//! hold the keys, so only they compile this.

use chrono::{DateTime, Utc};
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

#[derive(FromRow)]
struct SessionState {
    refresh_jti: Uuid,
    previous_jti: Option<Uuid>,
    rotated_at: Option<DateTime<Utc>>,
    revoked: bool,
    expired: bool,
    role: Role,
    suspended: bool,
    tokens_valid_after: i64,
}

/// `POST /auth/refresh`: rotates the session's refresh token.
pub async fn refresh(state: &AppState, refresh_token: &str) -> Result<Tokens, ApiError> {
    let claims: RefreshClaims = state
        .tokens
        .verify(TokenKind::Refresh, refresh_token)
        .map_err(|_| ApiError::unauthorized())?;
    let mut tx = state.db.begin().await?;
    let session: Option<SessionState> = sqlx::query_as(
        "SELECT s.refresh_jti, s.previous_jti, s.rotated_at, s.revoked_at IS NOT NULL AS revoked,
                s.expires_at <= now() AS expired, u.role,
                (u.status = 'suspended' AND (u.suspended_until IS NULL OR u.suspended_until > now())) AS suspended,
                u.tokens_valid_after
         FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id = $1 AND s.user_id = $2
         FOR UPDATE OF s FOR SHARE OF u",
    )
    .bind(claims.sid)
    .bind(claims.sub)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(session) = session else {
        return Err(ApiError::unauthorized());
    };
    if session.suspended {
        return Err(ApiError::code(ErrorCode::AccountSuspended));
    }
    // Issued before a password change: refused, without touching the session (its owner
    // holds the refresh token the change answered with).
    if session.revoked || session.expired || claims.iat < session.tokens_valid_after {
        return Err(ApiError::unauthorized());
    }
    let within_grace = session
        .rotated_at
        .is_some_and(|at| (Utc::now() - at).num_milliseconds() <= GRACE.as_millis() as i64);
    let current_jti = if claims.jti == session.refresh_jti {
        let next = Uuid::now_v7();
        sqlx::query(
            "UPDATE sessions SET refresh_jti = $2, previous_jti = refresh_jti, rotated_at = now(),
                    last_used_at = now(), expires_at = now() + make_interval(secs => $3)
             WHERE id = $1",
        )
        .bind(claims.sid)
        .bind(next)
        .bind(state.tokens.refresh_ttl_secs as f64)
        .execute(&mut *tx)
        .await?;
        next
    } else if Some(claims.jti) == session.previous_jti && within_grace {
        // The same client refreshing twice at once: both get the current generation.
        session.refresh_jti
    } else {
        sqlx::query(
            "UPDATE sessions SET revoked_at = now(), revoked_reason = 'reuse' WHERE id = $1",
        )
        .bind(claims.sid)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        set_gates(state, &[(claims.sid, Gate::Revoked)]).await;
        tracing::warn!(session_id = %claims.sid, "refresh token reuse: session revoked");
        return Err(ApiError::code(ErrorCode::TokenReused));
    };
    crate::domain::accounts::touch(&mut tx, claims.sub).await?;
    let iat = issued_at(&mut tx, claims.sub).await?;
    tx.commit().await?;
    issue(
        state,
        claims.sub,
        session.role,
        claims.sid,
        current_jti,
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
