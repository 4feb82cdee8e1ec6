//! A JSON Web Key Set fetched from its URL and cached (an hour; an unknown `kid` fetches it
//! again, at most every 30 s, so a rotated key is picked up), and the RS256 tokens signed by
//! its keys: Google's ID tokens (sign-in with Google) and Pub/Sub's push tokens.

use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::de::DeserializeOwned;
use tokio::sync::RwLock;

const JWKS_TTL: Duration = Duration::from_secs(3600);
/// An unknown `kid` triggers a refetch, but not more often than this.
const REFETCH_AFTER: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwksError {
    #[error("token rejected: {0}")]
    Invalid(String),
    #[error("signing keys unavailable: {0}")]
    Keys(String),
}

pub struct Jwks {
    http: reqwest::Client,
    url: String,
    keys: RwLock<Option<(Instant, JwkSet)>>,
}

impl Jwks {
    pub fn new(url: &str) -> Result<Self, reqwest::Error> {
        crate::install_tls_provider();
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()?;
        Ok(Self {
            http,
            url: url.to_owned(),
            keys: RwLock::new(None),
        })
    }

    /// The claims of `token`: RS256 only (RFC 8725: the algorithm is ours to choose, never
    /// the token's), signed by a key of the set, for `audience`, from one of `issuers`,
    /// unexpired (30 s of leeway), with `exp`, `iat`, `iss` and `aud` present.
    pub async fn decode<C: DeserializeOwned>(
        &self,
        token: &str,
        audience: &str,
        issuers: &[String],
    ) -> Result<C, JwksError> {
        let header =
            jsonwebtoken::decode_header(token).map_err(|e| JwksError::Invalid(e.to_string()))?;
        if header.alg != Algorithm::RS256 {
            return Err(JwksError::Invalid(format!(
                "algorithm {:?} not allowed",
                header.alg
            )));
        }
        let key = self.key(header.kid.as_deref()).await?;
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&[audience]);
        validation.set_issuer(issuers);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud"]);
        validation.leeway = 30;
        jsonwebtoken::decode::<C>(token, &key, &validation)
            .map(|data| data.claims)
            .map_err(|e| JwksError::Invalid(e.to_string()))
    }

    async fn key(&self, kid: Option<&str>) -> Result<DecodingKey, JwksError> {
        {
            let cached = self.keys.read().await;
            if let Some((fetched, set)) = cached.as_ref()
                && fetched.elapsed() < JWKS_TTL
            {
                if let Some(key) = find(set, kid) {
                    return key;
                }
                if fetched.elapsed() < REFETCH_AFTER {
                    return Err(JwksError::Invalid("unknown key id".into()));
                }
            }
        }
        let mut cached = self.keys.write().await;
        let set = self.fetch().await?;
        let key =
            find(&set, kid).unwrap_or_else(|| Err(JwksError::Invalid("unknown key id".into())));
        *cached = Some((Instant::now(), set));
        key
    }

    async fn fetch(&self) -> Result<JwkSet, JwksError> {
        let response = self
            .http
            .get(&self.url)
            .send()
            .await
            .map_err(|e| JwksError::Keys(e.to_string()))?;
        if !response.status().is_success() {
            return Err(JwksError::Keys(format!(
                "JWKS answered {}",
                response.status()
            )));
        }
        response
            .json()
            .await
            .map_err(|e| JwksError::Keys(e.to_string()))
    }
}

fn find(set: &JwkSet, kid: Option<&str>) -> Option<Result<DecodingKey, JwksError>> {
    let jwk = match kid {
        Some(kid) => set.find(kid)?,
        // A key without `kid` can only be matched when it is the only one.
        None if set.keys.len() == 1 => &set.keys[0],
        None => return None,
    };
    Some(DecodingKey::from_jwk(jwk).map_err(|e| JwksError::Keys(e.to_string())))
}
