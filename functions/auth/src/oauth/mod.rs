//! Sign-in with Google and Kakao (OAuth 2.0 with PKCE; OpenID Connect for Google).
//!
//! `GET /google` (or `/kakao`) sends the browser to the provider with a `state`, a PKCE
//! challenge and, for Google, a `nonce`; what the callback needs to check them travels in a
//! signed, HttpOnly cookie bound to this browser for ten minutes, and each state is accepted
//! once (a Redis key every instance sees). The callback exchanges the code, learns who signed
//! in, links or makes the account (`accounts::identities`), and sends the browser to
//! `FRONTEND_URL/auth/callback?code=<one-time code>`; the app trades that code for tokens
//! with `POST /oauth/exchange` within 60 s, once. Anything wrong sends the browser to
//! `FRONTEND_URL/auth/callback?error=<code>` without details (they are logged).
//!
//! The one-time code is bound to the app that started the sign-in, as PKCE binds the
//! provider's code to us (RFC 7636, S256): the app sends `code_challenge` =
//! BASE64URL(SHA-256(verifier)) to `GET /{provider}` and its `code_verifier` with the code.
//! A code that reached another app — an attacker's own sign-in's code slipped into someone's
//! browser, which would sign them in to the attacker's account and file their journal
//! there — opens nothing without the verifier only the starting app holds.

mod http;
pub mod providers;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use oauth2::{AuthorizationCode, CsrfToken, PkceCodeChallenge, PkceCodeVerifier, Scope};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use shared::domain::accounts::identities::{self, Provider};
use shared::domain::accounts::{self, Purpose, one_time};
use shared::envelope::Envelope;
use shared::http::{Json, Query};
use shared::locale::Lang;
use shared::{ApiError, ApiResult, AppState, Fields, Reply};
use utoipa::{IntoParams, ToSchema};

use crate::AuthPayload;
use providers::Providers;

/// The providers, made from the settings on first use.
pub type ProvidersCell = Arc<OnceLock<Result<Providers, String>>>;

const COOKIE: &str = "mindpause_oauth";
/// How long a browser has to come back from the provider.
const PENDING: Duration = Duration::from_secs(600);
const SCOPE: &str = "oauth-state";

/// Why a sign-in did not happen, as the frontend is told (`?error=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The person said no at the provider.
    AccessDenied,
    /// No, a foreign, an expired or an already used state: start again.
    InvalidState,
    /// The provider's answer could not be used (exchange failed, a token refused).
    ProviderError,
    /// This provider is not configured here.
    ProviderUnavailable,
    /// The app started the sign-in without a valid `code_challenge` (or with a method other
    /// than S256).
    InvalidRequest,
    ServerError,
}

impl Failure {
    fn code(self) -> &'static str {
        match self {
            Self::AccessDenied => "access_denied",
            Self::InvalidState => "invalid_state",
            Self::ProviderError => "provider_error",
            Self::ProviderUnavailable => "provider_unavailable",
            Self::InvalidRequest => "invalid_request",
            Self::ServerError => "server_error",
        }
    }
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        tracing::error!(error = %shared::error::ErrorChain(&e), "a sign-in failed on our side");
        Self::ServerError
    }
}

/// What the callback checks, carried by the cookie (signed: the browser cannot change it).
#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    provider: String,
    state: String,
    verifier: String,
    nonce: Option<String>,
    /// The app's challenge, which the one-time code will be bound to.
    app_challenge: String,
    expires: i64,
}

/// RFC 7636's S256 challenge: BASE64URL(SHA-256(verifier)) without padding, 43 characters.
fn app_challenge(raw: &str) -> Result<String, &'static str> {
    let valid = raw.len() == 43
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
    if valid {
        Ok(raw.to_owned())
    } else {
        Err("must be BASE64URL(SHA-256(code_verifier)) without padding: 43 characters")
    }
}

/// The challenge of a well-formed verifier (RFC 7636: 43 to 128 characters of
/// `A-Z a-z 0-9 - . _ ~`).
fn challenge_of(verifier: &str) -> Result<String, &'static str> {
    let valid = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if valid {
        Ok(URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())))
    } else {
        Err("must be 43 to 128 characters of A-Z, a-z, 0-9, -, ., _ and ~")
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StartParams {
    /// BASE64URL(SHA-256(code_verifier)), no padding: the one-time code the sign-in ends
    /// with is usable only with that verifier.
    #[param(required = true, pattern = "^[A-Za-z0-9_-]{43}$")]
    code_challenge: Option<String>,
    /// `S256` (the default; `plain` is not taken).
    #[param(pattern = "^S256$")]
    code_challenge_method: Option<String>,
}

fn provider(name: &str) -> Option<Provider> {
    match name {
        "google" => Some(Provider::Google),
        "kakao" => Some(Provider::Kakao),
        _ => None,
    }
}

fn random() -> String {
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    URL_SAFE_NO_PAD.encode(raw)
}

fn providers<'a>(state: &AppState, cell: &'a ProvidersCell) -> Result<&'a Providers, Failure> {
    cell.get_or_init(|| Providers::new(&state.settings.oauth))
        .as_ref()
        .map_err(|e| {
            tracing::error!(error = %e, "the sign-in providers could not be set up");
            Failure::ServerError
        })
}

/// The cookie's path: the auth function's own (where the callbacks are).
fn cookie_path(state: &AppState) -> String {
    reqwest::Url::parse(&state.settings.oauth.redirect_base)
        .map(|u| u.path().to_owned())
        .unwrap_or_else(|_| "/".to_owned())
}

fn cookie(state: &AppState, value: &str, max_age: u64) -> HeaderValue {
    let secure = if state.settings.is_production() {
        "; Secure"
    } else {
        ""
    };
    let text = format!(
        "{COOKIE}={value}; Path={}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}",
        cookie_path(state)
    );
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn redirect(location: &str, cookie: HeaderValue) -> Response {
    match HeaderValue::from_str(location) {
        Ok(location) => (
            StatusCode::FOUND,
            [(header::LOCATION, location), (header::SET_COOKIE, cookie)],
        )
            .into_response(),
        Err(e) => ApiError::internal(e).into_response(),
    }
}

/// Back to the app with `?code=` or `?error=`; the pending sign-in's cookie is cleared.
fn back_to_app(state: &AppState, outcome: Result<String, Failure>) -> Response {
    let query = match &outcome {
        Ok(code) => format!("code={code}"),
        Err(failure) => format!("error={}", failure.code()),
    };
    let location = format!("{}/auth/callback?{query}", state.settings.frontend_url);
    redirect(&location, cookie(state, "", 0))
}

/// Start signing in with `google` or `kakao`: a redirect to the provider. The app's
/// `code_challenge` binds the one-time code the sign-in ends with to its `code_verifier`.
#[utoipa::path(get, path = "/{provider}", tag = "auth",
    params(("provider" = String, Path, description = "`google` or `kakao`"), StartParams),
    responses(
        (status = 302, description = "To the provider (state, PKCE S256, nonce); back to the app with `error=provider_unavailable` for a provider not configured here, `error=invalid_request` without a valid `code_challenge` (or with a method other than S256)"),
        (status = 404, description = "NOT_FOUND: no such provider"),
    ))]
#[tracing::instrument(skip_all)]
pub async fn start(
    State(state): State<AppState>,
    Extension(cell): Extension<ProvidersCell>,
    Path(name): Path<String>,
    Query(params): Query<StartParams>,
) -> Response {
    let Some(which) = provider(&name) else {
        return ApiError::not_found().into_response();
    };
    // A browser is at this address, not a program that reads JSON: like every other failure
    // of a sign-in, a missing challenge sends it back to the app (checked here rather than by
    // the extractor, so an unknown provider is still 404).
    let challenge = params.code_challenge.as_deref().map(app_challenge);
    let method_ok = params
        .code_challenge_method
        .as_deref()
        .is_none_or(|m| m == "S256");
    let app_challenge = match challenge {
        Some(Ok(challenge)) if method_ok => challenge,
        _ => return back_to_app(&state, Err(Failure::InvalidRequest)),
    };
    let configured = match providers(&state, &cell).map(|p| p.get(which)) {
        Ok(Some(configured)) => configured,
        Ok(None) => return back_to_app(&state, Err(Failure::ProviderUnavailable)),
        Err(failure) => return back_to_app(&state, Err(failure)),
    };
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let nonce = (which == Provider::Google).then(random);
    let pending = Pending {
        provider: name,
        state: random(),
        verifier: verifier.secret().clone(),
        nonce: nonce.clone(),
        app_challenge,
        expires: Utc::now().timestamp() + PENDING.as_secs() as i64,
    };
    let csrf = pending.state.clone();
    let mut request = configured
        .client
        .authorize_url(move || CsrfToken::new(csrf))
        .add_scopes(
            configured
                .scopes()
                .iter()
                .map(|s| Scope::new((*s).to_owned())),
        )
        .set_pkce_challenge(challenge);
    if let Some(nonce) = &nonce {
        request = request.add_extra_param("nonce", nonce);
    }
    let (url, _) = request.url();
    let value = state.cursors.encode(SCOPE, &pending);
    redirect(url.as_str(), cookie(&state, &value, PENDING.as_secs()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    /// The provider's refusal (`access_denied` when the person said no).
    error: Option<String>,
}

/// Where the provider sends the browser back: to the app with a one-time code, or an error.
#[utoipa::path(get, path = "/{provider}/callback", tag = "auth",
    params(("provider" = String, Path, description = "`google` or `kakao`"), CallbackParams),
    responses(
        (status = 302, description = "To `FRONTEND_URL/auth/callback?code=<one-time code>` or `?error=access_denied|invalid_state|provider_error|provider_unavailable|server_error`"),
        (status = 404, description = "NOT_FOUND: no such provider"),
    ))]
#[tracing::instrument(skip_all)]
pub async fn callback(
    State(state): State<AppState>,
    Extension(cell): Extension<ProvidersCell>,
    Path(name): Path<String>,
    Query(params): Query<CallbackParams>,
    headers: HeaderMap,
) -> Response {
    let Some(which) = provider(&name) else {
        return ApiError::not_found().into_response();
    };
    let outcome = finish(&state, &cell, which, &name, params, &headers).await;
    back_to_app(&state, outcome)
}

async fn finish(
    state: &AppState,
    cell: &ProvidersCell,
    which: Provider,
    name: &str,
    params: CallbackParams,
    headers: &HeaderMap,
) -> Result<String, Failure> {
    let pending = pending(state, headers)
        .filter(|p| p.provider == name && p.expires > Utc::now().timestamp())
        .ok_or(Failure::InvalidState)?;
    let ours = |returned: &str| same(returned.as_bytes(), pending.state.as_bytes());
    // A refusal may come without the state (RFC 6749 wants it; not every provider sends
    // it): it signs no one in, so this browser's pending sign-in is enough to report it.
    if params.error.is_some() && params.state.as_deref().is_none_or(ours) {
        return Err(Failure::AccessDenied);
    }
    if !params.state.as_deref().is_some_and(ours) {
        return Err(Failure::InvalidState);
    }
    let code = params.code.ok_or(Failure::InvalidState)?;
    // Once: a replayed callback (the same state) is refused on every instance.
    let used = format!(
        "oauth-state:{}",
        URL_SAFE_NO_PAD.encode(Sha256::digest(&pending.state))
    );
    if !state.cache.set_nx(&used, "1", PENDING).await {
        return Err(Failure::InvalidState);
    }
    let providers = providers(state, cell)?;
    let configured = providers.get(which).ok_or(Failure::ProviderUnavailable)?;
    let token = configured
        .client
        .exchange_code(AuthorizationCode::new(code))
        .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier))
        .request_async(&providers.http)
        .await
        .map_err(|e| {
            tracing::warn!(error = %shared::error::ErrorChain(&e), provider = name, "the code exchange failed");
            Failure::ProviderError
        })?;
    let identity = configured
        .identity(&token, pending.nonce.as_deref(), &providers.http)
        .await?;
    // Twice at most: a first sign-in racing the same identity's loses the link and finds it.
    for attempt in 0..2 {
        let mut tx = state.db.begin().await.map_err(ApiError::from)?;
        match identities::sign_in(&mut tx, &identity, Lang::current()).await {
            Ok((user, created)) => {
                let code = one_time::issue_bound(
                    &mut tx,
                    user.id,
                    Purpose::OAuthExchange,
                    &pending.app_challenge,
                )
                .await?;
                tx.commit().await.map_err(ApiError::from)?;
                tracing::info!(user_id = %user.id, provider = name, created, "signed in through a provider");
                return Ok(code);
            }
            Err(e) if attempt == 0 && e.error_code() == shared::ErrorCode::Conflict => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Failure::ServerError)
}

fn pending(state: &AppState, headers: &HeaderMap) -> Option<Pending> {
    let cookies = headers.get(header::COOKIE)?.to_str().ok()?;
    let value = cookies
        .split(';')
        .filter_map(|c| c.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)?
        .1;
    state.cursors.decode(SCOPE, value).ok()
}

/// Equal, in a time that does not depend on where they differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExchangeRequest {
    /// The one-time code the callback put in the app's URL.
    pub code: String,
    /// The verifier whose challenge the app sent to `GET /{provider}`.
    #[schema(
        min_length = 43,
        max_length = 128,
        pattern = "^[A-Za-z0-9._~-]{43,128}$"
    )]
    pub code_verifier: String,
}

/// Trade the one-time code of a provider sign-in, with the verifier of the app that started
/// it, for the user and tokens (once, within 60 s).
#[utoipa::path(post, path = "/oauth/exchange", tag = "auth", request_body = ExchangeRequest,
    responses(
        (status = 200, description = "Signed in", body = Envelope<AuthPayload>),
        (status = 400, description = "INVALID_TOKEN: unknown, used or expired code, or a verifier not of the app that started the sign-in"),
        (status = 403, description = "ACCOUNT_SUSPENDED"),
        (status = 422, description = "VALIDATION_ERROR: a malformed `code_verifier`"),
    ))]
#[tracing::instrument(skip_all)]
pub async fn exchange(
    State(state): State<AppState>,
    Json(body): Json<ExchangeRequest>,
) -> ApiResult<Reply<AuthPayload>> {
    let mut f = Fields::default();
    let challenge = f.check("code_verifier", challenge_of(&body.code_verifier));
    let challenge = f.finish(challenge)?;
    let mut tx = state.db.begin().await?;
    let user_id =
        one_time::consume_bound(&mut tx, &body.code, &challenge, Purpose::OAuthExchange).await?;
    let user = accounts::find(&mut tx, user_id)
        .await?
        .ok_or_else(|| ApiError::code(shared::ErrorCode::InvalidToken))?;
    tx.commit().await?;
    crate::handlers::open_session(&state, user).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::testing::schema_of;

    #[test]
    fn a_verifier_s_challenge_is_s256_and_the_document_states_its_bounds() {
        assert_eq!(
            challenge_of("the-app-verifier-kept-in-session-storage-0123456789"),
            Ok("-wozi0PsRhO7ci6UiYrf28aC4ZUF-ktPGQNwBqB4s8M".to_owned())
        );
        let schema = &schema_of::<ExchangeRequest>()["properties"]["code_verifier"];
        let (min, max) = (
            schema["minLength"].as_u64().unwrap() as usize,
            schema["maxLength"].as_u64().unwrap() as usize,
        );
        assert!(challenge_of(&"a".repeat(min)).is_ok());
        assert!(challenge_of(&"a".repeat(max)).is_ok());
        assert!(challenge_of(&"a".repeat(min - 1)).is_err());
        assert!(challenge_of(&"a".repeat(max + 1)).is_err());
        assert!(challenge_of(&format!("{}+", "a".repeat(min))).is_err());
        let challenge = challenge_of(&"a".repeat(min)).unwrap();
        assert_eq!(app_challenge(&challenge), Ok(challenge.clone()));
        assert!(app_challenge(&challenge[1..]).is_err());
        assert!(app_challenge(&format!("{}=", &challenge[1..])).is_err());
    }
}
