//! One runtime, two hosts: serve a function's router on `$PORT` with graceful drain on
//! SIGTERM, or through `lambda_http` when `AWS_LAMBDA_RUNTIME_API` is set. Every function
//! gets the same edge: request id, tracing, language, panic catching, CORS, timeout, body
//! limit, envelope 404/405, `/health`, `/health/ready` and `/openapi.json`.

use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa::openapi::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::config::Settings;
use crate::envelope::Reply;
use crate::error::{ApiError, ErrorCode};
use crate::events::Events;
use crate::functions::{self, Kind};
use crate::state::AppState;

static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The API routes of a function, nested under its prefix from the function table, with
/// `RATE_LIMIT_GENERAL` applied. Returns the router and its OpenAPI document.
pub fn api(
    state: &AppState,
    name: &str,
    routes: OpenApiRouter<AppState>,
) -> (Router<AppState>, OpenApi) {
    let spec = functions::get(name);
    let prefix = spec.route.as_deref().expect("a service has a route prefix");
    api_at(state, name, prefix, routes)
}

/// [`api`] for routes mounted at an explicit `prefix`.
pub fn api_at(
    state: &AppState,
    name: &str,
    prefix: &str,
    routes: OpenApiRouter<AppState>,
) -> (Router<AppState>, OpenApi) {
    let (router, mut doc) = OpenApiRouter::with_openapi(crate::openapi::base(name))
        .nest(prefix, routes)
        .split_for_parts();
    crate::openapi::complete(&mut doc);
    let limit = crate::http::limits::GeneralLimit {
        state: state.clone(),
        bearer_routes: crate::http::limits::BearerRoutes::from_doc(&doc),
    };
    let router = router.layer(middleware::from_fn_with_state(
        limit,
        crate::http::limits::general_limit,
    ));
    (router, doc)
}

/// Wraps routes (API and worker) into the full application of one process.
pub fn app(state: AppState, routes: Router<AppState>, doc: OpenApi) -> Router {
    let doc = std::sync::Arc::new(doc);
    let settings = &state.settings;
    Router::new()
        .merge(routes)
        .route("/health", get(health))
        .route("/health/ready", get(ready))
        .route(
            "/openapi.json",
            get(move || {
                let doc = doc.clone();
                async move { axum::Json(doc.as_ref().clone()) }
            }),
        )
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(|| async { ApiError::code(ErrorCode::MethodNotAllowed) })
        // One composed layer (outermost first): each `Router::layer` call would box every
        // route once more, and every request clones each box.
        .layer(
            tower::ServiceBuilder::new()
                .layer(middleware::from_fn_with_state(
                    settings.is_production(),
                    hygiene,
                ))
                .layer(SetRequestIdLayer::new(REQUEST_ID.clone(), MakeRequestUuid))
                .layer(PropagateRequestIdLayer::new(REQUEST_ID.clone()))
                .layer(
                    TraceLayer::new_for_http()
                        .make_span_with(request_span)
                        .on_request(())
                        .on_response(DefaultOnResponse::new().level(tracing::Level::INFO))
                        .on_failure(()),
                )
                .layer(middleware::from_fn(crate::locale::middleware))
                .layer(CatchPanicLayer::custom(panic_response))
                .layer(cors(settings))
                .layer(middleware::from_fn_with_state(
                    settings.request_timeout,
                    timeout,
                ))
                .layer(DefaultBodyLimit::max(settings.body_limit_bytes)),
        )
        .with_state(state)
}

/// A client's `X-Request-Id` is kept only when short and plain (it reaches our logs); every
/// answer is `no-store` (tokens and personal data must not sit in a cache), `nosniff`, and
/// HSTS in production.
async fn hygiene(State(production): State<bool>, mut request: Request, next: Next) -> Response {
    let plain = |id: &HeaderValue| {
        let id = id.as_bytes();
        (1..=64).contains(&id.len())
            && id
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
    };
    if request
        .headers()
        .get(&REQUEST_ID)
        .is_some_and(|id| !plain(id))
    {
        request.headers_mut().remove(&REQUEST_ID);
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    // Also over SSE's `no-cache`: a streamed reply is a person's words.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if production {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    response
}

#[derive(Clone, Copy)]
struct MakeRequestUuid;

impl MakeRequestId for MakeRequestUuid {
    /// A UUIDv7 from the thread's CSPRNG (`Uuid::now_v7` makes a getrandom syscall each).
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        use rand::RngCore;
        let mut random = [0u8; 10];
        rand::thread_rng().fill_bytes(&mut random);
        let millis = chrono::Utc::now().timestamp_millis().max(0) as u64;
        let id = uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid();
        let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
        HeaderValue::from_bytes(id.hyphenated().encode_lower(&mut text).as_bytes())
            .ok()
            .map(RequestId::new)
    }
}

fn request_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    let request_id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let (trace_id, span_id) = crate::telemetry::trace_context(request.headers())
        .map(|(t, s)| (t, s.unwrap_or_default()))
        .unwrap_or_default();
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id,
        trace_id,
        span_id,
    )
}

fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("unknown panic");
    tracing::error!(panic = detail, "handler panicked");
    ApiError::code(ErrorCode::InternalError).into_response()
}

fn cors(settings: &Settings) -> CorsLayer {
    let origins: Vec<HeaderValue> = settings
        .cors_origins
        .iter()
        .filter_map(|o| HeaderValue::from_str(o).ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PATCH,
            Method::PUT,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::ACCEPT_LANGUAGE,
            REQUEST_ID.clone(),
        ])
        .expose_headers([
            REQUEST_ID.clone(),
            header::RETRY_AFTER,
            // The export's file name (`mindpause-export-YYYY-MM-DD.json`).
            header::CONTENT_DISPOSITION,
            HeaderName::from_static("ratelimit-limit"),
            HeaderName::from_static("ratelimit-remaining"),
            HeaderName::from_static("ratelimit-reset"),
        ])
        .max_age(Duration::from_secs(600))
}

/// `limit` is the state (not `AppState`): the state is cloned per request, and `AppState`'s
/// shared reference count is a contended cache line.
async fn timeout(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::unavailable("request timed out").into_response(),
    }
}

async fn health() -> Reply<serde_json::Value> {
    Reply::ok(json!({ "status": "ok" }))
}

/// Ready while the database answers (503 naming it otherwise). Redis is reported, but a
/// failing Redis only degrades the instance (it runs alone: see `cache::outage`), so that
/// an outage of Redis never takes every instance out of service at once.
async fn ready(State(state): State<AppState>) -> Response {
    let (db, cache) = tokio::join!(crate::db::ping(&state.db), state.cache.ping());
    let redis = match cache {
        Ok(()) if !state.cache.is_shared() => "in-process",
        Ok(()) if !state.cache.is_degraded() => "ok",
        Ok(()) => "recovering",
        Err(e) => {
            tracing::warn!(error = %crate::error::ErrorChain(&e), "readiness: redis degraded");
            "degraded"
        }
    };
    match db {
        Ok(()) => Reply::ok(json!({ "status": "ready", "database": "ok", "redis": redis }))
            .into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: database");
            ApiError::with_details(
                ErrorCode::ServiceUnavailable,
                json!({ "failing": ["database"], "redis": redis }),
            )
            .into_response()
        }
    }
}

/// Serves `app` until SIGTERM/Ctrl-C, letting in-flight requests finish; or, when
/// `AWS_LAMBDA_RUNTIME_API` is set, hands it to the Lambda runtime.
pub async fn serve(app: Router, settings: &Settings) -> std::io::Result<()> {
    #[cfg(feature = "lambda")]
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        tracing::info!("serving through the AWS Lambda runtime");
        return lambda_http::run(app)
            .await
            .map_err(|e| std::io::Error::other(e.to_string()));
    }
    let listener = tokio::net::TcpListener::bind((settings.host.as_str(), settings.port)).await?;
    serve_on(listener, app, settings.request_timeout).await
}

/// Serves `app` on `listener` until SIGTERM/Ctrl-C, then drains in-flight requests.
///
/// Our own accept loop rather than `axum::serve`, which gives hyper no timer: without one,
/// hyper's header-read timeout never fires and a client that trickles its headers
/// (slowloris) holds a connection forever. Here the headers of a request must arrive within
/// `header_timeout` (`REQUEST_TIMEOUT_SECS`, which bounds the rest of the request), and an
/// idle keep-alive connection, or one that never sends a byte, is closed after it too (hyper
/// starts the clock when it waits for a request's first line).
///
/// HTTP/1.1 only: Cloud Run's front end and the load balancer speak HTTP/2 to clients and
/// HTTP/1.1 to the container (no `h2c` port is declared). Serving HTTP/2 as well meant
/// sniffing each connection's first bytes with no deadline (a silent connection was held
/// for ever) and HTTP/2 connections without one.
pub async fn serve_on(
    listener: tokio::net::TcpListener,
    app: Router,
    header_timeout: Duration,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;

    tracing::info!(address = %listener.local_addr()?, "listening");
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let connections = hyper_util::server::graceful::GracefulShutdown::new();
    let mut stop = std::pin::pin!(shutdown_signal());
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let service =
            app.clone()
                .map_request(move |mut request: hyper::Request<hyper::body::Incoming>| {
                    request
                        .extensions_mut()
                        .insert(axum::extract::ConnectInfo(peer));
                    request.map(axum::body::Body::new)
                });
        let connection = builder.serve_connection(
            TokioIo::new(stream),
            hyper_util::service::TowerToHyperService::new(service),
        );
        let connection = connections.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    connections.shutdown().await;
    Ok(())
}

/// A failed accept: a connection given up by its client is nothing; anything else (out of
/// file descriptors) is logged and waited out briefly instead of spinning.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if !matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        tracing::error!(error = %e, "accepting a connection failed");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Resolves on SIGTERM (Cloud Run's stop) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: draining in-flight requests");
}

/// Everything a service's `main` needs: settings, logs, state, its routes under its prefix.
pub async fn run_service(name: &str, routes: impl FnOnce() -> OpenApiRouter<AppState>) {
    let state = start(name, Kind::Service);
    let (router, doc) = api(&state, name, routes());
    finish(state, router, doc).await
}

/// Everything a worker's `main` needs: settings, logs, state, its push routes (which may
/// need the state's settings to build their clients).
pub async fn run_worker(
    name: &str,
    routes: impl FnOnce(&AppState) -> Result<Router<AppState>, crate::config::ConfigError>,
) {
    let state = start(name, Kind::Worker);
    let routes = routes(&state).unwrap_or_else(|e| exit_config(e));
    let doc = crate::openapi::base(name);
    finish(state, routes, doc).await
}

fn start(name: &str, kind: Kind) -> AppState {
    let settings = Settings::from_env_or_exit(kind);
    crate::telemetry::init(&settings);
    assert_eq!(
        functions::get(name).kind,
        kind,
        "function {name}: its kind in functions.json differs"
    );
    // Only the functions that make tokens hold (and need) the signing keys.
    if functions::get(name).features.iter().any(|f| f == "signing") {
        settings
            .require_signing_keys()
            .unwrap_or_else(|e| exit_config(e));
    }
    let events = Events::from_settings(&settings).unwrap_or_else(|e| exit_config(e));
    AppState::new(settings, events).unwrap_or_else(|e| exit_config(e))
}

async fn finish(state: AppState, routes: Router<AppState>, doc: OpenApi) {
    let app = app(state.clone(), routes, doc);
    if let Err(e) = serve(app, &state.settings).await {
        tracing::error!(error = %e, "server error");
        std::process::exit(1);
    }
    state.events.drain().await;
}

fn exit_config(e: crate::config::ConfigError) -> ! {
    eprintln!("{e}");
    std::process::exit(78)
}
