//! Fixed-window rate limits, counted atomically in Redis so that they hold across instances
//! (far from the limit, in blocks leased per instance: see `cache::leases`). The HTTP side
//! (the general limit, routes' own limits) is `http::limits`.

use crate::cache::Cache;
use crate::config::RateSpec;
use crate::error::{ApiError, RateInfo};

/// Counts one request of `key` (e.g. `login:ip:203.0.113.9`) against `spec`.
pub async fn count(cache: &Cache, key: &str, spec: RateSpec) -> Result<RateInfo, ApiError> {
    let (position, reset) = cache
        .hit(&format!("rl:{key}"), spec.window, spec.limit)
        .await;
    Ok(RateInfo {
        limit: spec.limit,
        remaining: spec.limit.saturating_sub(position),
        reset_secs: reset.as_millis().div_ceil(1000).max(1) as u64,
        allowed: position <= spec.limit,
    })
}
