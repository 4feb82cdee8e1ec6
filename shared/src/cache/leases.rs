//! Rate-limit counts leased from Redis in blocks, so that most hits are counted in-process.
//!
//! A hit far from its limit takes a block of positions in the window's shared counter (one
//! sixteenth of what is left of the limit, at most [`MOST_PER_LEASE`]) and the instance hands
//! them out locally; near the limit the block is one position, i.e. every hit is counted in
//! Redis as before. Positions are never shared between instances, so the limit holds across
//! them exactly as a plain counter would; at worst the positions an instance leased but did
//! not use are lost, refusing a few requests early at the end of a busy window. One block per
//! key is requested at a time and hits arriving meanwhile wait for it, so that a burst does
//! not strand a block per request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The most positions one lease takes (bounds what an idle instance can strand).
pub(super) const MOST_PER_LEASE: u64 = 64;

/// Leases positions in the counter `KEYS[1]` (window `ARGV[1]` ms, limit `ARGV[2]`, at most
/// `ARGV[3]` positions), starting the window on its first hit. Returns `{last position,
/// milliseconds until the window ends, positions leased}`.
pub(super) const LEASE_SCRIPT: &str = r"
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
local n = math.floor((tonumber(ARGV[2]) - used) / 16)
n = math.max(1, math.min(n, tonumber(ARGV[3])))
local last = redis.call('INCRBY', KEYS[1], n)
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {last, ttl, n}
";

/// Unused leased positions per counter key.
#[derive(Default)]
pub(super) struct Leases {
    by_key: Mutex<HashMap<String, Lease>>,
}

#[derive(Default)]
struct Lease {
    window_end: Option<Instant>,
    /// Inclusive ranges of positions not handed out yet, oldest first.
    ranges: Vec<(u64, u64)>,
    /// Held while a block is requested for this key.
    refill: Arc<tokio::sync::Mutex<()>>,
}

impl Leases {
    const PURGE_ABOVE: usize = 10_000;

    /// The next leased position of `key` and the time left in its window; when none is left,
    /// the lock to hold while requesting a block (then look again: another hit may have
    /// brought one meanwhile).
    pub(super) fn take(&self, key: &str) -> Result<(u64, Duration), Arc<tokio::sync::Mutex<()>>> {
        let now = Instant::now();
        let mut by_key = self.by_key.lock().unwrap_or_else(|p| p.into_inner());
        if by_key.len() > Self::PURGE_ABOVE {
            by_key.retain(|_, lease| lease.window_end.is_some_and(|end| end > now));
        }
        let lease = by_key.entry(key.to_owned()).or_default();
        match lease
            .window_end
            .and_then(|end| end.checked_duration_since(now))
        {
            Some(left) if !left.is_zero() => {
                if let Some((next, last)) = lease.ranges.first_mut() {
                    let position = *next;
                    *next += 1;
                    if *next > *last {
                        lease.ranges.remove(0);
                    }
                    return Ok((position, left));
                }
            }
            _ => lease.ranges.clear(),
        }
        Err(lease.refill.clone())
    }

    /// Keeps positions `first..=last` (none when `first > last`) of `key`'s window ending at
    /// `window_end` for later hits.
    pub(super) fn keep(&self, key: &str, first: u64, last: u64, window_end: Instant) {
        if first > last {
            return;
        }
        let mut by_key = self.by_key.lock().unwrap_or_else(|p| p.into_inner());
        let lease = by_key.entry(key.to_owned()).or_default();
        // Positions of an earlier window are worthless: its counter has restarted.
        if lease.window_end.is_none_or(|end| end <= Instant::now()) {
            lease.ranges.clear();
        }
        lease.window_end = Some(window_end);
        lease.ranges.push((first, last));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn position(leases: &Leases, key: &str) -> Option<u64> {
        leases.take(key).ok().map(|(p, _)| p)
    }

    #[test]
    fn hands_out_kept_positions_in_order() {
        let leases = Leases::default();
        let end = Instant::now() + Duration::from_secs(60);
        assert_eq!(position(&leases, "k"), None);
        leases.keep("k", 2, 3, end);
        leases.keep("k", 7, 7, end);
        leases.keep("k", 9, 8, end);
        let positions: Vec<u64> = std::iter::from_fn(|| position(&leases, "k")).collect();
        assert_eq!(positions, [2, 3, 7]);
    }

    #[test]
    fn positions_die_with_their_window() {
        let leases = Leases::default();
        leases.keep("k", 1, 10, Instant::now());
        assert_eq!(position(&leases, "k"), None);
        leases.keep("k", 11, 12, Instant::now() + Duration::from_secs(60));
        assert_eq!(position(&leases, "k"), Some(11));
    }
}
