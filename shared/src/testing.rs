//! Helpers for tests against the real PostgreSQL and Redis that `scripts/test.sh` starts:
//! [`Harness`] (a function as its binary serves it), settings, state, requests through a
//! router without a network, and envelope checks.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use sqlx::PgPool;
use tower::ServiceExt;
use uuid::Uuid;

use crate::AppState;
use crate::auth::Role;
use crate::cache::Cache;
use crate::config::Settings;
use crate::events::email::{EmailEvent, EmailRequest};
use crate::events::{Events, InProcessBus};

/// The Redis that `scripts/test.sh` started. Tests that need it fail loudly without it.
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").expect("REDIS_URL is unset: run the tests with ./scripts/test.sh")
}

pub fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .expect("DATABASE_URL is unset: run the tests with ./scripts/test.sh")
}

/// With `TEST_LOG_DIR` set (`scripts/test.sh` sets it), everything this test process logs
/// from DEBUG up goes to a file of its own there, in production's JSON shape, so that
/// `scripts/scan-test-logs.sh` can search the logs of the whole suite for what no log may
/// hold (tokens, passwords, email addresses, anyone's words). [`settings`] calls it with
/// the first settings of the process: the subscriber is production's, Sentry included when
/// those settings name a DSN (a later `telemetry::init` is then a no-op).
fn record_logs(settings: &Settings) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let Some(dir) = std::env::var_os("TEST_LOG_DIR") else {
            return;
        };
        let path = std::path::Path::new(&dir).join(format!("test-{}.log", std::process::id()));
        let file = std::fs::File::create(&path).expect("a log file in TEST_LOG_DIR");
        crate::telemetry::install(
            settings,
            crate::telemetry::at("debug"),
            crate::config::LogFormat::Json,
            Mutex::new(file),
        );
    });
}

/// Test settings: development defaults plus `extra`.
pub fn settings(extra: &[(&str, &str)]) -> Settings {
    let mut vars = vec![
        ("DATABASE_URL".to_owned(), database_url()),
        ("APP_ENV".to_owned(), "test".to_owned()),
        (
            "CORS_ORIGINS".to_owned(),
            "https://mindpause.app,http://localhost:5173".to_owned(),
        ),
    ];
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let settings =
        Settings::from_vars(crate::functions::Kind::Service, vars).expect("test settings");
    record_logs(&settings);
    settings
}

/// `pool`'s database as function `name` sees it: every connection runs as the function's
/// role (`SET ROLE`), so a test fails where production would lack a grant.
pub fn as_function(pool: &PgPool, name: &str) -> PgPool {
    let role = crate::functions::get(name)
        .database_role()
        .expect("a service or worker");
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(5)
        .after_connect(move |conn, _| {
            let set_role = format!("SET ROLE {role}");
            Box::pin(async move {
                sqlx::Executor::execute(conn, sqlx::AssertSqlSafe(set_role)).await?;
                Ok(())
            })
        })
        .connect_lazy_with(pool.connect_options().as_ref().clone())
}

pub fn state(pool: PgPool, cache: Cache, settings: Settings) -> AppState {
    AppState::from_parts(
        settings,
        pool,
        cache,
        Events::in_process(InProcessBus::new().into()),
    )
    .expect("state")
}

pub fn redis_cache() -> Cache {
    Cache::connect(Some(&redis_url()), None).expect("redis client")
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

/// Sends `request` from `peer` through `app` without a network.
pub async fn send_from(app: &Router, mut request: Request<Body>, peer: [u8; 4]) -> Answer {
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((peer, 40000))));
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
    };
    Answer {
        status,
        headers,
        body,
    }
}

/// Sends `request` from this test process's own loopback address: the tests of every process
/// share one Redis, and per-address counters must not add up across them.
pub async fn send(app: &Router, request: Request<Body>) -> Answer {
    send_from(app, request, own_address()).await
}

/// A loopback address (127.x.y.z) of this process's own.
pub fn own_address() -> [u8; 4] {
    static ADDRESS: std::sync::OnceLock<[u8; 4]> = std::sync::OnceLock::new();
    *ADDRESS.get_or_init(|| {
        let [a, b, c, ..] = Uuid::new_v4().into_bytes();
        [127, a, b, c | 1]
    })
}

pub fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

pub fn get_with_token(path: &str, token: &str) -> Request<Body> {
    Request::get(path)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

pub fn post_json(path: &str, body: &str) -> Request<Body> {
    Request::post(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

/// A new user of `role` with a live session: their id and access token.
pub async fn access_token(state: &AppState, role: Role) -> (Uuid, String) {
    let user = Uuid::now_v7();
    let tag = user.simple().to_string();
    let mut conn = state.db.begin().await.unwrap();
    // The state may run as a function's role ([`as_function`]) that cannot create accounts.
    sqlx::query("SET LOCAL ROLE NONE")
        .execute(&mut *conn)
        .await
        .unwrap();
    sqlx::query("INSERT INTO users (id, email, nickname, role) VALUES ($1, $2, $3, $4)")
        .bind(user)
        .bind(format!("{tag}@example.com"))
        // The random end: UUIDv7s made in the same millisecond share their start.
        .bind(&tag[tag.len() - 20..])
        .bind(role)
        .execute(&mut *conn)
        .await
        .unwrap();
    let tokens = crate::domain::accounts::sessions::start(state, &mut conn, user, role)
        .await
        .unwrap();
    conn.commit().await.unwrap();
    (user, tokens.access_token)
}

/// Checks the error envelope and returns its `error` object.
pub fn assert_error(answer: &Answer, status: u16, code: &str) -> Value {
    assert_eq!(answer.status.as_u16(), status, "body: {}", answer.body);
    assert_eq!(answer.body["success"], false, "body: {}", answer.body);
    assert_eq!(answer.body["error"]["code"], code, "body: {}", answer.body);
    assert!(
        answer.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    assert!(
        answer.body["timestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    answer.body["error"].clone()
}

/// A JSON request with an optional bearer token.
pub fn json_request(
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path);
    if let Some(t) = token {
        builder = builder.header("authorization", format!("Bearer {t}"));
    }
    match body {
        Some(b) => builder
            .header("content-type", "application/json")
            .body(Body::from(b.to_owned()))
            .unwrap(),
        None => builder.body(Body::empty()).unwrap(),
    }
}

/// The files of an outbox directory, parsed, oldest first.
pub fn outbox(dir: &std::path::Path) -> Vec<Value> {
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    names.retain(|p| p.extension().is_some_and(|e| e == "json"));
    names.sort();
    names
        .iter()
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .collect()
}

/// A service function's whole application, as its binary serves it.
pub fn service_app(
    state: &AppState,
    name: &str,
    routes: utoipa_axum::router::OpenApiRouter<AppState>,
) -> Router {
    let (routes, doc) = crate::runtime::api(state, name, routes);
    crate::runtime::app(state.clone(), routes, doc)
}

/// A service function as its binary serves it (its routes under its prefix from the
/// function table, the whole edge), on the test database, with the email requests it
/// publishes captured.
pub struct Harness {
    pub app: Router,
    /// The function's state; its database runs as the function's role.
    pub state: AppState,
    /// The test database with every privilege, to set up and inspect what the function
    /// itself may not touch.
    pub admin: PgPool,
    prefix: String,
    mails: Arc<Mutex<Vec<EmailRequest>>>,
}

impl Harness {
    /// Function `name` with development settings plus `extra`, on an in-process cache.
    pub fn new(
        pool: PgPool,
        name: &str,
        routes: utoipa_axum::router::OpenApiRouter<AppState>,
        extra: &[(&str, &str)],
    ) -> Self {
        Self::with_cache(pool, name, routes, extra, Cache::memory())
    }

    /// [`Harness::new`] on `cache` (e.g. [`redis_cache`]).
    pub fn with_cache(
        pool: PgPool,
        name: &str,
        routes: utoipa_axum::router::OpenApiRouter<AppState>,
        extra: &[(&str, &str)],
        cache: Cache,
    ) -> Self {
        let bus = Arc::new(InProcessBus::new());
        let mails = Arc::new(Mutex::new(Vec::new()));
        let captured = mails.clone();
        let settings = settings(extra);
        // The email worker's first step (a reset request becomes a link, or nothing), then
        // the request it would render, captured.
        let (db, worker_settings) = (as_function(&pool, "email-worker"), settings.clone());
        let capture = Router::new().route(
            &crate::events::push_path(&settings.pubsub.topic_email_send),
            axum::routing::post(move |body: axum::body::Bytes| {
                let (captured, db, settings) =
                    (captured.clone(), db.clone(), worker_settings.clone());
                async move {
                    let message = crate::worker::parse_envelope(&body).expect("a push envelope");
                    let event: EmailEvent =
                        crate::worker::decode_payload(&message.data).expect("an email event");
                    let prepared = crate::domain::accounts::emails::prepare(&db, &settings, event);
                    if let Some(request) = prepared.await.expect("prepared") {
                        captured.lock().unwrap().push(request);
                    }
                    "ok"
                }
            }),
        );
        bus.attach_workers(capture);
        let db = as_function(&pool, name);
        let state =
            AppState::from_parts(settings, db, cache, Events::in_process(bus)).expect("state");
        let prefix = crate::functions::get(name)
            .route
            .clone()
            .expect("a service has a route prefix");
        Self {
            app: service_app(&state, name, routes),
            state,
            admin: pool,
            prefix,
            mails,
        }
    }

    /// The full path of `path` (relative to the function's prefix).
    pub fn path(&self, path: &str) -> String {
        format!("{}{path}", self.prefix)
    }

    /// `method path` (relative to the function's prefix) with an optional bearer token and
    /// a JSON body (`Value::Null` for none).
    pub async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Value) -> Answer {
        self.call_from(own_address(), method, path, token, body)
            .await
    }

    /// [`Harness::call`] from the client address `peer`.
    pub async fn call_from(
        &self,
        peer: [u8; 4],
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> Answer {
        let body = (!body.is_null()).then(|| body.to_string());
        let request = json_request(method, &self.path(path), token, body.as_deref());
        send_from(&self.app, request, peer).await
    }

    /// An anonymous `POST` of `body`.
    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.call("POST", path, None, body).await
    }

    /// A new user with a live session: their id and access token.
    pub async fn person(&self) -> (Uuid, String) {
        access_token(&self.state, Role::User).await
    }

    /// The email requests published so far, waiting briefly for in-process delivery of at
    /// least `at_least`.
    pub async fn mails(&self, at_least: usize) -> Vec<EmailRequest> {
        for _ in 0..100 {
            let mails = self.mails.lock().unwrap().clone();
            if mails.len() >= at_least {
                return mails;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.mails.lock().unwrap().clone()
    }

    /// Every email request after a moment's wait, for asserting that none was sent.
    pub async fn settled_mails(&self) -> Vec<EmailRequest> {
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.mails.lock().unwrap().clone()
    }
}

/// What this thread logs while the capture lives (from DEBUG up, with the fields of the
/// spans around each line), for tests of what a log line may not say. The tests' requests
/// run on their own thread (`oneshot` in the test's task).
pub struct LogCapture {
    lines: Arc<Mutex<Vec<u8>>>,
    _guard: tracing::subscriber::DefaultGuard,
}

impl LogCapture {
    pub fn start() -> Self {
        use tracing_subscriber::layer::SubscriberExt;

        #[derive(Clone)]
        struct Lines(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Lines {
            fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(bytes);
                Ok(bytes.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let lines = Arc::new(Mutex::new(Vec::new()));
        let writer = Lines(lines.clone());
        let subscriber = tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(move || writer.clone()),
            )
            .with(tracing_subscriber::filter::LevelFilter::DEBUG);
        Self {
            lines,
            _guard: tracing::subscriber::set_default(subscriber),
        }
    }

    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.lines.lock().unwrap()).into_owned()
    }
}

/// The JSON Schema of a request type as the OpenAPI document carries it.
pub fn schema_of<T: utoipa::ToSchema>() -> Value {
    serde_json::to_value(T::schema()).expect("a schema is JSON")
}

/// A text field's documented length agrees with its validator (`accepts`): exactly
/// `maxLength` characters pass and one more fails; with `minLength`, one fewer fails. For
/// text counted as stored (a nickname, normalized first); other text takes
/// [`assert_text_bounds`].
pub fn assert_length_bounds(field: &str, schema: &Value, accepts: impl Fn(&str) -> bool) {
    let bound = |name: &str| schema[name].as_u64().map(|n| n as usize);
    let max = bound("maxLength").unwrap_or_else(|| panic!("{field}: no maxLength in {schema}"));
    let min = bound("minLength").unwrap_or(0);
    assert!(accepts(&text(max)), "{field}: {max} characters are refused");
    assert!(
        !accepts(&text(max + 1)),
        "{field}: {} characters pass",
        max + 1
    );
    if min > 0 {
        assert!(accepts(&text(min)), "{field}: {min} characters are refused");
        assert!(
            !accepts(&text(min - 1)),
            "{field}: {} characters pass",
            min - 1
        );
    }
}

/// [`assert_length_bounds`], counted as typed (spaces around count); a text that may not be
/// blank refuses blank text, and with `minLength` 1 states [`crate::text::NON_BLANK`].
pub fn assert_text_bounds(field: &str, schema: &Value, accepts: impl Fn(&str) -> bool) {
    assert_length_bounds(field, schema, &accepts);
    let max = schema["maxLength"].as_u64().unwrap() as usize;
    let min = schema["minLength"].as_u64().unwrap_or(0);
    assert!(
        !accepts(&format!(" {} ", text(max - 1))),
        "{field}: spaces around are not counted"
    );
    if min > 0 {
        assert!(
            !accepts(" \t\u{3000}\u{1}\u{feff}"),
            "{field}: blank text passes"
        );
    }
    if min == 1 {
        assert_eq!(
            schema["pattern"],
            crate::text::NON_BLANK,
            "{field}: the non-blank pattern"
        );
    }
}

/// `n` characters of Hangul, no two alike in a row (a password may not be one repeated
/// character).
fn text(n: usize) -> String {
    "가나다라마바사".chars().cycle().take(n).collect()
}

/// A number field's documented `minimum` and `maximum` are exactly what its validator takes.
pub fn assert_number_bounds(field: &str, schema: &Value, accepts: impl Fn(i64) -> bool) {
    let bound = |name: &str| {
        schema[name]
            .as_i64()
            .unwrap_or_else(|| panic!("{field}: no {name} in {schema}"))
    };
    let (min, max) = (bound("minimum"), bound("maximum"));
    assert!(
        accepts(min) && accepts(max),
        "{field}: {min} or {max} is refused"
    );
    assert!(
        !accepts(min - 1) && !accepts(max + 1),
        "{field}: beyond {min}..={max} passes"
    );
}
