//! Verifies the OIDC token Pub/Sub attaches to push requests: RS256 signed by a key of
//! Google's JWKS (fetched and cached), `aud` = our push audience, `iss` = Google, unexpired,
//! and `email` = the push service account with `email_verified`.

use serde::Deserialize;

use crate::auth::jwks::{Jwks, JwksError};
use crate::config::{ConfigError, PushAuthSettings};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OidcError {
    #[error("missing bearer token")]
    Missing,
    #[error(transparent)]
    Token(#[from] JwksError),
    #[error("unexpected service account")]
    WrongAccount,
}

#[derive(Debug, Deserialize)]
pub struct PushClaims {
    pub email: Option<String>,
    #[serde(default)]
    pub email_verified: bool,
    pub sub: Option<String>,
}

pub struct OidcVerifier {
    jwks: Jwks,
    audience: String,
    issuers: Vec<String>,
    service_account: Option<String>,
}

impl OidcVerifier {
    pub fn new(settings: &PushAuthSettings) -> Result<Self, ConfigError> {
        let audience = settings.audience.clone().ok_or_else(|| {
            ConfigError::new("PUSH_AUDIENCE", "is required when PUSH_AUTH_VERIFY is on")
        })?;
        let jwks = Jwks::new(&settings.jwks_url)
            .map_err(|e| ConfigError::new("GOOGLE_JWKS_URL", e.to_string()))?;
        Ok(Self {
            jwks,
            audience,
            issuers: settings.issuers.clone(),
            service_account: settings.service_account.clone(),
        })
    }

    pub async fn verify(&self, token: &str) -> Result<PushClaims, OidcError> {
        if token.is_empty() {
            return Err(OidcError::Missing);
        }
        let claims: PushClaims = self
            .jwks
            .decode(token, &self.audience, &self.issuers)
            .await?;
        if let Some(expected) = &self.service_account
            && (!claims.email_verified || claims.email.as_deref() != Some(expected.as_str()))
        {
            return Err(OidcError::WrongAccount);
        }
        Ok(claims)
    }
}
