//! What every handler can reach. Cheap to clone (one `Arc`).

use std::ops::Deref;
use std::sync::Arc;

use sqlx::PgPool;

use crate::auth::TokenKeys;
use crate::cache::Cache;
use crate::clock::Clock;
use crate::config::Settings;
use crate::domain::files::FileLinks;
use crate::error::ErrorChain;
use crate::events::Events;
use crate::pagination::CursorCodec;

#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub settings: Settings,
    pub db: PgPool,
    pub cache: Cache,
    pub tokens: TokenKeys,
    pub cursors: CursorCodec,
    /// Signs the links to files handed to clients.
    pub links: FileLinks,
    pub events: Events,
    /// "Now" for rules of a person's local day (tests set it).
    pub clock: Clock,
    /// Verifies push requests' OIDC tokens; `None` when verification is off (development).
    #[cfg(feature = "worker")]
    pub push_verifier: Option<crate::events::oidc::OidcVerifier>,
    /// The AI companion (OpenAI, or offline in development).
    #[cfg(feature = "ai")]
    pub companion: crate::ai::Companion,
    /// Seals and opens what people write for themselves.
    #[cfg(feature = "sealing")]
    pub keyring: crate::sealing::Keyring,
    /// Where files live (Cloud Storage, an emulator, or a directory), reached lazily.
    #[cfg(feature = "storage")]
    pub storage: crate::storage::Storage,
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    /// Builds the state without touching the network: the pool and Redis connect lazily so
    /// that a cold start answers `/health` at once.
    pub fn new(settings: Settings, events: Events) -> Result<Self, crate::config::ConfigError> {
        let db = crate::db::pool(&settings.database)?;
        let url = settings.redis_url.as_ref().map(|s| s.expose());
        let cache = Cache::connect(url, settings.redis_ca_cert.as_deref()).map_err(|e| {
            crate::config::ConfigError::new("REDIS_URL", ErrorChain(&e).to_string())
        })?;
        Self::from_parts(settings, db, cache, events)
    }

    pub fn from_parts(
        settings: Settings,
        db: PgPool,
        cache: Cache,
        events: Events,
    ) -> Result<Self, crate::config::ConfigError> {
        #[cfg(feature = "worker")]
        let push_verifier = settings
            .push
            .verify
            .then(|| crate::events::oidc::OidcVerifier::new(&settings.push))
            .transpose()?;
        #[cfg(feature = "ai")]
        let companion = crate::ai::Companion::from_settings(&settings)?;
        let tokens = TokenKeys::new(&settings.jwt);
        let cursors = CursorCodec::new(settings.cursor_secret.expose());
        let links = FileLinks::new(settings.cursor_secret.expose(), &settings.files_url);
        #[cfg(feature = "storage")]
        let storage = crate::storage::Storage::new(&settings)?;
        #[cfg(feature = "sealing")]
        let keyring = crate::sealing::Keyring::from_settings(&settings)?;
        Ok(Self(Arc::new(Inner {
            settings,
            db,
            cache,
            tokens,
            cursors,
            links,
            events,
            clock: Clock::system(),
            #[cfg(feature = "worker")]
            push_verifier,
            #[cfg(feature = "ai")]
            companion,
            #[cfg(feature = "storage")]
            storage,
            #[cfg(feature = "sealing")]
            keyring,
        })))
    }
}
