//! Access and refresh tokens (RFC 8725): one allowed algorithm, explicit `typ`, separate keys,
//! and `exp`, `iss`, `aud` always checked.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::http::{HeaderMap, header};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::config::{JwtAlgorithm, JwtSettings};
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
    /// every request for its lifetime, and verifying it again (HMAC, JSON, three UUIDs) would
    /// give the same claims. Expiry is still checked on every use.
    verified: Mutex<HashMap<Box<str>, AccessClaims>>,
    algorithm: Algorithm,
    access: (EncodingKey, DecodingKey),
    refresh: (EncodingKey, DecodingKey),
    validation: Validation,
    pub issuer: String,
    pub audience: String,
    pub access_ttl_secs: i64,
    pub refresh_ttl_secs: i64,
}

impl TokenKeys {
    /// Bounds [`TokenKeys::verify_access`]'s memory (about 2 MiB).
    const MOST_VERIFIED: usize = 4096;

    pub fn new(jwt: &JwtSettings) -> Self {
        let algorithm = match jwt.algorithm {
            JwtAlgorithm::HS256 => Algorithm::HS256,
            JwtAlgorithm::HS384 => Algorithm::HS384,
            JwtAlgorithm::HS512 => Algorithm::HS512,
        };
        let keys = |secret: &str| {
            (
                EncodingKey::from_secret(secret.as_bytes()),
                DecodingKey::from_secret(secret.as_bytes()),
            )
        };
        let mut validation = Validation::new(algorithm);
        validation.algorithms = vec![algorithm];
        validation.set_issuer(&[&jwt.issuer]);
        validation.set_audience(&[&jwt.audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = 5;
        Self {
            verified: Mutex::default(),
            algorithm,
            access: keys(jwt.secret.expose()),
            refresh: keys(jwt.refresh_secret.expose()),
            validation,
            issuer: jwt.issuer.clone(),
            audience: jwt.audience.clone(),
            access_ttl_secs: jwt.access_ttl.as_secs() as i64,
            refresh_ttl_secs: jwt.refresh_ttl.as_secs() as i64,
        }
    }

    fn keys(&self, kind: TokenKind) -> &(EncodingKey, DecodingKey) {
        match kind {
            TokenKind::Access => &self.access,
            TokenKind::Refresh => &self.refresh,
        }
    }

    pub fn sign<T: Serialize>(&self, kind: TokenKind, claims: &T) -> Result<String, ApiError> {
        let mut header = Header::new(self.algorithm);
        header.typ = Some(kind.typ().to_owned());
        jsonwebtoken::encode(&header, claims, &self.keys(kind).0).map_err(ApiError::internal)
    }

    /// Verifies signature, algorithm, `typ`, `exp`, `iss` and `aud`. Expiry is
    /// TOKEN_EXPIRED (the client should refresh); anything else is UNAUTHORIZED.
    pub fn verify<T: DeserializeOwned>(&self, kind: TokenKind, token: &str) -> Result<T, ApiError> {
        let data = jsonwebtoken::decode::<T>(token, &self.keys(kind).1, &self.validation).map_err(
            |e| match e.kind() {
                ErrorKind::ExpiredSignature => ApiError::code(ErrorCode::TokenExpired),
                _ => ApiError::unauthorized(),
            },
        )?;
        if data.header.typ.as_deref() != Some(kind.typ()) {
            return Err(ApiError::unauthorized());
        }
        Ok(data.claims)
    }

    /// [`TokenKeys::verify`] of an access token, remembering the claims of a valid one.
    pub fn verify_access(&self, token: &str) -> Result<AccessClaims, ApiError> {
        let fresh = |claims: &AccessClaims| {
            claims.exp + self.validation.leeway as i64 >= chrono::Utc::now().timestamp()
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

/// The raw bearer token of a request, if any.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}
