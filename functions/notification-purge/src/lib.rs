//! The purge worker: on each `notification-purge` event (Cloud Scheduler, daily) deletes
//! notifications older than `older_than_days` and idempotency records older than Pub/Sub's
//! 7-day redelivery window, in short batches, oldest first, so that a table of millions is
//! never locked for long and replication and vacuum keep up.

use std::time::{Duration, Instant};

use axum::Router;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared::AppState;
use shared::config::ConfigError;
use shared::domain::notifications;
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
    pub statements: u64,
    pub longest_statement_ms: u64,
    /// False when the budget ran out first (the next run goes on).
    pub finished: bool,
}

/// Deletes, in batches, what is older than `older_than_days` (notifications) and 7 days
/// (records), for at most `budget`.
pub async fn purge(
    db: &PgPool,
    older_than_days: u32,
    budget: Duration,
) -> Result<Report, sqlx::Error> {
    let started = Instant::now();
    let now = Utc::now();
    let mut report = Report::default();
    let notifications_before = now - chrono::Duration::days(i64::from(older_than_days));
    let (deleted, notifications_done) = batches(&mut report, started, budget, |from| {
        notifications::purge(db, from, notifications_before, BATCH)
    })
    .await?;
    report.notifications = deleted;
    let records_before = now - chrono::Duration::days(RECORDS_KEPT_DAYS);
    let (deleted, records_done) = batches(&mut report, started, budget, |from| {
        worker::purge_records(db, from, records_before, BATCH)
    })
    .await?;
    report.records = deleted;
    report.finished = notifications_done && records_done;
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
