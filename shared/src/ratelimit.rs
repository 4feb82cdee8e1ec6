//! Fixed-window rate limits, counted atomically in Redis so that they hold across instances
//! (far from the limit, in blocks leased per instance: see `cache::leases`). Limits use the
//! seed's syntax: `5/15minute`, `30/hour`, `100/15minute`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::cache::Cache;
use crate::error::ApiError;
use crate::http::client_ip::ClientIp;
use crate::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateSpec {
    pub limit: u64,
    pub window: Duration,
}

impl RateSpec {
    pub const fn per_minutes(limit: u64, minutes: u64) -> Self {
        Self {
            limit,
            window: Duration::from_secs(minutes * 60),
        }
    }
}

impl FromStr for RateSpec {
    type Err = String;

    /// `N/[M]unit` with unit second, minute, hour or day (plural allowed).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("expected N/[M]unit such as 5/15minute or 30/hour, got {s:?}");
        let (limit, period) = s.trim().split_once('/').ok_or_else(bad)?;
        let limit: u64 = limit.trim().parse().map_err(|_| bad())?;
        let period = period.trim();
        let digits = period.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let (count, unit) = period.split_at(digits);
        let count: u64 = if count.is_empty() {
            1
        } else {
            count.parse().map_err(|_| bad())?
        };
        let unit_secs = match unit.trim().trim_end_matches('s') {
            "second" | "sec" => 1,
            "minute" | "min" => 60,
            "hour" => 3600,
            "day" => 86_400,
            _ => return Err(bad()),
        };
        if limit == 0 || count == 0 {
            return Err(bad());
        }
        Ok(Self {
            limit,
            window: Duration::from_secs(count * unit_secs),
        })
    }
}

impl fmt::Display for RateSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}second", self.limit, self.window.as_secs())
    }
}

/// What one counted request learned: the numbers behind the `RateLimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateInfo {
    pub limit: u64,
    pub remaining: u64,
    /// Seconds until the window resets (at least 1).
    pub reset_secs: u64,
    pub allowed: bool,
}

impl RateInfo {
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        headers.insert("ratelimit-limit", HeaderValue::from(self.limit));
        headers.insert("ratelimit-remaining", HeaderValue::from(self.remaining));
        headers.insert("ratelimit-reset", HeaderValue::from(self.reset_secs));
    }

    /// `Ok` when allowed, else 429 RATE_LIMITED carrying the headers.
    pub fn check(self) -> Result<Self, ApiError> {
        if self.allowed {
            Ok(self)
        } else {
            Err(ApiError::rate_limited(self))
        }
    }
}

/// Counts one request of `key` (e.g. `login:ip:203.0.113.9`) against `spec`.
pub async fn count(cache: &Cache, key: &str, spec: RateSpec) -> Result<RateInfo, ApiError> {
    let (position, reset) = cache
        .hit(&format!("rl:{key}"), spec.window, spec.limit)
        .await?;
    Ok(RateInfo::new(spec, position, reset))
}

impl RateInfo {
    fn new(spec: RateSpec, count: u64, reset: std::time::Duration) -> Self {
        Self {
            limit: spec.limit,
            remaining: spec.limit.saturating_sub(count),
            reset_secs: reset.as_millis().div_ceil(1000).max(1) as u64,
            allowed: count <= spec.limit,
        }
    }
}

/// The bearer's claims, verified once by the limiter; the `AuthUser` extractor uses them
/// instead of verifying the token again.
#[derive(Debug, Clone)]
pub struct VerifiedBearer(pub crate::auth::AccessClaims);

/// A stricter per-user limit of one route, counted by [`general_limit`] too: its counter name
/// and its limit.
fn route_limit(state: &AppState, method: &Method, path: &str) -> Option<(&'static str, RateSpec)> {
    let limits = &state.settings.rate_limits;
    match (method, path) {
        (&Method::POST, "/api/v1/chat/conversations/{id}/messages") => {
            Some(("ai-chat", limits.ai_chat))
        }
        _ => None,
    }
}

/// `RATE_LIMIT_GENERAL` for every API route: per user when a valid bearer token is sent,
/// otherwise per client IP. A route with its own limit ([`route_limit`]) is counted too, and
/// gives the `RateLimit-*` headers unless the general limit refuses. A limit applied by a
/// handler keeps its own headers.
pub async fn general_limit(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let spec = state.settings.rate_limits.general;
    let counted = match crate::auth::bearer_claims(&state, request.headers()) {
        Some(claims) => {
            let user = claims.sub;
            request.extensions_mut().insert(VerifiedBearer(claims));
            let route = request
                .extensions()
                .get::<MatchedPath>()
                .and_then(|path| route_limit(&state, request.method(), path.as_str()));
            match count(&state.cache, &format!("general:user:{user}"), spec).await {
                Ok(general) if general.allowed => match route {
                    Some((name, route_spec)) => {
                        count(&state.cache, &format!("{name}:user:{user}"), route_spec).await
                    }
                    None => Ok(general),
                },
                other => other,
            }
        }
        None => {
            let ip = ClientIp::from_request(&request, state.settings.trusted_proxy_hops);
            count(&state.cache, &format!("general:ip:{ip}"), spec).await
        }
    };
    let info = match counted {
        Ok(info) => info,
        Err(e) => return e.into_response(),
    };
    if !info.allowed {
        return ApiError::rate_limited(info).into_response();
    }
    let mut response = next.run(request).await;
    if !response.headers().contains_key("ratelimit-limit") {
        info.write_headers(response.headers_mut());
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_seed_syntax() {
        assert_eq!("5/15minute".parse(), Ok(RateSpec::per_minutes(5, 15)));
        assert_eq!("30/hour".parse(), Ok(RateSpec::per_minutes(30, 60)));
        assert_eq!("100/15minutes".parse(), Ok(RateSpec::per_minutes(100, 15)));
        assert_eq!(
            "2/10second".parse(),
            Ok(RateSpec {
                limit: 2,
                window: Duration::from_secs(10)
            })
        );
        assert_eq!(
            "1000/day".parse::<RateSpec>().unwrap().window,
            Duration::from_secs(86_400)
        );
        for bad in [
            "",
            "5",
            "5/",
            "/hour",
            "0/hour",
            "5/0minute",
            "x/hour",
            "5/fortnight",
            "5/15",
        ] {
            assert!(bad.parse::<RateSpec>().is_err(), "{bad}");
        }
    }
}
