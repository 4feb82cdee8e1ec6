//! Access and refresh tokens (RFC 8725): one allowed algorithm per kind, explicit `typ`,
//! separate keys, and `exp`, `iss`, `aud` always checked. Access tokens are signed with
//! Ed25519 (EdDSA) by the functions that make tokens and verified everywhere with the public
//! keys, chosen by `kid`; refresh tokens are HMAC-SHA256 and never leave auth and users.

#[cfg(feature = "oidc")]
pub mod jwks;
pub mod keys;

use std::collections::HashMap;
use std::sync::Mutex;

use axum::http::{HeaderMap, header};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Validation};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::config::JwtSettings;
use crate::error::{ApiError, ErrorCode};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum Role {
    User,
    Admin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Access,
    Refresh,
}

impl TokenKind {
    /// The JOSE `typ` header of each kind (RFC 9068 for access tokens), so that one kind can
    /// never be accepted as the other even if keys were shared.
    pub fn typ(self) -> &'static str {
        match self {
            Self::Access => "at+jwt",
            Self::Refresh => "refresh+jwt",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    pub sub: Uuid,
    /// The server-side session this token belongs to.
    pub sid: Uuid,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
    pub jti: Uuid,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct RefreshClaims {
    pub sub: Uuid,
    pub sid: Uuid,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
    pub aud: String,
    pub jti: Uuid,
}

pub struct TokenKeys {
    /// Access tokens verified lately, by their exact text: a client sends the same token with
    /// every request for its lifetime, and verifying it again (a signature, JSON, three
    /// UUIDs) would give the same claims. Expiry is still checked on every use.
    verified: Mutex<HashMap<Box<str>, AccessClaims>>,
    /// The public keys of access tokens, by `kid`.
    access: HashMap<String, DecodingKey>,
    /// The key that signs access tokens, with its `kid`.
    #[cfg(feature = "signing")]
    signer: Option<(String, EncodingKey)>,
    refresh: Option<(EncodingKey, DecodingKey)>,
    access_validation: Validation,
    refresh_validation: Validation,
    pub issuer: String,
    pub audience: String,
    pub access_ttl_secs: i64,
    pub refresh_ttl_secs: i64,
}

const ACCESS_ALGORITHM: Algorithm = Algorithm::EdDSA;
const REFRESH_ALGORITHM: Algorithm = Algorithm::HS256;

impl TokenKeys {
    /// Bounds [`TokenKeys::verify_access`]'s memory (about 2 MiB).
    const MOST_VERIFIED: usize = 4096;

    pub fn new(jwt: &JwtSettings) -> Self {
        let validation = |algorithm| {
            let mut validation = Validation::new(algorithm);
            validation.algorithms = vec![algorithm];
            validation.set_issuer(&[&jwt.issuer]);
            validation.set_audience(&[&jwt.audience]);
            validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
            validation.leeway = 5;
            validation
        };
        let access = jwt
            .public_keys
            .iter()
            .map(|k| (k.kid.clone(), DecodingKey::from_ed_der(&k.x)))
            .collect();
        Self {
            verified: Mutex::default(),
            access,
            #[cfg(feature = "signing")]
            signer: jwt
                .private_key
                .as_ref()
                .map(|k| (k.public.kid.clone(), EncodingKey::from_ed_der(&k.pkcs8_der))),
            refresh: jwt.refresh_secret.as_ref().map(|secret| {
                (
                    EncodingKey::from_secret(secret.expose().as_bytes()),
                    DecodingKey::from_secret(secret.expose().as_bytes()),
                )
            }),
            access_validation: validation(ACCESS_ALGORITHM),
            refresh_validation: validation(REFRESH_ALGORITHM),
            issuer: jwt.issuer.clone(),
            audience: jwt.audience.clone(),
            access_ttl_secs: jwt.access_ttl.as_secs() as i64,
            refresh_ttl_secs: jwt.refresh_ttl.as_secs() as i64,
        }
    }

    /// Signs `claims` as a token of `kind`; a function without the keys (it should never
    /// be asked) answers 500.
    #[cfg(feature = "signing")]
    pub fn sign<T: Serialize>(&self, kind: TokenKind, claims: &T) -> Result<String, ApiError> {
        let (mut header, key) = match kind {
            TokenKind::Access => {
                let (kid, key) = self.signer.as_ref().ok_or_else(no_key)?;
                let mut header = jsonwebtoken::Header::new(ACCESS_ALGORITHM);
                header.kid = Some(kid.clone());
                (header, key)
            }
            TokenKind::Refresh => {
                let (key, _) = self.refresh.as_ref().ok_or_else(no_key)?;
                (jsonwebtoken::Header::new(REFRESH_ALGORITHM), key)
            }
        };
        header.typ = Some(kind.typ().to_owned());
        jsonwebtoken::encode(&header, claims, key).map_err(ApiError::internal)
    }

    /// Verifies signature, algorithm, `kid` (access tokens), `typ`, `exp`, `iss` and `aud`.
    /// Expiry is TOKEN_EXPIRED (the client should refresh); anything else is UNAUTHORIZED.
    pub fn verify<T: DeserializeOwned>(&self, kind: TokenKind, token: &str) -> Result<T, ApiError> {
        let (key, validation) = match kind {
            TokenKind::Access => {
                let header =
                    jsonwebtoken::decode_header(token).map_err(|_| ApiError::unauthorized())?;
                let key = header.kid.as_deref().and_then(|kid| self.access.get(kid));
                (key, &self.access_validation)
            }
            TokenKind::Refresh => (
                self.refresh.as_ref().map(|(_, d)| d),
                &self.refresh_validation,
            ),
        };
        let key = key.ok_or_else(ApiError::unauthorized)?;
        let data =
            jsonwebtoken::decode::<T>(token, key, validation).map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => ApiError::code(ErrorCode::TokenExpired),
                _ => ApiError::unauthorized(),
            })?;
        if data.header.typ.as_deref() != Some(kind.typ()) {
            return Err(ApiError::unauthorized());
        }
        Ok(data.claims)
    }

    /// [`TokenKeys::verify`] of an access token, remembering the claims of a valid one.
    pub fn verify_access(&self, token: &str) -> Result<AccessClaims, ApiError> {
        let fresh = |claims: &AccessClaims| {
            claims.exp + self.access_validation.leeway as i64 >= chrono::Utc::now().timestamp()
        };
        let mut verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(claims) = verified.get(token).filter(|c| fresh(c)) {
            return Ok(claims.clone());
        }
        drop(verified);
        let claims: AccessClaims = self.verify(TokenKind::Access, token)?;
        verified = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if verified.len() >= Self::MOST_VERIFIED {
            verified.retain(|_, c| fresh(c));
            if verified.len() >= Self::MOST_VERIFIED / 2 {
                verified.clear();
            }
        }
        verified.insert(token.into(), claims.clone());
        Ok(claims)
    }
}

#[cfg(feature = "signing")]
fn no_key() -> ApiError {
    ApiError::internal("this function holds no key to sign tokens")
}

/// The raw bearer token of a request, if any.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}
