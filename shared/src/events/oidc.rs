//! Verifies the OIDC token Pub/Sub attaches to push requests: RS256 signed by a key of
//! Google's JWKS (fetched and cached), `aud` = our push audience, `iss` = Google, unexpired,
//! and `email` = the push service account with `email_verified`.

use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use tokio::sync::RwLock;

use crate::config::{ConfigError, PushAuthSettings};

const JWKS_TTL: Duration = Duration::from_secs(3600);
/// An unknown `kid` triggers a refetch, but not more often than this.
const REFETCH_AFTER: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OidcError {
    #[error("missing bearer token")]
    Missing,
    #[error("token rejected: {0}")]
    Invalid(String),
    #[error("unexpected service account")]
    WrongAccount,
    #[error("signing keys unavailable: {0}")]
    Keys(String),
}

#[derive(Debug, Deserialize)]
pub struct PushClaims {
    pub email: Option<String>,
    #[serde(default)]
    pub email_verified: bool,
    pub sub: Option<String>,
}

pub struct OidcVerifier {
    http: reqwest::Client,
    jwks_url: String,
    audience: String,
    issuers: Vec<String>,
    service_account: Option<String>,
    keys: RwLock<Option<(Instant, JwkSet)>>,
}

impl OidcVerifier {
    pub fn new(settings: &PushAuthSettings) -> Result<Self, ConfigError> {
        let audience = settings.audience.clone().ok_or_else(|| {
            ConfigError::new("PUSH_AUDIENCE", "is required when PUSH_AUTH_VERIFY is on")
        })?;
        crate::install_tls_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| ConfigError::new("GOOGLE_JWKS_URL", e.to_string()))?;
        Ok(Self {
            http,
            jwks_url: settings.jwks_url.clone(),
            audience,
            issuers: settings.issuers.clone(),
            service_account: settings.service_account.clone(),
            keys: RwLock::new(None),
        })
    }

    pub async fn verify(&self, token: &str) -> Result<PushClaims, OidcError> {
        if token.is_empty() {
            return Err(OidcError::Missing);
        }
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| OidcError::Invalid(e.to_string()))?;
        if header.alg != Algorithm::RS256 {
            return Err(OidcError::Invalid(format!(
                "algorithm {:?} not allowed",
                header.alg
            )));
        }
        let key = self.key(header.kid.as_deref()).await?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&[&self.audience]);
        validation.set_issuer(&self.issuers);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud"]);
        validation.leeway = 30;
        let claims = jsonwebtoken::decode::<PushClaims>(token, &key, &validation)
            .map_err(|e| OidcError::Invalid(e.to_string()))?
            .claims;
        if let Some(expected) = &self.service_account
            && (!claims.email_verified || claims.email.as_deref() != Some(expected.as_str()))
        {
            return Err(OidcError::WrongAccount);
        }
        Ok(claims)
    }

    async fn key(&self, kid: Option<&str>) -> Result<DecodingKey, OidcError> {
        {
            let cached = self.keys.read().await;
            if let Some((fetched, set)) = cached.as_ref()
                && fetched.elapsed() < JWKS_TTL
            {
                if let Some(key) = find(set, kid) {
                    return key;
                }
                if fetched.elapsed() < REFETCH_AFTER {
                    return Err(OidcError::Invalid("unknown key id".into()));
                }
            }
        }
        let mut cached = self.keys.write().await;
        let set = self.fetch().await?;
        let key =
            find(&set, kid).unwrap_or_else(|| Err(OidcError::Invalid("unknown key id".into())));
        *cached = Some((Instant::now(), set));
        key
    }

    async fn fetch(&self) -> Result<JwkSet, OidcError> {
        let response = self
            .http
            .get(&self.jwks_url)
            .send()
            .await
            .map_err(|e| OidcError::Keys(e.to_string()))?;
        if !response.status().is_success() {
            return Err(OidcError::Keys(format!(
                "JWKS answered {}",
                response.status()
            )));
        }
        response
            .json()
            .await
            .map_err(|e| OidcError::Keys(e.to_string()))
    }
}

fn find(set: &JwkSet, kid: Option<&str>) -> Option<Result<DecodingKey, OidcError>> {
    let jwk = match kid {
        Some(kid) => set.find(kid)?,
        // A key without `kid` can only be matched when it is the only one.
        None if set.keys.len() == 1 => &set.keys[0],
        None => return None,
    };
    Some(DecodingKey::from_jwk(jwk).map_err(|e| OidcError::Keys(e.to_string())))
}
