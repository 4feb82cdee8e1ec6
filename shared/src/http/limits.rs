//! Rate limits at the HTTP edge: `RATE_LIMIT_GENERAL` on every API route, and the stricter
//! per-user limits a function declares for its own routes ([`RouteLimit`], taken by the
//! handler as [`PerUser`]).
//!
//! Who is counted: on a route whose OpenAPI operation declares the bearer scheme, a live
//! session's user (its gate open: a revoked session's token buys nothing), under a per-address
//! ceiling of [`CEILING`] times the limit (people share addresses behind NAT); every other
//! request, anonymous routes with or without a bearer included, counts its client address.

use std::collections::HashSet;
use std::convert::Infallible;
use std::marker::PhantomData;
use std::sync::Arc;

use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::Method;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, IntoResponseParts, Response, ResponseParts};
use utoipa::openapi::OpenApi;

use crate::auth::{AccessClaims, bearer_token};
use crate::config::RateSpec;
use crate::domain::accounts::sessions;
use crate::error::{ApiError, RateInfo};
use crate::http::client_ip::ClientIp;
use crate::ratelimit::count;
use crate::state::AppState;

/// How many users' worth of requests one address may send to authenticated routes.
pub const CEILING: u64 = 10;

/// A live session's claims, checked once by the general limit (signature, expiry and the
/// session's gate); the `AuthUser` extractor uses them instead of checking again.
#[derive(Debug, Clone)]
pub struct LiveSession(pub AccessClaims);

/// The routes (method and path template, as `MatchedPath` gives them) whose operation
/// declares the bearer scheme, read from a function's OpenAPI document.
#[derive(Debug, Clone, Default)]
pub struct BearerRoutes(Arc<HashSet<(Method, String)>>);

impl BearerRoutes {
    pub fn from_doc(doc: &OpenApi) -> Self {
        let mut routes = HashSet::new();
        for (path, item) in &doc.paths.paths {
            let operations = [
                (Method::GET, &item.get),
                (Method::POST, &item.post),
                (Method::PUT, &item.put),
                (Method::PATCH, &item.patch),
                (Method::DELETE, &item.delete),
            ];
            for (method, operation) in operations {
                let declares_bearer = operation
                    .as_ref()
                    .and_then(|o| o.security.as_ref())
                    .is_some_and(|s| !s.is_empty());
                if declares_bearer {
                    routes.insert((method, path.clone()));
                }
            }
        }
        Self(Arc::new(routes))
    }

    fn contains(&self, method: &Method, path: &str) -> bool {
        self.0.contains(&(method.clone(), path.to_owned()))
    }
}

/// What the general limit needs: the state and the function's bearer routes.
#[derive(Clone)]
pub struct GeneralLimit {
    pub state: AppState,
    pub bearer_routes: BearerRoutes,
}

/// `RATE_LIMIT_GENERAL` for every API route (see the module's docs for who is counted). A
/// route's own limit ([`PerUser`]) or a handler's (login) gives the `RateLimit-*` headers
/// instead, when it set them.
pub async fn general_limit(
    State(limit): State<GeneralLimit>,
    mut request: Request,
    next: Next,
) -> Response {
    let state = &limit.state;
    let spec = state.settings.rate_limits.general;
    let ip = ClientIp::from_request(&request, state.settings.trusted_proxy_hops);
    let bearer_route = request
        .extensions()
        .get::<MatchedPath>()
        .is_some_and(|path| {
            limit
                .bearer_routes
                .contains(request.method(), path.as_str())
        });
    let claims = bearer_route
        .then(|| bearer_token(request.headers()))
        .flatten()
        .and_then(|token| state.tokens.verify_access(token).ok());
    let live = match claims {
        Some(claims) => live(state, claims).await,
        None => None,
    };
    let counted = match &live {
        Some(claims) => {
            let ceiling = spec.times(CEILING);
            match count(&state.cache, &format!("general:ceiling:{ip}"), ceiling).await {
                Ok(shared) if shared.allowed => {
                    count(&state.cache, &format!("general:user:{}", claims.sub), spec).await
                }
                other => other,
            }
        }
        None => count(&state.cache, &format!("general:ip:{ip}"), spec).await,
    };
    let info = match counted {
        Ok(info) => info,
        Err(e) => return e.into_response(),
    };
    if !info.allowed {
        return ApiError::rate_limited(info).into_response();
    }
    if let Some(claims) = live {
        request.extensions_mut().insert(LiveSession(claims));
    }
    let mut response = next.run(request).await;
    if !response.headers().contains_key("ratelimit-limit") {
        info.write_headers(response.headers_mut());
    }
    response
}

/// The claims when their session may be used now. Anything else (a closed gate, an
/// unreachable Redis) is left to `AuthUser`, which answers with the reason.
async fn live(state: &AppState, claims: AccessClaims) -> Option<AccessClaims> {
    sessions::check_access(state, &claims).await.ok()?;
    Some(claims)
}

/// A stricter per-user limit that a function declares for some of its routes, with the
/// variable that sets it (parsed at start with every `RATE_LIMIT_*`) and its default, e.g.
///
/// ```ignore
/// struct AiChat;
/// impl RouteLimit for AiChat {
///     const NAME: &'static str = "ai-chat";
///     const VAR: &'static str = "RATE_LIMIT_AI_CHAT";
///     const DEFAULT: RateSpec = RateSpec::per_minutes(30, 60);
/// }
/// ```
pub trait RouteLimit: Send + Sync + 'static {
    /// The counter's name: `<NAME>:user:<id>`.
    const NAME: &'static str;
    const VAR: &'static str;
    const DEFAULT: RateSpec;
}

/// Counts a request against `L` for the live session's user; refuses with 429 RATE_LIMITED
/// when over. Taken before the body, it counts every attempt the general limit allowed.
/// Return it beside the response (`(limit, response)`): its numbers are the `RateLimit-*`
/// headers. A bearer that is not a live session's is refused here (401/403, as `AuthUser`
/// would); without a bearer nothing is counted and the handler's `AuthUser` refuses.
pub struct PerUser<L> {
    info: Option<RateInfo>,
    limit: PhantomData<L>,
}

impl<L: RouteLimit> FromRequestParts<AppState> for PerUser<L> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let user = match parts.extensions.get::<LiveSession>() {
            Some(LiveSession(claims)) => Some(claims.sub),
            // Not found live by the general limit (a route that does not declare its bearer,
            // a failed gate read): the session is checked here, so no accepted bearer goes
            // uncounted.
            None => match bearer_token(&parts.headers) {
                Some(token) => {
                    let claims = state.tokens.verify_access(token)?;
                    sessions::check_access(state, &claims).await?;
                    Some(claims.sub)
                }
                None => None,
            },
        };
        let info = match user {
            Some(user) => {
                let key = format!("{}:user:{user}", L::NAME);
                let spec = state.settings.rate_limits.declared(L::VAR, L::DEFAULT);
                Some(count(&state.cache, &key, spec).await?.check()?)
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
