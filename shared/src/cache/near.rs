//! In-process copies of a few hot Redis values (session gates), used only while this
//! instance demonstrably hears every change: writers publish the key on [`CHANNEL`] after
//! writing it, and a subscriber connection drops the copy. Every [`TICK`] the instance
//! publishes a heartbeat on a channel of its own, subscribed together with [`CHANNEL`] on the
//! same connection; a copy is used only if a heartbeat published less than [`STEADY`] ago has
//! come back through the subscription, every change delivered before it applied. (A ping
//! would only prove the connection: after a reconnection it can be alive and subscribed to
//! nothing.) So a lost connection, or a process
//! that was frozen or starved of CPU (Lambda, Cloud Run between requests), reads Redis
//! until it has caught up. Any copy expires after [`COPY_TTL`] anyway.
//!
//! A writer returns only once no instance uses an old copy ([`announce`]): every listener
//! acknowledges a change after dropping its copy, and the writer waits for as many
//! acknowledgements as `PUBLISH` reached listeners, for at most [`ACK_WAIT`]. A listener
//! that has not acknowledged by then has had no ping come back since the change was
//! published, more than [`STEADY`] ago: it no longer uses copies. Correctness never depends
//! on the acknowledgements; they only make the wait short.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fred::prelude::{ClientLike, EventInterface, KeysInterface, ListInterface, PubsubInterface};
use tokio::sync::broadcast::error::RecvError;

/// Where writers announce the keys they changed.
pub(super) const CHANNEL: &str = "near:changed";
/// The longest a copy is kept.
const COPY_TTL: Duration = Duration::from_secs(10);
/// How often the subscriber connection is pinged.
const TICK: Duration = Duration::from_millis(200);
/// Copies are used while the last ping that came back was sent less than this long ago.
const STEADY: Duration = Duration::from_millis(500);
/// The longest a writer waits for the listeners' acknowledgements: longer than [`STEADY`].
const ACK_WAIT: Duration = Duration::from_millis(600);
/// How long an acknowledgement list outlives its change.
const ACK_TTL_MS: i64 = 5_000;

/// Publishes that `key` changed and waits until every listener reached has dropped its copy
/// (or [`ACK_WAIT`] has passed, after which no listener that missed it uses copies).
pub(super) async fn announce(
    client: &fred::clients::Client,
    key: &str,
) -> Result<(), fred::error::Error> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let listeners: u64 = client.publish(CHANNEL, format!("{key} {id}")).await?;
    let acks = ack_key(&id);
    let deadline = Instant::now() + ACK_WAIT;
    loop {
        let heard: u64 = client.llen(&acks).await?;
        if heard >= listeners {
            return Ok(());
        }
        if Instant::now() >= deadline {
            tracing::warn!(
                listeners,
                heard,
                "near cache: a listener did not acknowledge in time"
            );
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn ack_key(id: &str) -> String {
    format!("near:ack:{id}")
}

/// Tells the writer of change `id` that this instance dropped its copy.
async fn acknowledge(client: fred::clients::Client, id: String) {
    let acks = ack_key(&id);
    let pushed: Result<u64, _> = client.rpush(&acks, 1).await;
    let expiring: Result<bool, _> = client.pexpire(&acks, ACK_TTL_MS, None).await;
    if let Err(e) = pushed.and(expiring.map(|_| 0)) {
        // The writer waits its bound; this instance has dropped its copy all the same.
        tracing::warn!(error = %e, "near cache: could not acknowledge a change");
    }
}

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
    /// When the last ping that came back (all changes before it applied) was sent.
    caught_up: Option<Instant>,
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
        let now = Instant::now();
        let steady = state.caught_up.is_some_and(|at| now - at < STEADY);
        if !state.live {
            return Lookup::Miss(None);
        }
        match state.copies.get(key) {
            Some((value, expires)) if steady && *expires > now => Lookup::Copy(value.clone()),
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
        state.caught_up = None;
    }

    /// Every change published before `sent` has been applied.
    fn caught_up(&self, sent: Instant) {
        let mut state = self.state();
        if state.live {
            state.caught_up = Some(sent);
        }
    }
}

/// Connects `subscriber` and keeps `near` in step with [`CHANNEL`] for as long as the
/// process runs: (re)subscribing after every (re)connection, forgetting everything whenever
/// the connection fails or messages were missed, acknowledging each change and publishing the
/// heartbeats through `client`.
pub(super) fn listen(
    subscriber: fred::clients::Client,
    client: fred::clients::Client,
    near: Arc<Near>,
) {
    let mut messages = subscriber.message_rx();
    let mut reconnects = subscriber.reconnect_rx();
    let mut errors = subscriber.error_rx();
    let mut unresponsive = subscriber.unresponsive_rx();
    drop(subscriber.connect());
    let beats = format!("near:beat:{}", uuid::Uuid::new_v4().simple());
    tokio::spawn(async move {
        // The heartbeat in flight: its number and when it was published.
        let mut beat: Option<(u64, Instant)> = None;
        let mut beat_number = 0u64;
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let apply = |message: Result<fred::types::Message, RecvError>| match message {
            Ok(message) => match message.value.as_str() {
                Some(change) => {
                    let (key, id) = change.split_once(' ').unwrap_or((&change, ""));
                    near.changed(key);
                    if !id.is_empty() {
                        tokio::spawn(acknowledge(client.clone(), id.to_owned()));
                    }
                }
                None => near.forget_all(),
            },
            // Some changes were missed: none of the copies can be trusted.
            Err(RecvError::Lagged(_)) => near.forget_all(),
            Err(RecvError::Closed) => {}
        };
        loop {
            tokio::select! {
                biased;
                event = reconnects.recv() => match event {
                    Ok(_) => {
                        near.set_live(false);
                        beat = None;
                        // One command: both subscriptions exist, or neither.
                        while let Err(e) = subscriber.subscribe(vec![CHANNEL, beats.as_str()]).await {
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
                    Err(RecvError::Closed) => break,
                    Ok(message) if *message.channel == *beats => {
                        // Every change published before this heartbeat came before it.
                        if let Some((number, sent)) = beat
                            && message.value.as_str().and_then(|v| v.parse().ok()) == Some(number)
                        {
                            near.caught_up(sent);
                            beat = None;
                        }
                    }
                    message => apply(message),
                },
                _ = tick.tick() => {
                    // A dead connection is noticed (unresponsive) for want of a reply.
                    let _ = subscriber.ping::<()>(None).await;
                    // A heartbeat lost (published while unsubscribed) is replaced.
                    if beat.is_none_or(|(_, sent)| sent.elapsed() > STEADY) {
                        beat_number += 1;
                        let sent = Instant::now();
                        let published: Result<u64, _> = client.publish(&beats, beat_number).await;
                        beat = published.ok().map(|_| (beat_number, sent));
                    }
                },
            }
        }
        near.set_live(false);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn copy(near: &Near, key: &str) -> Option<String> {
        match near.lookup(key) {
            Lookup::Copy(value) => Some(value),
            Lookup::Miss(_) => None,
        }
    }

    fn kept(near: &Near, key: &str, value: &str) {
        let Lookup::Miss(seen) = near.lookup(key) else {
            panic!("a copy already")
        };
        near.keep(key, value, seen);
    }

    #[test]
    fn copies_serve_only_while_the_listener_keeps_up() {
        let near = Near::default();
        kept(&near, "k", "v");
        assert_eq!(copy(&near, "k"), None, "not subscribed: nothing kept");
        near.set_live(true);
        kept(&near, "k", "v");
        assert_eq!(copy(&near, "k"), None, "no ping has come back yet");
        near.caught_up(Instant::now());
        assert_eq!(copy(&near, "k").as_deref(), Some("v"));
        // A listener that has not run for a while (frozen, starved of CPU) may have changes
        // waiting: its copies are not used until it catches up.
        near.caught_up(Instant::now() - STEADY);
        assert_eq!(copy(&near, "k"), None);
        near.caught_up(Instant::now());
        assert_eq!(copy(&near, "k").as_deref(), Some("v"));
        near.changed("k");
        assert_eq!(copy(&near, "k"), None);
    }

    #[test]
    fn a_value_read_across_a_change_is_not_kept() {
        let near = Near::default();
        near.set_live(true);
        near.caught_up(Instant::now());
        let Lookup::Miss(seen) = near.lookup("k") else {
            panic!()
        };
        near.changed("other");
        near.keep("k", "read before the change", seen);
        assert_eq!(copy(&near, "k"), None);
        near.set_live(false);
        assert_eq!(near.state().caught_up, None);
    }
}
