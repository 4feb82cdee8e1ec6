//! Redis through `fred`, or an in-process store when `REDIS_URL` is unset (development only:
//! it is neither shared between instances nor persistent).

use std::sync::Arc;
use std::time::{Duration, Instant};

use fred::prelude::{
    Builder, ClientLike, Config, Expiration, KeysInterface, LuaInterface, ReconnectPolicy,
    SetOptions,
};

mod leases;
mod memory;
mod near;

use leases::{LEASE_SCRIPT, Leases, MOST_PER_LEASE};
pub use memory::MemoryStore;
use near::{Lookup, Near};

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
        })))
    }

    pub fn memory() -> Self {
        Self::Memory(Arc::new(MemoryStore::default()))
    }

    pub fn is_shared(&self) -> bool {
        matches!(self, Self::Redis(_))
    }

    pub async fn ping(&self) -> CacheResult<()> {
        match self {
            Self::Redis(r) => Ok(r.client.ping::<()>(None).await?),
            Self::Memory(_) => Ok(()),
        }
    }

    pub async fn get(&self, key: &str) -> CacheResult<Option<String>> {
        match self {
            Self::Redis(r) => Ok(r.client.get(key).await?),
            Self::Memory(m) => Ok(m.get(key)),
        }
    }

    pub async fn set(&self, key: &str, value: &str, ttl: Duration) -> CacheResult<()> {
        match self {
            Self::Redis(r) => Ok(r
                .client
                .set::<(), _, _>(key, value, Some(px(ttl)), None, false)
                .await?),
            Self::Memory(m) => {
                m.set(key, value, ttl, false);
                Ok(())
            }
        }
    }

    /// Sets `key` only when absent; true when this call set it.
    pub async fn set_nx(&self, key: &str, value: &str, ttl: Duration) -> CacheResult<bool> {
        match self {
            Self::Redis(r) => {
                let set: Option<String> = r
                    .client
                    .set(key, value, Some(px(ttl)), Some(SetOptions::NX), false)
                    .await?;
                Ok(set.is_some())
            }
            Self::Memory(m) => Ok(m.set(key, value, ttl, true)),
        }
    }

    /// Tests only: forget a key, as if its time had passed.
    #[cfg(feature = "testing")]
    pub async fn del(&self, key: &str) -> CacheResult<()> {
        match self {
            Self::Redis(r) => Ok(r.client.del::<(), _>(key).await?),
            Self::Memory(m) => {
                m.del(key);
                Ok(())
            }
        }
    }

    /// Counts one hit in the fixed window `key` (created with length `window` on first hit)
    /// whose limit is `limit`. Returns the hit's position in the window, 1-based (over `limit`
    /// means refused), and the time until the window resets. With Redis, positions far from
    /// the limit are leased in blocks (see [`leases`]).
    pub async fn hit(
        &self,
        key: &str,
        window: Duration,
        limit: u64,
    ) -> CacheResult<(u64, Duration)> {
        match self {
            Self::Redis(r) => {
                let refill = match r.leases.take(key) {
                    Ok(hit) => return Ok(hit),
                    Err(refill) => refill,
                };
                let _refilling = refill.lock().await;
                if let Ok(hit) = r.leases.take(key) {
                    return Ok(hit);
                }
                let args = [window.as_millis().max(1) as u64, limit, MOST_PER_LEASE];
                let (last, ttl_ms, leased): (u64, i64, u64) = r
                    .client
                    .eval(LEASE_SCRIPT, key, args.map(|a| a.to_string()).to_vec())
                    .await?;
                let reset = Duration::from_millis(ttl_ms.max(0) as u64);
                let first = last.saturating_sub(leased) + 1;
                r.leases
                    .keep(key, first + 1, last.min(limit), Instant::now() + reset);
                Ok((first, reset))
            }
            Self::Memory(m) => Ok(m.hit(key, window)),
        }
    }

    /// [`Cache::get`], served from an in-process copy while this instance hears every change
    /// of `key` (see [`near`]). Only for keys written with [`Cache::set_announced`].
    pub async fn get_near(&self, key: &str) -> CacheResult<Option<String>> {
        match self {
            Self::Redis(r) => {
                let seen = match r.near.lookup(key) {
                    Lookup::Copy(value) => return Ok(Some(value)),
                    Lookup::Miss(seen) => seen,
                };
                let value: Option<String> = r.client.get(key).await?;
                if let Some(value) = &value {
                    r.near.keep(key, value, seen);
                }
                Ok(value)
            }
            Self::Memory(m) => Ok(m.get(key)),
        }
    }

    /// [`Cache::set`], then tells every instance to drop its copy of `key` and returns once
    /// none uses one any more (see [`near::announce`]).
    pub async fn set_announced(&self, key: &str, value: &str, ttl: Duration) -> CacheResult<()> {
        self.set(key, value, ttl).await?;
        if let Self::Redis(r) = self {
            r.near.changed(key);
            near::announce(&r.client, key).await?;
        }
        Ok(())
    }
}

fn px(ttl: Duration) -> Expiration {
    Expiration::PX(ttl.as_millis().max(1) as i64)
}
