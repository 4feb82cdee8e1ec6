//! The PostgreSQL pool and the mapping of database errors to API errors. Constraint names
//! belong to the tables' owners: they map their own with [`Constraints::on_constraints`].

use std::str::FromStr;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::error::ErrorKind;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::config::{ConfigError, DatabaseSettings};
use crate::error::{ApiError, ErrorCode};

/// The migrations of `migrations/`, embedded in the binary.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Lets each function's database role (created NOLOGIN by the migrations) log in with its
/// password from `passwords` (`{"<function>": "<password>"}`): the migrate job runs this
/// after migrating. The password travels as a bound setting, so no statement text (which
/// sqlx and PostgreSQL may log) holds it. Returns the roles enabled.
pub async fn enable_function_logins(db: &PgPool, passwords: &str) -> Result<Vec<String>, String> {
    let passwords: std::collections::BTreeMap<String, String> = serde_json::from_str(passwords)
        .map_err(|_| "FUNCTION_DATABASE_PASSWORDS: expected a JSON object of strings".to_owned())?;
    let mut enabled = Vec::new();
    for (function, password) in passwords {
        let role = crate::functions::all()
            .iter()
            .find(|f| f.name == function)
            .and_then(crate::functions::FunctionSpec::database_role)
            .ok_or_else(|| {
                format!("FUNCTION_DATABASE_PASSWORDS: {function} has no database role")
            })?;
        if password.len() < 32 {
            return Err(format!(
                "FUNCTION_DATABASE_PASSWORDS: {function}'s password is too short"
            ));
        }
        let failed = |e: sqlx::Error| format!("{role}: {}", crate::error::ErrorChain(&e));
        let mut tx = db.begin().await.map_err(failed)?;
        sqlx::query("SELECT set_config('mindpause.role_password', $1, true)")
            .bind(&password)
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
        // `role` comes from the function table ([a-z_]), not from the input.
        let alter = format!(
            "DO $$ BEGIN EXECUTE format('ALTER ROLE %I WITH LOGIN PASSWORD %L', '{role}', \
             current_setting('mindpause.role_password')); END $$"
        );
        sqlx::query(sqlx::AssertSqlSafe(alter))
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
        tx.commit().await.map_err(failed)?;
        enabled.push(role);
    }
    Ok(enabled)
}

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

/// Database errors as API errors: a lost database is 503 (`functions/local/tests/drills.rs`), a unique or foreign-key violation
/// 409 CONFLICT (unless its owner named a better code), a check violation 422; the rest 500.
impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        let unavailable = match &e {
            sqlx::Error::RowNotFound => return ApiError::not_found(),
            // A connection closed as it opens (a proxy in front of a restarting database,
            // as the Cloud SQL connector is) reads as a protocol error: unavailable too.
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_) => true,
            sqlx::Error::Database(db) => match db.kind() {
                ErrorKind::UniqueViolation | ErrorKind::ForeignKeyViolation => {
                    return ApiError::conflict();
                }
                ErrorKind::CheckViolation => {
                    tracing::warn!(constraint = ?db.constraint(), "check violation reached the database");
                    return ApiError::code(ErrorCode::ValidationError);
                }
                // Text with NUL (22021) or a value out of PostgreSQL's range (22008) that
                // validation let through: the client's value, not the server's fault.
                _ if db.code().is_some_and(|c| matches!(&*c, "22021" | "22008")) => {
                    tracing::warn!(code = ?db.code(), "a value the database cannot take reached it");
                    return ApiError::bad_request("a value the database cannot store");
                }
                // 57P01-03 shutting down, crashed or starting up (a restart), 53300 too many
                // connections, 08xxx connection failures.
                _ => db.code().is_some_and(|c| {
                    c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03" | "53300")
                }),
            },
            _ => false,
        };
        if unavailable {
            ApiError::unavailable(e)
        } else {
            ApiError::internal(e)
        }
    }
}

/// The owner of a table says what a violation of one of its constraints means for the client
/// (realworld-axum-sqlx's `on_constraint`):
///
/// ```ignore
/// .fetch_one(&mut *tx).await.on_constraints(&[("users_email_key", ErrorCode::EmailTaken)])?
/// ```
pub trait Constraints<T> {
    fn on_constraints(self, codes: &[(&str, ErrorCode)]) -> Result<T, ApiError>;
}

impl<T> Constraints<T> for Result<T, sqlx::Error> {
    fn on_constraints(self, codes: &[(&str, ErrorCode)]) -> Result<T, ApiError> {
        self.map_err(|e| {
            let named = e
                .as_database_error()
                .and_then(|db| db.constraint())
                .and_then(|name| codes.iter().find(|(n, _)| *n == name));
            match named {
                Some((_, code)) => ApiError::code(*code),
                None => e.into(),
            }
        })
    }
}

/// Rows that expire by a timestamp: a table, its primary key's columns and the column that
/// says when a row's time is up (retention, `notification-purge`).
pub struct Expiring {
    pub table: &'static str,
    pub key: &'static [&'static str],
    pub at: &'static str,
}

/// Deletes at most `batch` rows of `what` whose time is in `[from, before)` (from the oldest
/// when `from` is `None`), oldest first, in one short statement of its own. Returns how many,
/// and the newest time deleted: the next batch starts there, so it does not wade through the
/// index entries this one left dead. A row another purge deleted meanwhile is not counted.
pub async fn delete_oldest(
    db: &PgPool,
    what: &Expiring,
    from: Option<chrono::DateTime<chrono::Utc>>,
    before: chrono::DateTime<chrono::Utc>,
    batch: i64,
) -> Result<(u64, Option<chrono::DateTime<chrono::Utc>>), sqlx::Error> {
    let Expiring { table, key, at } = what;
    let columns = key.join(", ");
    let matches = key
        .iter()
        .map(|k| format!("t.{k} = d.{k}"))
        .collect::<Vec<_>>()
        .join(" AND ");
    let (deleted, last): (i64, Option<chrono::DateTime<chrono::Utc>>) =
        sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "WITH doomed AS (
                 SELECT {columns}, {at} AS at FROM {table}
                 WHERE {at} >= COALESCE($1, '-infinity') AND {at} < $2
                 ORDER BY {at} LIMIT $3
             ), gone AS (
                 DELETE FROM {table} t USING doomed d WHERE {matches} RETURNING d.at
             )
             SELECT count(*), max(at) FROM gone"
        )))
        .bind(from)
        .bind(before)
        .bind(batch)
        .fetch_one(db)
        .await?;
    Ok((deleted as u64, last))
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
