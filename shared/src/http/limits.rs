//! Rate limits at the HTTP edge: `RATE_LIMIT_GENERAL` on every API route, and the stricter
//! per-user limits a function declares for its own routes ([`RouteLimit`], taken by the
//! handler as [`PerUser`]).

use std::convert::Infallible;
use std::marker::PhantomData;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, IntoResponseParts, Response, ResponseParts};

use crate::auth::{AccessClaims, bearer_token};
use crate::config::{RateSpec, Settings};
use crate::error::{ApiError, RateInfo};
use crate::http::client_ip::ClientIp;
use crate::ratelimit::count;
use crate::state::AppState;

/// The bearer's claims, verified once by the general limit; the `AuthUser` extractor uses
/// them instead of verifying the token again.
#[derive(Debug, Clone)]
pub struct VerifiedBearer(pub AccessClaims);

/// `RATE_LIMIT_GENERAL` for every API route: per user when a valid bearer token is sent,
/// otherwise per client IP. A route's own limit ([`PerUser`]) or a handler's (login) gives
/// the `RateLimit-*` headers instead, when it set them.
pub async fn general_limit(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let claims = bearer_token(request.headers()).and_then(|t| state.tokens.verify_access(t).ok());
    let key = match claims {
        Some(claims) => {
            let key = format!("general:user:{}", claims.sub);
            request.extensions_mut().insert(VerifiedBearer(claims));
            key
        }
        None => {
            let ip = ClientIp::from_request(&request, state.settings.trusted_proxy_hops);
            format!("general:ip:{ip}")
        }
    };
    let info = match count(&state.cache, &key, state.settings.rate_limits.general).await {
        Ok(info) => info,
        Err(e) => return e.into_response(),
    };
    if !info.allowed {
        return ApiError::rate_limited(info).into_response();
    }
    let mut response = next.run(request).await;
    if !response.headers().contains_key("ratelimit-limit") {
        info.write_headers(response.headers_mut());
    }
    response
}

/// A stricter per-user limit that a function declares for some of its routes, e.g.
///
/// ```ignore
/// struct AiChat;
/// impl RouteLimit for AiChat {
///     const NAME: &'static str = "ai-chat";
///     fn spec(settings: &Settings) -> RateSpec { settings.rate_limits.ai_chat }
/// }
/// ```
pub trait RouteLimit: Send + Sync + 'static {
    /// The counter's name: `<NAME>:user:<id>`.
    const NAME: &'static str;
    fn spec(settings: &Settings) -> RateSpec;
}

/// Counts a request against `L` for the bearer's user; refuses with 429 RATE_LIMITED when
/// over. Taken before the body, it counts every attempt the general limit allowed. Return
/// it beside the response (`(limit, response)`): its numbers are the `RateLimit-*` headers.
/// Without a valid bearer nothing is counted: the handler's `AuthUser` refuses the request.
pub struct PerUser<L> {
    info: Option<RateInfo>,
    limit: PhantomData<L>,
}

impl<L: RouteLimit> FromRequestParts<AppState> for PerUser<L> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let user = match parts.extensions.get::<VerifiedBearer>() {
            Some(VerifiedBearer(claims)) => Some(claims.sub),
            None => bearer_token(&parts.headers)
                .and_then(|t| state.tokens.verify_access(t).ok())
                .map(|claims| claims.sub),
        };
        let info = match user {
            Some(user) => {
                let key = format!("{}:user:{user}", L::NAME);
                Some(
                    count(&state.cache, &key, L::spec(&state.settings))
                        .await?
                        .check()?,
                )
            }
            None => None,
        };
        Ok(Self {
            info,
            limit: PhantomData,
        })
    }
}

impl<L> IntoResponseParts for PerUser<L> {
    type Error = Infallible;

    fn into_response_parts(self, mut parts: ResponseParts) -> Result<ResponseParts, Infallible> {
        if let Some(info) = self.info {
            info.write_headers(parts.headers_mut());
        }
        Ok(parts)
    }
}
