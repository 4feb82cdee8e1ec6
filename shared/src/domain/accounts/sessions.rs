//! Sessions: one per login, holding the id of its one valid refresh token.
//!
//! Refresh tokens rotate and are single-use. Presenting the token just rotated out within
//! [`GRACE`] is a client's concurrent refresh and succeeds; presenting an older one, or that
//! one later, is reuse: the whole session is revoked (401 TOKEN_REUSED).
//!
//! Access tokens are checked on every request with one cache lookup of their session's gate
//! (`revoked`, `suspended`, or `open` with the user's `tokens_valid_after`). A miss reads the
//! database and fills the cache only if nothing was written meanwhile (SET NX), while every
//! revocation overwrites the gate after its commit: a stale "open" can never win. Instances
//! keep in-process copies of the gates they read and drop them when a change is announced
//! (`Cache::get_near`), so most requests check their gate without a round trip.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{AccessClaims, RefreshClaims, Role, TokenKind};
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// How long the refresh token just rotated out stays acceptable (same client, racing).
pub const GRACE: Duration = Duration::from_secs(10);
/// How long an "open" gate read from the database is trusted.
const OPEN_TTL: Duration = Duration::from_secs(300);

/// `tokens` of the API.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

/// `{tokens}`: what refresh and a password change answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokensPayload {
    pub tokens: Tokens,
}

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
        set_gates(state, &[(claims.sid, Gate::Revoked)]).await?;
        tracing::warn!(session_id = %claims.sid, "refresh token reuse: session revoked");
        return Err(ApiError::code(ErrorCode::TokenReused));
    };
    super::touch(&mut tx, claims.sub).await?;
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

/// Revokes one session of `user_id` (logout). Revoking an already revoked one is fine.
pub async fn revoke(
    state: &AppState,
    user_id: Uuid,
    session_id: Uuid,
    reason: &str,
) -> Result<(), ApiError> {
    sqlx::query(
        "UPDATE sessions SET revoked_at = now(), revoked_reason = $3
         WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
    )
    .bind(session_id)
    .bind(user_id)
    .bind(reason)
    .execute(&state.db)
    .await?;
    set_gates(state, &[(session_id, Gate::Revoked)]).await
}

/// Gives `session_id` a new refresh token id, so that the refresh tokens issued before (and
/// the one just rotated out) are refused.
pub(super) async fn rotate_refresh(
    db: &mut PgConnection,
    session_id: Uuid,
) -> Result<(), ApiError> {
    sqlx::query(
        "UPDATE sessions SET refresh_jti = $2, previous_jti = NULL, rotated_at = NULL WHERE id = $1",
    )
    .bind(session_id)
    .bind(Uuid::now_v7())
    .execute(db)
    .await?;
    Ok(())
}

/// Revokes every live session of `user_id` but `except`, inside the caller's transaction;
/// their gates close when the returned [`super::Revocation`] is announced.
pub(super) async fn revoke_all(
    db: &mut PgConnection,
    user_id: Uuid,
    except: Option<Uuid>,
    reason: &str,
) -> Result<Vec<Uuid>, ApiError> {
    Ok(sqlx::query_scalar(
        "UPDATE sessions SET revoked_at = now(), revoked_reason = $3
         WHERE user_id = $1 AND revoked_at IS NULL AND id IS DISTINCT FROM $2
         RETURNING id",
    )
    .bind(user_id)
    .bind(except)
    .bind(reason)
    .fetch_all(db)
    .await?)
}

/// The gate of a session, as cached: closed, or open to access tokens issued at or after
/// `valid_after` that carry the account's current `role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Gate {
    Revoked,
    Suspended,
    Open { valid_after: i64, role: Role },
}

impl Gate {
    fn encode(self) -> String {
        match self {
            Self::Revoked => "revoked".into(),
            Self::Suspended => "suspended".into(),
            Self::Open { valid_after, role } => format!("open:{valid_after}:{}", role_name(role)),
        }
    }

    /// `None` for anything else (also a gate in an older format): the database decides.
    fn decode(value: &str) -> Option<Self> {
        match value {
            "revoked" => Some(Self::Revoked),
            "suspended" => Some(Self::Suspended),
            _ => {
                let (valid_after, role) = value.strip_prefix("open:")?.split_once(':')?;
                let role = match role {
                    "user" => Role::User,
                    "admin" => Role::Admin,
                    _ => return None,
                };
                let valid_after = valid_after.parse().ok()?;
                Some(Self::Open { valid_after, role })
            }
        }
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::User => "user",
        Role::Admin => "admin",
    }
}

pub fn gate_key(session_id: Uuid) -> String {
    format!("sess:{session_id}")
}

/// Long enough that every access token of a closed session has expired by then; after that a
/// cache miss reads the (closed) session from the database anyway.
fn closed_ttl(state: &AppState) -> Duration {
    Duration::from_secs(state.tokens.access_ttl_secs as u64 + 60)
}

/// Overwrites the gates of `sessions` (after the database says so).
pub(super) async fn set_gates(state: &AppState, gates: &[(Uuid, Gate)]) -> Result<(), ApiError> {
    for (id, gate) in gates {
        state
            .cache
            .set_announced(&gate_key(*id), &gate.encode(), closed_ttl(state))
            .await?;
    }
    Ok(())
}

/// Whether an access token may be used now: one cache lookup, the database on a miss.
pub async fn check_access(state: &AppState, claims: &AccessClaims) -> Result<(), ApiError> {
    let cached = state.cache.get_near(&gate_key(claims.sid)).await?;
    let gate = match cached.as_deref().and_then(Gate::decode) {
        Some(gate) => gate,
        None => {
            let gate = load_gate(state, claims).await?;
            let ttl = if matches!(gate, Gate::Open { .. }) {
                OPEN_TTL
            } else {
                closed_ttl(state)
            };
            state
                .cache
                .set_nx(&gate_key(claims.sid), &gate.encode(), ttl)
                .await?;
            gate
        }
    };
    match gate {
        Gate::Revoked => Err(ApiError::unauthorized()),
        Gate::Suspended => Err(ApiError::code(ErrorCode::AccountSuspended)),
        Gate::Open { valid_after, .. } if claims.iat < valid_after => Err(ApiError::unauthorized()),
        // Issued before a role change: refused, so that the client refreshes and gets the
        // new role (a demotion takes effect at once, not when the token expires).
        Gate::Open { role, .. } if role != claims.role => Err(ApiError::unauthorized()),
        Gate::Open { .. } => Ok(()),
    }
}

async fn load_gate(state: &AppState, claims: &AccessClaims) -> Result<Gate, ApiError> {
    let row: Option<(bool, bool, i64, Role)> = sqlx::query_as(
        "SELECT s.revoked_at IS NOT NULL OR s.expires_at <= now(),
                u.status = 'suspended' AND (u.suspended_until IS NULL OR u.suspended_until > now()),
                u.tokens_valid_after, u.role
         FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id = $1 AND s.user_id = $2",
    )
    .bind(claims.sid)
    .bind(claims.sub)
    .fetch_optional(&state.db)
    .await?;
    Ok(match row {
        None => Gate::Revoked,
        Some((_, true, _, _)) => Gate::Suspended,
        Some((true, false, _, _)) => Gate::Revoked,
        Some((false, false, valid_after, role)) => Gate::Open { valid_after, role },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gates_round_trip() {
        for gate in [
            Gate::Revoked,
            Gate::Suspended,
            Gate::Open {
                valid_after: 1_700_000_000,
                role: Role::User,
            },
            Gate::Open {
                valid_after: 0,
                role: Role::Admin,
            },
        ] {
            assert_eq!(Gate::decode(&gate.encode()), Some(gate));
        }
        for unknown in ["open:x:user", "open:1:root", "open:1", "open:", ""] {
            assert_eq!(Gate::decode(unknown), None, "{unknown}");
        }
    }
}
