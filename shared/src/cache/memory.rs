//! The in-process store behind [`Cache::Memory`](super::Cache::Memory).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct MemoryStore {
    entries: Mutex<HashMap<String, (String, Instant)>>,
}

impl MemoryStore {
    const PURGE_ABOVE: usize = 10_000;

    pub(super) fn get(&self, key: &str) -> Option<String> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(key)
            .filter(|(_, expires)| *expires > Instant::now())
            .map(|(v, _)| v.clone())
    }

    pub(super) fn set(&self, key: &str, value: &str, ttl: Duration, only_if_absent: bool) -> bool {
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() > Self::PURGE_ABOVE {
            entries.retain(|_, (_, expires)| *expires > now);
        }
        if only_if_absent && entries.get(key).is_some_and(|(_, e)| *e > now) {
            return false;
        }
        entries.insert(key.to_owned(), (value.to_owned(), now + ttl));
        true
    }

    /// Drops every key holding `needle`.
    pub(super) fn forget(&self, needle: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.retain(|key, _| !key.contains(needle));
    }

    #[cfg(feature = "testing")]
    pub(super) fn del(&self, key: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.remove(key);
    }

    pub(super) fn hit(&self, key: &str, window: Duration) -> (u64, Duration) {
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() > Self::PURGE_ABOVE {
            entries.retain(|_, (_, expires)| *expires > now);
        }
        let entry = entries
            .entry(key.to_owned())
            .and_modify(|e| {
                if e.1 <= now {
                    *e = ("0".into(), now + window);
                }
            })
            .or_insert_with(|| ("0".into(), now + window));
        let count = entry.0.parse::<u64>().unwrap_or(0) + 1;
        entry.0 = count.to_string();
        (count, entry.1.saturating_duration_since(now))
    }
}
