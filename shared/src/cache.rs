//! Redis through `fred`, or an in-process store when `REDIS_URL` is unset (development only:
//! it is neither shared between instances nor persistent).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fred::prelude::{
    Builder, ClientLike, Config, Expiration, KeysInterface, LuaInterface, ReconnectPolicy,
    SetOptions,
};

#[derive(Debug, thiserror::Error)]
#[error("cache: {0}")]
pub struct CacheError(String);

impl From<fred::error::Error> for CacheError {
    fn from(e: fred::error::Error) -> Self {
        Self(e.to_string())
    }
}

pub type CacheResult<T> = Result<T, CacheError>;

#[derive(Clone)]
pub enum Cache {
    Redis(fred::clients::Client),
    Memory(Arc<MemoryStore>),
}

/// Increments a fixed-window counter and starts its window on the first hit, atomically.
/// Returns `{count, milliseconds until the window ends}`.
const HIT_SCRIPT: &str = r"
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
";

/// [`HIT_SCRIPT`] for each of several counters (`KEYS[i]`, window `ARGV[i]`), then reading
/// the last key (`''` when absent): `{n1, ttl1, n2, ttl2, …, value}`.
const HITS_AND_GET_SCRIPT: &str = r"
local out = {}
for i = 1, #ARGV do
  local n = redis.call('INCR', KEYS[i])
  local ttl = redis.call('PTTL', KEYS[i])
  if ttl < 0 then
    redis.call('PEXPIRE', KEYS[i], ARGV[i])
    ttl = tonumber(ARGV[i])
  end
  out[#out + 1] = n
  out[#out + 1] = ttl
end
out[#out + 1] = redis.call('GET', KEYS[#KEYS]) or ''
return out
";

impl Cache {
    /// Connects in the background so start-up never waits for Redis; commands issued before
    /// the connection is up wait for it (bounded by the command timeout).
    pub fn connect(redis_url: Option<&str>) -> CacheResult<Self> {
        let Some(url) = redis_url else {
            return Ok(Self::memory());
        };
        let mut config = Config::from_url(url)?;
        // Keep reconnecting instead of giving up when Redis is down at start.
        config.fail_fast = false;
        let client = Builder::from_config(config)
            .with_connection_config(|c| {
                c.connection_timeout = Duration::from_secs(2);
                c.internal_command_timeout = Duration::from_secs(2);
                c.max_command_attempts = 2;
            })
            .with_performance_config(|p| p.default_command_timeout = Duration::from_secs(1))
            .set_policy(ReconnectPolicy::new_exponential(0, 50, 2_000, 2))
            .build()?;
        drop(client.connect());
        Ok(Self::Redis(client))
    }

    pub fn memory() -> Self {
        Self::Memory(Arc::new(MemoryStore::default()))
    }

    pub fn is_shared(&self) -> bool {
        matches!(self, Self::Redis(_))
    }

    pub async fn ping(&self) -> CacheResult<()> {
        match self {
            Self::Redis(c) => Ok(c.ping::<()>(None).await?),
            Self::Memory(_) => Ok(()),
        }
    }

    pub async fn get(&self, key: &str) -> CacheResult<Option<String>> {
        match self {
            Self::Redis(c) => Ok(c.get(key).await?),
            Self::Memory(m) => Ok(m.get(key)),
        }
    }

    pub async fn mget(&self, keys: &[String]) -> CacheResult<Vec<Option<String>>> {
        match self {
            Self::Redis(c) if keys.len() == 1 => Ok(vec![c.get(keys[0].as_str()).await?]),
            Self::Redis(c) => Ok(c.mget(keys.to_vec()).await?),
            Self::Memory(m) => Ok(keys.iter().map(|k| m.get(k)).collect()),
        }
    }

    pub async fn set(&self, key: &str, value: &str, ttl: Duration) -> CacheResult<()> {
        match self {
            Self::Redis(c) => Ok(c
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
            Self::Redis(c) => {
                let set: Option<String> = c
                    .set(key, value, Some(px(ttl)), Some(SetOptions::NX), false)
                    .await?;
                Ok(set.is_some())
            }
            Self::Memory(m) => Ok(m.set(key, value, ttl, true)),
        }
    }

    pub async fn del(&self, key: &str) -> CacheResult<()> {
        match self {
            Self::Redis(c) => Ok(c.del::<(), _>(key).await?),
            Self::Memory(m) => {
                m.del(key);
                Ok(())
            }
        }
    }

    /// Counts one hit in the fixed window `key` (created with length `window` on first hit).
    /// Returns the count including this hit and the time until the window resets.
    pub async fn hit(&self, key: &str, window: Duration) -> CacheResult<(u64, Duration)> {
        let window_ms = window.as_millis().max(1) as u64;
        match self {
            Self::Redis(c) => {
                let (count, ttl_ms): (u64, i64) =
                    c.eval(HIT_SCRIPT, key, window_ms.to_string()).await?;
                Ok((count, Duration::from_millis(ttl_ms.max(0) as u64)))
            }
            Self::Memory(m) => Ok(m.hit(key, window)),
        }
    }
}

impl Cache {
    /// [`Cache::hit`] of every counter and [`Cache::get`] of `key`, in one round trip: what an
    /// authenticated request needs (its rate limits and its session's gate).
    pub async fn hits_and_get(
        &self,
        counters: &[(&str, Duration)],
        key: &str,
    ) -> CacheResult<(Vec<(u64, Duration)>, Option<String>)> {
        let window_ms = |w: Duration| w.as_millis().max(1) as u64;
        match self {
            Self::Redis(c) => {
                let keys: Vec<&str> = counters.iter().map(|(k, _)| *k).chain([key]).collect();
                let windows: Vec<String> = counters
                    .iter()
                    .map(|(_, w)| window_ms(*w).to_string())
                    .collect();
                let mut out: Vec<fred::types::Value> =
                    c.eval(HITS_AND_GET_SCRIPT, keys, windows).await?;
                let malformed = || CacheError("unexpected reply to the limit script".into());
                let value = out.pop().ok_or_else(malformed)?.into_string();
                let hits =
                    out.chunks(2)
                        .map(|pair| match pair {
                            [n, ttl] => Ok((
                                n.as_u64().ok_or_else(malformed)?,
                                Duration::from_millis(
                                    ttl.as_i64().ok_or_else(malformed)?.max(0) as u64
                                ),
                            )),
                            _ => Err(malformed()),
                        })
                        .collect::<CacheResult<Vec<_>>>()?;
                if hits.len() != counters.len() {
                    return Err(malformed());
                }
                Ok((hits, value.filter(|v| !v.is_empty())))
            }
            Self::Memory(m) => Ok((
                counters.iter().map(|(k, w)| m.hit(k, *w)).collect(),
                m.get(key),
            )),
        }
    }
}

fn px(ttl: Duration) -> Expiration {
    Expiration::PX(ttl.as_millis().max(1) as i64)
}

#[derive(Default)]
pub struct MemoryStore {
    entries: Mutex<HashMap<String, (String, Instant)>>,
}

impl MemoryStore {
    const PURGE_ABOVE: usize = 10_000;

    fn get(&self, key: &str) -> Option<String> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries
            .get(key)
            .filter(|(_, expires)| *expires > Instant::now())
            .map(|(v, _)| v.clone())
    }

    fn set(&self, key: &str, value: &str, ttl: Duration, only_if_absent: bool) -> bool {
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

    fn del(&self, key: &str) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.remove(key);
    }

    fn hit(&self, key: &str, window: Duration) -> (u64, Duration) {
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
