//! The purge worker: on each `notification-purge` event (Cloud Scheduler, daily) deletes what
//! the service keeps no longer (docs/privacy.md): notifications older than
//! `older_than_days`, idempotency records older than Pub/Sub's 7-day redelivery window,
//! sessions a week after they expired, single-use tokens a day after, and community posts and
//! comments 30 days after their removal — in short batches, oldest first, so that a table of
//! millions is never locked for long and replication and vacuum keep up.

use std::time::{Duration, Instant};

use axum::Router;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared::AppState;
use shared::config::ConfigError;
use shared::db::{self, Expiring};
use shared::domain::{accounts, community, notifications};
use shared::worker::{self, PushMessage, WorkError, Worker};
use sqlx::PgPool;

/// Rows one statement deletes: about 50 ms of work, so no statement holds anything long.
const BATCH: i64 = 5_000;
/// How long one run may delete (the worker's request timeout is longer); what is left
/// waits for the next run.
const BUDGET: Duration = Duration::from_secs(480);
/// A breath between statements, so that the requests waiting for the same cores and disks
/// get through (a few percent of the purge's time).
const PAUSE: Duration = Duration::from_millis(5);
/// Pub/Sub redelivers a message for at most 7 days: older idempotency records are useless.
const RECORDS_KEPT_DAYS: i64 = 7;
/// An expired session's row answers "revoked" like a missing one; a week helps support.
const SESSIONS_KEPT_DAYS: i64 = 7;
/// Single-use tokens live a day at most; one more for a late click to say "expired".
const TOKENS_KEPT_DAYS: i64 = 1;
/// Removed community writing is kept for appeals and reports, then goes for good.
const REMOVED_KEPT_DAYS: i64 = 30;

/// The event: `{"version": 1, "older_than_days": 30}`.
#[derive(Debug, Deserialize)]
pub struct PurgeRequest {
    pub older_than_days: u32,
}

/// What a run removed, logged and printed.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Report {
    pub notifications: u64,
    pub records: u64,
    pub sessions: u64,
    pub one_time_tokens: u64,
    pub posts: u64,
    pub comments: u64,
    pub statements: u64,
    pub longest_statement_ms: u64,
    /// False when the budget ran out first (the next run goes on).
    pub finished: bool,
}

/// Deletes, in batches, what is kept no longer — notifications older than `older_than_days`,
/// the rest by its own rule — for at most `budget`.
pub async fn purge(
    db: &PgPool,
    older_than_days: u32,
    budget: Duration,
) -> Result<Report, sqlx::Error> {
    let started = Instant::now();
    let now = Utc::now();
    let days = chrono::Duration::days;
    let plan: [(&Expiring, i64); 6] = [
        (&notifications::BY_AGE, i64::from(older_than_days)),
        (&worker::RECORDS_BY_AGE, RECORDS_KEPT_DAYS),
        (&accounts::EXPIRED_SESSIONS, SESSIONS_KEPT_DAYS),
        (&accounts::EXPIRED_ONE_TIME_TOKENS, TOKENS_KEPT_DAYS),
        (&community::REMOVED_POSTS, REMOVED_KEPT_DAYS),
        (&community::REMOVED_COMMENTS, REMOVED_KEPT_DAYS),
    ];
    let mut report = Report::default();
    let mut deleted = [0; 6];
    let mut finished = true;
    for ((what, kept), deleted) in plan.iter().zip(&mut deleted) {
        let before = now - days(*kept);
        let (n, done) = batches(&mut report, started, budget, |from| {
            db::delete_oldest(db, what, from, before, BATCH)
        })
        .await?;
        *deleted = n;
        finished &= done;
    }
    [
        report.notifications,
        report.records,
        report.sessions,
        report.one_time_tokens,
        report.posts,
        report.comments,
    ] = deleted;
    report.finished = finished;
    Ok(report)
}

/// Runs `batch` from the oldest row on, each batch starting where the last one ended, until
/// a batch comes back short (done) or the budget is spent; the rows deleted, and whether
/// it was done.
async fn batches<F, Fut>(
    report: &mut Report,
    started: Instant,
    budget: Duration,
    mut batch: F,
) -> Result<(u64, bool), sqlx::Error>
where
    F: FnMut(Option<DateTime<Utc>>) -> Fut,
    Fut: Future<Output = Result<(u64, Option<DateTime<Utc>>), sqlx::Error>>,
{
    let mut from = None;
    let mut deleted = 0;
    while started.elapsed() < budget {
        let statement = Instant::now();
        let (n, last) = batch(from).await?;
        report.statements += 1;
        report.longest_statement_ms = report
            .longest_statement_ms
            .max(statement.elapsed().as_millis() as u64);
        deleted += n;
        match last {
            Some(last) if n as i64 == BATCH => from = Some(last),
            _ => return Ok((deleted, true)),
        }
        tokio::time::sleep(PAUSE).await;
    }
    Ok((deleted, false))
}

#[derive(Clone)]
pub struct Purge;

impl Worker for Purge {
    type Payload = PurgeRequest;
    const NAME: &'static str = "notification-purge";

    async fn handle(
        &self,
        state: &AppState,
        _message: &PushMessage,
        request: PurgeRequest,
    ) -> Result<(), WorkError> {
        if !(1..=3650).contains(&request.older_than_days) {
            return Err(WorkError::permanent(format!(
                "older_than_days must be 1..=3650, not {}",
                request.older_than_days
            )));
        }
        let report = purge(&state.db, request.older_than_days, BUDGET).await?;
        tracing::info!(
            notifications = report.notifications,
            records = report.records,
            sessions = report.sessions,
            one_time_tokens = report.one_time_tokens,
            posts = report.posts,
            comments = report.comments,
            statements = report.statements,
            longest_statement_ms = report.longest_statement_ms,
            finished = report.finished,
            "purged"
        );
        Ok(())
    }
}

pub fn routes(state: &AppState) -> Result<Router<AppState>, ConfigError> {
    Ok(worker::route(
        &state.settings.pubsub.topic_notification_purge,
        Purge,
    ))
}

/// `--once [--older-than-days N]`: one purge from the command line, as the schema's owner or
/// the worker's role (`DATABASE_URL`); prints the report as JSON. The exit code.
pub async fn once(args: &[String]) -> i32 {
    let older_than_days = match args {
        [] => 30,
        [flag, days] if flag == "--older-than-days" => match days.parse() {
            Ok(days) if days >= 1 => days,
            _ => {
                eprintln!("--older-than-days: a whole number of days, at least 1");
                return 64;
            }
        },
        _ => {
            eprintln!("usage: notification-purge --once [--older-than-days N]");
            return 64;
        }
    };
    let settings = shared::config::Settings::from_env_or_exit(shared::functions::Kind::Job);
    shared::telemetry::init(&settings);
    let db = match shared::db::pool(&settings.database) {
        Ok(db) => db,
        Err(e) => {
            eprintln!("{e}");
            return 78;
        }
    };
    match purge(&db, older_than_days, Duration::MAX).await {
        Ok(report) => {
            println!("{}", serde_json::to_string(&report).unwrap_or_default());
            0
        }
        Err(e) => {
            eprintln!("purge failed: {}", shared::error::ErrorChain(&e));
            1
        }
    }
}
