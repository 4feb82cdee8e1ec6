//! The one library every MindPause function links. Heavy integrations sit behind features.
//!
//! Layers point down; nothing imports from a layer above it:
//!
//! 1. leaves: `config` (settings, rate specs), `error` (+ `envelope`, `locale`),
//!    `telemetry`, `functions` (the function table), `safety` (the crisis lexicon), `clock`,
//!    `media` (uploads judged by their bytes);
//! 2. integrations: `db`, `cache`, `ratelimit`, `auth` (tokens), `pagination`, `events`,
//!    `mail`, `ai`, `storage` — each converts its own failures into `ApiError`;
//! 3. `state` (what handlers reach), then `domain` (rules and SQL several functions share,
//!    one owning module per table: `accounts`, `journal`);
//! 4. the edge: `http` (extractors, rate-limit layers), `worker` (the push-endpoint
//!    framework), `runtime`, `openapi`, `testing`.
//!
//! `shared` names no function's routes, tables or constraints: a function declares its own
//! route limits (`http::RouteLimit`) and constraint codes (`db::Constraints`).

#[cfg(feature = "ai")]
pub mod ai;
pub mod auth;
pub mod cache;
pub mod clock;
pub mod config;
pub mod db;
pub mod domain;
pub mod envelope;
pub mod error;
pub mod events;
pub mod functions;
pub mod http;
pub mod locale;
#[cfg(feature = "mail")]
pub mod mail;
#[cfg(feature = "media")]
pub mod media;
pub mod openapi;
pub mod pagination;
pub mod ratelimit;
pub mod runtime;
pub mod safety;
#[cfg(feature = "sealing")]
pub mod sealing;
pub mod state;
#[cfg(feature = "storage")]
pub mod storage;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod text;
pub mod worker;

/// mimalloc: with glibc's allocator a sixth of a request's CPU time went to allocating, and
/// freed argon2 buffers (19 MiB each) stayed with their threads, so a login burst grew the
/// process past 700 MiB (docs/BENCHMARKS.md). Built without transparent huge pages, which
/// doubled the idle RSS for no measurable speed.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub use envelope::Reply;
pub use error::{ApiError, ApiResult, ErrorCode, Fields};
pub use state::AppState;

/// rustls with ring (no aws-lc): Google's and reqwest's clients expect the process to pick
/// the provider once.
#[cfg(feature = "tls")]
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
