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

use serde::Serialize;
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::{AccessClaims, Role};
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

#[cfg(feature = "signing")]
mod tokens;
#[cfg(feature = "signing")]
pub use tokens::{refresh, reissue, start};

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
    set_gates(state, &[(session_id, Gate::Revoked)]).await;
    Ok(())
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

/// Overwrites the gates of `sessions` (after the database says so). While Redis fails
/// nothing is written, and nothing needs to be: gates are then read from the database, and
/// the ones Redis kept are never read again (`cache::outage`).
pub(super) async fn set_gates(state: &AppState, gates: &[(Uuid, Gate)]) {
    for (id, gate) in gates {
        state
            .cache
            .set_announced(&gate_key(*id), &gate.encode(), closed_ttl(state))
            .await;
    }
}

/// Whether an access token may be used now: one cache lookup, the database on a miss (and
/// on every check while Redis fails).
pub async fn check_access(state: &AppState, claims: &AccessClaims) -> Result<(), ApiError> {
    let cached = state.cache.get_near(&gate_key(claims.sid)).await;
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
                .await;
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
