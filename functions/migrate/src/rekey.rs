//! Moves stored values to the sealing key (after a rotation) and seals those written before
//! encryption, in short batches while the service runs.
//!
//! Each batch is one transaction over at most `batch` rows taken in id order and locked (a
//! writer of the same row waits for a few milliseconds, or the batch waits for it); values
//! already under the sealing key are never selected, so the job is idempotent and a run cut
//! short resumes by running again. Rewriting ciphertext changes no value, so it is the one
//! writer of these columns besides their owners (docs/decisions.md, "Privacy").

use std::time::{Duration, Instant};

use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use shared::sealing::{Column, Keyring, columns};

/// What one column's run did.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Report {
    pub column: &'static str,
    /// Values now under the sealing key.
    pub resealed: u64,
    /// Values no key opens (logged by id): left as they are.
    pub unreadable: u64,
    /// False when the time budget ran out first (run again to go on).
    pub finished: bool,
}

/// A sealed column: its name (what values are bound to, as its owner declares it), the rows
/// after `$1` whose value does not start with `$2` (at most `$3`, locked, with their owner),
/// and the rewrite of values by id.
struct Sealed {
    column: Column,
    pending: &'static str,
    rewrite: &'static str,
}

const SEALED: [Sealed; 3] = [
    Sealed {
        column: columns::EMOTION_NOTE,
        pending: "SELECT id, user_id, note FROM emotion_logs
                  WHERE id > $1 AND note IS NOT NULL AND substring(note FROM 1 FOR 3) <> $2
                  ORDER BY id LIMIT $3 FOR UPDATE",
        rewrite: "UPDATE emotion_logs t SET note = v.value
                  FROM unnest($1::uuid[], $2::bytea[]) AS v(id, value) WHERE t.id = v.id",
    },
    Sealed {
        column: columns::CONVERSATION_TITLE,
        pending: "SELECT id, user_id, title FROM conversations
                  WHERE id > $1 AND substring(title FROM 1 FOR 3) <> $2
                  ORDER BY id LIMIT $3 FOR UPDATE",
        rewrite: "UPDATE conversations t SET title = v.value
                  FROM unnest($1::uuid[], $2::bytea[]) AS v(id, value) WHERE t.id = v.id",
    },
    Sealed {
        column: columns::CHAT_MESSAGE,
        pending: "SELECT m.id, c.user_id, m.content
                  FROM chat_messages m JOIN conversations c ON c.id = m.conversation_id
                  WHERE m.id > $1 AND substring(m.content FROM 1 FOR 3) <> $2
                  ORDER BY m.id LIMIT $3 FOR UPDATE OF m",
        rewrite: "UPDATE chat_messages t SET content = v.value
                  FROM unnest($1::uuid[], $2::bytea[]) AS v(id, value) WHERE t.id = v.id",
    },
];

/// What a run did.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Run {
    pub sealing_key: u16,
    /// Every column done (otherwise the budget ran out: run again to go on).
    pub finished: bool,
    /// The columns reached, in order.
    pub columns: Vec<Report>,
}

/// Every sealed column moved to the sealing key, `batch` rows per transaction, until done
/// or `budget` is spent.
pub async fn run(
    db: &PgPool,
    keys: &Keyring,
    batch: u32,
    budget: Duration,
) -> Result<Run, sqlx::Error> {
    let started = Instant::now();
    let mut columns = Vec::new();
    for sealed in &SEALED {
        let report = column_run(db, keys, sealed, batch, || started.elapsed() >= budget).await?;
        let stop = !report.finished;
        columns.push(report);
        if stop {
            break;
        }
    }
    Ok(Run {
        sealing_key: keys.sealing_id(),
        finished: columns.len() == SEALED.len() && columns.iter().all(|c| c.finished),
        columns,
    })
}

async fn column_run(
    db: &PgPool,
    keys: &Keyring,
    sealed: &Sealed,
    batch: u32,
    spent: impl Fn() -> bool,
) -> Result<Report, sqlx::Error> {
    let prefix = keys.current_prefix();
    let mut report = Report {
        column: sealed.column.0,
        resealed: 0,
        unreadable: 0,
        finished: false,
    };
    let mut after = Uuid::nil();
    loop {
        if spent() {
            return Ok(report);
        }
        let mut tx = db.begin().await?;
        let rows: Vec<(Uuid, Uuid, Vec<u8>)> = sqlx::query_as(sealed.pending)
            .bind(after)
            .bind(&prefix[..])
            .bind(i64::from(batch))
            .fetch_all(&mut *tx)
            .await?;
        let Some(last) = rows.last() else {
            report.finished = true;
            return Ok(report);
        };
        after = last.0;
        let mut ids = Vec::with_capacity(rows.len());
        let mut values = Vec::with_capacity(rows.len());
        for (id, owner, stored) in &rows {
            match keys.open(sealed.column, *owner, stored) {
                Ok(text) => {
                    ids.push(*id);
                    values.push(keys.seal(sealed.column, *owner, &text));
                }
                Err(e) => {
                    tracing::error!(column = sealed.column.0, %id, error = %e, "a stored value does not open");
                    report.unreadable += 1;
                }
            }
        }
        sqlx::query(sealed.rewrite)
            .bind(&ids)
            .bind(&values)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        report.resealed += ids.len() as u64;
    }
}
