//! While Redis fails, this instance runs on its own: reads miss, writes are skipped, and
//! throttles and rate limits count in-process ([`Outage::fallback`], so a limit holds per
//! instance); session gates are then read from PostgreSQL by their callers. Redis is not
//! touched again until a background probe, every [`PROBE_EVERY`], gets an answer.
//!
//! Values Redis kept through the outage may be stale (a session revoked, a journal written
//! meanwhile, and the writes that would have said so skipped). So the probe's answer is to
//! move the cache's *generation* on — an announced counter that every key carries — before
//! this instance uses Redis again: nothing written before is ever read again. Every instance
//! that saw the outage moves it on. (An instance that never lost Redis while another did
//! reads the old generation until the other is back: such a partial outage is bounded by
//! its length.)

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use fred::prelude::KeysInterface;

use super::{MemoryStore, Redis, near};

/// The counter every key is prefixed with (no TTL: never evicted).
pub(super) const GENERATION: &str = "cache:generation";
/// How often a failing Redis is tried again.
const PROBE_EVERY: Duration = Duration::from_millis(500);

#[derive(Default)]
pub(super) struct Outage {
    down: AtomicBool,
    /// Where throttles and rate limits are counted meanwhile.
    pub(super) fallback: MemoryStore,
}

impl Outage {
    pub(super) fn is_down(&self) -> bool {
        self.down.load(Ordering::Acquire)
    }
}

/// A Redis call failed: run alone until the probe gets through.
pub(super) fn failed(redis: &Arc<Redis>, error: &fred::error::Error) {
    if redis.outage.down.swap(true, Ordering::AcqRel) {
        return;
    }
    tracing::error!(
        error = %crate::error::ErrorChain(error),
        "Redis failed: this instance runs alone (limits per instance, no shared cache, \
         session gates from the database) until it answers again"
    );
    tokio::spawn(probe(redis.clone()));
}

async fn probe(redis: Arc<Redis>) {
    loop {
        tokio::time::sleep(PROBE_EVERY).await;
        let Ok(generation) = redis.client.incr::<u64, _>(GENERATION).await else {
            continue;
        };
        redis.near.changed(GENERATION);
        if near::announce(&redis.client, GENERATION).await.is_err() {
            continue;
        }
        redis.outage.down.store(false, Ordering::Release);
        tracing::info!(generation, "Redis answers again: a new cache generation");
        return;
    }
}
