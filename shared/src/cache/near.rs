//! In-process copies of a few hot Redis values (session gates), kept only while this
//! instance hears every change: writers publish the key on [`CHANNEL`] after writing it, and
//! a subscriber connection drops the copy. While that connection is down, or until it has
//! subscribed again, no copy is used or kept; any copy expires after [`COPY_TTL`] anyway.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fred::prelude::{ClientLike, EventInterface, HeartbeatInterface, PubsubInterface};
use tokio::sync::broadcast::error::RecvError;

/// Where writers announce the keys they changed.
pub(super) const CHANNEL: &str = "near:changed";
/// The longest a copy is used: what a change could lag if a lost subscriber connection went
/// unnoticed (the heartbeat makes that a few seconds at most).
const COPY_TTL: Duration = Duration::from_secs(10);
const HEARTBEAT: Duration = Duration::from_secs(2);

#[derive(Default)]
pub(super) struct Near {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    copies: HashMap<String, (String, Instant)>,
    /// Counts the changes heard, so that a value read before a change is not kept after it.
    changes: u64,
    /// Subscribed and hearing changes.
    live: bool,
}

/// What [`Near::lookup`] found: the copy, or the change count to hand back to [`Near::keep`]
/// (`None` when nothing may be kept now).
pub(super) enum Lookup {
    Copy(String),
    Miss(Option<u64>),
}

impl Near {
    const PURGE_ABOVE: usize = 10_000;

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn lookup(&self, key: &str) -> Lookup {
        let state = self.state();
        if !state.live {
            return Lookup::Miss(None);
        }
        match state.copies.get(key) {
            Some((value, expires)) if *expires > Instant::now() => Lookup::Copy(value.clone()),
            _ => Lookup::Miss(Some(state.changes)),
        }
    }

    /// Keeps `value` of `key` as read from Redis, unless a change was heard since `lookup`.
    pub(super) fn keep(&self, key: &str, value: &str, seen: Option<u64>) {
        let mut state = self.state();
        if !state.live || seen != Some(state.changes) {
            return;
        }
        let now = Instant::now();
        if state.copies.len() > Self::PURGE_ABOVE {
            state.copies.retain(|_, (_, expires)| *expires > now);
        }
        state
            .copies
            .insert(key.to_owned(), (value.to_owned(), now + COPY_TTL));
    }

    /// `key` changed: forget its copy.
    pub(super) fn changed(&self, key: &str) {
        let mut state = self.state();
        state.changes += 1;
        state.copies.remove(key);
    }

    fn forget_all(&self) {
        let mut state = self.state();
        state.changes += 1;
        state.copies.clear();
    }

    /// Forgets every copy; `live` says whether changes are heard from now on.
    fn set_live(&self, live: bool) {
        let mut state = self.state();
        state.changes += 1;
        state.copies.clear();
        state.live = live;
    }
}

/// Connects `subscriber` and keeps `near` in step with [`CHANNEL`] for as long as the
/// process runs: (re)subscribing after every (re)connection, forgetting everything whenever
/// the connection fails or messages were missed.
pub(super) fn listen(subscriber: fred::clients::Client, near: Arc<Near>) {
    let mut messages = subscriber.message_rx();
    let mut reconnects = subscriber.reconnect_rx();
    let mut errors = subscriber.error_rx();
    let mut unresponsive = subscriber.unresponsive_rx();
    drop(subscriber.connect());
    // Traffic on an otherwise silent connection, so that a dead one is noticed (unresponsive).
    let heartbeat = subscriber.clone();
    tokio::spawn(async move { heartbeat.enable_heartbeat(HEARTBEAT, false).await });
    tokio::spawn(async move {
        loop {
            tokio::select! {
                event = reconnects.recv() => match event {
                    Ok(_) => {
                        near.set_live(false);
                        while let Err(e) = subscriber.subscribe(CHANNEL).await {
                            tracing::warn!(error = %e, "near cache: subscribing failed");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                        near.set_live(true);
                    }
                    Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => break,
                },
                event = errors.recv() => match event {
                    Ok((e, _)) => {
                        tracing::warn!(error = %e, "near cache: subscriber connection failed");
                        near.set_live(false);
                    }
                    Err(RecvError::Lagged(_)) => near.set_live(false),
                    Err(RecvError::Closed) => break,
                },
                event = unresponsive.recv() => match event {
                    Ok(_) | Err(RecvError::Lagged(_)) => near.set_live(false),
                    Err(RecvError::Closed) => break,
                },
                message = messages.recv() => match message {
                    Ok(message) => match message.value.as_str() {
                        Some(key) => near.changed(&key),
                        None => near.forget_all(),
                    },
                    // Some changes were missed: none of the copies can be trusted.
                    Err(RecvError::Lagged(_)) => near.forget_all(),
                    Err(RecvError::Closed) => break,
                },
            }
        }
        near.set_live(false);
    });
}
