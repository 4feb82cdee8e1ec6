//! The time handlers read "now" from when a rule depends on it (a person's local day): the
//! system's, or in tests one they set to cross a midnight or a DST change.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};

/// Cheap to clone; clones share the setting.
#[derive(Debug, Clone)]
pub struct Clock(Arc<AtomicI64>);

/// No instant set: the system's time.
const SYSTEM: i64 = i64::MIN;

impl Clock {
    pub fn system() -> Self {
        Self(Arc::new(AtomicI64::new(SYSTEM)))
    }

    pub fn now(&self) -> DateTime<Utc> {
        match self.0.load(Ordering::Relaxed) {
            SYSTEM => Utc::now(),
            micros => DateTime::from_timestamp_micros(micros).unwrap_or_else(Utc::now),
        }
    }

    /// From now on [`Clock::now`] answers `at` (`None`: the system's time again).
    #[cfg(feature = "testing")]
    pub fn set(&self, at: Option<DateTime<Utc>>) {
        let micros = at.map_or(SYSTEM, |t| t.timestamp_micros());
        self.0.store(micros, Ordering::Relaxed);
    }
}
