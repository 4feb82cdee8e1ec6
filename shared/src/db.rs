//! The PostgreSQL pool and the mapping of database errors to API errors.

use std::str::FromStr;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::error::ErrorKind;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::config::{ConfigError, DatabaseSettings};
use crate::error::{ApiError, ErrorCode};

/// The migrations of `migrations/`, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// A pooled connection idle for longer than this is pinged before use.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// A lazily connecting pool: `DATABASE_POOL_SIZE` connections kept, up to
/// `DATABASE_MAX_OVERFLOW` more under load, and an acquire timeout so that a dead database
/// answers 503 quickly instead of hanging.
pub fn pool(settings: &DatabaseSettings) -> Result<PgPool, ConfigError> {
    let options = PgConnectOptions::from_str(settings.url.expose())
        .map_err(|_| ConfigError::new("DATABASE_URL", "is not a valid PostgreSQL URL"))?
        .application_name("mindpause");
    Ok(PgPoolOptions::new()
        .min_connections(0)
        .max_connections(settings.pool_size + settings.max_overflow)
        .acquire_timeout(settings.acquire_timeout)
        .idle_timeout(Some(Duration::from_secs(300)))
        // sqlx pings every connection it hands out by default: a second round trip for
        // every query. Only a connection that sat idle a while (a database restart, a
        // proxy's idle cut, an instance thawed after CPU throttling) is checked first.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for > PING_AFTER_IDLE {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
        .connect_lazy_with(options))
}

/// Unique violations whose constraint name says what the client did wrong.
const CONSTRAINT_CODES: &[(&str, ErrorCode)] = &[
    ("users_email_key", ErrorCode::EmailTaken),
    ("users_nickname_key", ErrorCode::NicknameTaken),
];

pub fn map_error(e: sqlx::Error) -> ApiError {
    match &e {
        sqlx::Error::RowNotFound => ApiError::not_found(),
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => ApiError::Unavailable(e.to_string()),
        sqlx::Error::Database(db) => {
            let by_name = db
                .constraint()
                .and_then(|name| CONSTRAINT_CODES.iter().find(|(n, _)| *n == name));
            match (by_name, db.kind()) {
                (Some((_, code)), _) => ApiError::code(*code),
                (None, ErrorKind::UniqueViolation) => ApiError::conflict(),
                (None, ErrorKind::ForeignKeyViolation) => ApiError::conflict(),
                (None, ErrorKind::CheckViolation) => {
                    tracing::warn!(constraint = ?db.constraint(), "check violation reached the database");
                    ApiError::code(ErrorCode::ValidationError)
                }
                // 57P01 admin shutdown, 53300 too many connections, 08xxx connection failures.
                _ if db
                    .code()
                    .is_some_and(|c| c.starts_with("08") || c == "57P01" || c == "53300") =>
                {
                    ApiError::Unavailable(e.to_string())
                }
                _ => ApiError::internal(e),
            }
        }
        _ => ApiError::internal(e),
    }
}

/// A bounded readiness probe.
pub async fn ping(pool: &PgPool) -> Result<(), String> {
    let probe = sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(pool);
    match tokio::time::timeout(Duration::from_secs(2), probe).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timed out".into()),
    }
}
