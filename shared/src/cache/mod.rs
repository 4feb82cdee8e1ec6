//! Redis through `fred`, or an in-process store when `REDIS_URL` is unset (development only:
//! it is neither shared between instances nor persistent).
//!
//! Redis is a cache, never the truth: while it fails, reads miss, writes are skipped and
//! counts are kept in-process, and the API keeps answering ([`outage`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use fred::prelude::{
    Builder, ClientLike, Config, Expiration, KeysInterface, LuaInterface, ReconnectPolicy,
    SetOptions,
};

mod leases;
mod memory;
mod near;
mod outage;

use leases::{LEASE_SCRIPT, Leases, MOST_PER_LEASE};
pub use memory::MemoryStore;
use near::{Lookup, Near};
use outage::Outage;

#[derive(Debug, thiserror::Error)]
#[error("redis")]
pub struct CacheError(#[from] fred::error::Error);

/// Redis unreachable or failing: 503, the cause kept for the log.
impl From<CacheError> for crate::error::ApiError {
    fn from(e: CacheError) -> Self {
        Self::unavailable(e)
    }
}

pub type CacheResult<T> = Result<T, CacheError>;

/// A TLS client that trusts exactly the authorities in `pem`.
fn tls_trusting(pem: &str) -> CacheResult<fred::types::config::TlsConnector> {
    use fred::rustls::pki_types::CertificateDer;
    use fred::rustls::pki_types::pem::PemObject;
    let refused = |why: String| {
        CacheError(fred::error::Error::new(
            fred::error::ErrorKind::Tls,
            format!("REDIS_CA_CERT: {why}"),
        ))
    };
    let mut roots = fred::rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        let cert = cert.map_err(|e| refused(e.to_string()))?;
        roots.add(cert).map_err(|e| refused(e.to_string()))?;
    }
    if roots.is_empty() {
        return Err(refused("holds no certificate".into()));
    }
    let provider = Arc::new(fred::rustls::crypto::ring::default_provider());
    let config = fred::rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| refused(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(config.into())
}

#[derive(Clone)]
pub enum Cache {
    Redis(Arc<Redis>),
    Memory(Arc<MemoryStore>),
}

pub struct Redis {
    client: fred::clients::Client,
    leases: Leases,
    near: Arc<Near>,
    outage: Outage,
}

impl Cache {
    /// Connects in the background so start-up never waits for Redis; commands issued before
    /// the connection is up wait for it (bounded by the command timeout). A `rediss://` URL
    /// speaks TLS, trusting `ca_pem`'s authorities when given, the system's otherwise.
    pub fn connect(redis_url: Option<&str>, ca_pem: Option<&str>) -> CacheResult<Self> {
        let Some(url) = redis_url else {
            return Ok(Self::memory());
        };
        let mut config = Config::from_url(url)?;
        if let (Some(pem), true) = (ca_pem, config.uses_tls()) {
            config.tls = Some(tls_trusting(pem)?.into());
        }
        // Keep reconnecting instead of giving up when Redis is down at start.
        config.fail_fast = false;
        let mut builder = Builder::from_config(config);
        builder
            .with_connection_config(|c| {
                c.connection_timeout = Duration::from_secs(2);
                c.internal_command_timeout = Duration::from_secs(2);
                c.max_command_attempts = 2;
                c.unresponsive.max_timeout = Some(Duration::from_secs(3));
                c.unresponsive.interval = Duration::from_secs(1);
            })
            .with_performance_config(|p| p.default_command_timeout = Duration::from_secs(1))
            .set_policy(ReconnectPolicy::new_exponential(0, 50, 2_000, 2));
        let client = builder.build()?;
        drop(client.connect());
        let near = Arc::new(Near::default());
        near::listen(builder.build()?, client.clone(), near.clone());
        Ok(Self::Redis(Arc::new(Redis {
            client,
            leases: Leases::default(),
            near,
            outage: Outage::default(),
        })))
    }

    pub fn memory() -> Self {
        Self::Memory(Arc::new(MemoryStore::default()))
    }

    pub fn is_shared(&self) -> bool {
        matches!(self, Self::Redis(_))
    }

    /// Whether Redis is failing and this instance runs on its own (see [`outage`]).
    pub fn is_degraded(&self) -> bool {
        matches!(self, Self::Redis(r) if r.outage.is_down())
    }

    /// Redis itself, for readiness.
    pub async fn ping(&self) -> CacheResult<()> {
        match self {
            Self::Redis(r) => Ok(r.client.ping::<()>(None).await?),
            Self::Memory(_) => Ok(()),
        }
    }

    /// The value of `key`; nothing while Redis fails (a cache miss).
    pub async fn get(&self, key: &str) -> Option<String> {
        match self {
            Self::Redis(r) => {
                let key = r.key(key).await?;
                r.outcome(r.client.get(&key).await).flatten()
            }
            Self::Memory(m) => m.get(key),
        }
    }

    /// Sets `key`; skipped while Redis fails (what it held before is never read again: see
    /// [`outage`]).
    pub async fn set(&self, key: &str, value: &str, ttl: Duration) {
        match self {
            Self::Redis(r) => {
                if let Some(key) = r.key(key).await {
                    let set = r
                        .client
                        .set::<(), _, _>(&key, value, Some(px(ttl)), None, false);
                    r.outcome(set.await);
                }
            }
            Self::Memory(m) => {
                m.set(key, value, ttl, false);
            }
        }
    }

    /// Sets `key` only when absent; true when this call set it. While Redis fails, counted
    /// in-process (a throttle then holds per instance).
    pub async fn set_nx(&self, key: &str, value: &str, ttl: Duration) -> bool {
        match self {
            Self::Redis(r) => {
                if let Some(shared) = r.key(key).await {
                    let set = r
                        .client
                        .set::<Option<String>, _, _>(
                            &shared,
                            value,
                            Some(px(ttl)),
                            Some(SetOptions::NX),
                            false,
                        )
                        .await;
                    if let Some(set) = r.outcome(set) {
                        return set.is_some();
                    }
                }
                r.outage.fallback.set(key, value, ttl, true)
            }
            Self::Memory(m) => m.set(key, value, ttl, true),
        }
    }

    /// Tests only: forget a key, as if its time had passed.
    #[cfg(feature = "testing")]
    pub async fn del(&self, key: &str) {
        match self {
            Self::Redis(r) => {
                if let Some(shared) = r.key(key).await {
                    r.outcome(r.client.del::<(), _>(&shared).await);
                }
                r.outage.fallback.del(key);
            }
            Self::Memory(m) => m.del(key),
        }
    }

    /// Removes every key whose name holds `needle` (a deleted account's id): its rate-limit
    /// windows and cached values, in every generation. `SCAN` walks the keyspace in pages,
    /// which is fine for something as rare as an account's deletion.
    pub async fn forget(&self, needle: &str) {
        match self {
            Self::Redis(r) => {
                r.outage.fallback.forget(needle);
                if r.outage.is_down() {
                    return;
                }
                let pattern = format!("*{needle}*");
                let mut cursor = "0".to_owned();
                loop {
                    let page = r.client.scan_page::<(String, Vec<String>), _, _>(
                        cursor.clone(),
                        pattern.clone(),
                        Some(1000),
                        None,
                    );
                    let Some((next, keys)) = r.outcome(page.await) else {
                        return;
                    };
                    if !keys.is_empty() {
                        r.outcome(r.client.unlink::<(), _>(keys).await);
                    }
                    if next == "0" {
                        return;
                    }
                    cursor = next;
                }
            }
            Self::Memory(m) => m.forget(needle),
        }
    }

    /// Counts one hit in the fixed window `key` (created with length `window` on first hit)
    /// whose limit is `limit`. Returns the hit's position in the window, 1-based (over `limit`
    /// means refused), and the time until the window resets. With Redis, positions far from
    /// the limit are leased in blocks (see [`leases`]); while Redis fails, hits are counted
    /// in-process (the limit then holds per instance).
    pub async fn hit(&self, key: &str, window: Duration, limit: u64) -> (u64, Duration) {
        match self {
            Self::Redis(r) => {
                if let Some(shared) = r.key(key).await
                    && let Some(hit) = r.hit(&shared, window, limit).await
                {
                    return hit;
                }
                r.outage.fallback.hit(key, window)
            }
            Self::Memory(m) => m.hit(key, window),
        }
    }

    /// [`Cache::get`], served from an in-process copy while this instance hears every change
    /// of `key` (see [`near`]). Only for keys written with [`Cache::set_announced`].
    pub async fn get_near(&self, key: &str) -> Option<String> {
        match self {
            Self::Redis(r) => {
                let key = r.key(key).await?;
                r.outcome(r.get_near(&key).await).flatten()
            }
            Self::Memory(m) => m.get(key),
        }
    }

    /// [`Cache::set`], then tells every instance to drop its copy of `key` and returns once
    /// none uses one any more (see [`near::announce`]). While Redis fails nothing is written:
    /// whoever reads `key` meanwhile asks the source of truth, and the old value is never read
    /// again (see [`outage`]).
    pub async fn set_announced(&self, key: &str, value: &str, ttl: Duration) {
        match self {
            Self::Redis(r) => {
                let Some(key) = r.key(key).await else {
                    return;
                };
                let set = r
                    .client
                    .set::<(), _, _>(&key, value, Some(px(ttl)), None, false);
                if r.outcome(set.await).is_some() {
                    r.near.changed(&key);
                    r.outcome(near::announce(&r.client, &key).await);
                }
            }
            Self::Memory(m) => {
                m.set(key, value, ttl, false);
            }
        }
    }
}

impl Redis {
    /// `key` in the current generation; `None` while Redis fails.
    async fn key(self: &Arc<Self>, key: &str) -> Option<String> {
        if self.outage.is_down() {
            return None;
        }
        let generation = match self.near.lookup(outage::GENERATION) {
            Lookup::Copy(generation) => generation,
            Lookup::Miss(seen) => {
                // INCRBY 0 reads the counter and creates it on a fresh Redis, so that there is
                // always a value to copy (a missing one would cost a round trip every time).
                let read = self.client.incr_by::<u64, _>(outage::GENERATION, 0).await;
                let generation = self.outcome(read)?.to_string();
                self.near.keep(outage::GENERATION, &generation, seen);
                generation
            }
        };
        Some(format!("g{generation}:{key}"))
    }

    /// The value of a Redis call; on an error, `None`, and this instance runs on its own until
    /// Redis answers again.
    fn outcome<T>(self: &Arc<Self>, result: Result<T, fred::error::Error>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(e) => {
                outage::failed(self, &e);
                None
            }
        }
    }

    async fn get_near(&self, key: &str) -> Result<Option<String>, fred::error::Error> {
        let seen = match self.near.lookup(key) {
            Lookup::Copy(value) => return Ok(Some(value)),
            Lookup::Miss(seen) => seen,
        };
        let value: Option<String> = self.client.get(key).await?;
        if let Some(value) = &value {
            self.near.keep(key, value, seen);
        }
        Ok(value)
    }

    async fn hit(
        self: &Arc<Self>,
        key: &str,
        window: Duration,
        limit: u64,
    ) -> Option<(u64, Duration)> {
        let refill = match self.leases.take(key) {
            Ok(hit) => return Some(hit),
            Err(refill) => refill,
        };
        let _refilling = refill.lock().await;
        if let Ok(hit) = self.leases.take(key) {
            return Some(hit);
        }
        let args = [window.as_millis().max(1) as u64, limit, MOST_PER_LEASE];
        let leased = self
            .client
            .eval(LEASE_SCRIPT, key, args.map(|a| a.to_string()).to_vec())
            .await;
        let (last, ttl_ms, leased): (u64, i64, u64) = self.outcome(leased)?;
        let reset = Duration::from_millis(ttl_ms.max(0) as u64);
        let first = last.saturating_sub(leased) + 1;
        self.leases
            .keep(key, first + 1, last.min(limit), Instant::now() + reset);
        Some((first, reset))
    }
}

fn px(ttl: Duration) -> Expiration {
    Expiration::PX(ttl.as_millis().max(1) as i64)
}
