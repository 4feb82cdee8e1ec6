//! With SENTRY_DSN set, errors logged by the service reach Sentry (a wiremock server standing
//! in for Sentry's ingest endpoint), without personal data.

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_are_reported_when_a_dsn_is_set() {
    let sentry = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/42/envelope/"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&sentry)
        .await;
    let address = sentry.address();
    let dsn = format!("http://public@{}:{}/42", address.ip(), address.port());
    let settings = shared::config::Settings::from_vars(
        shared::functions::Kind::Service,
        [
            ("DATABASE_URL", "postgres://x@localhost/x"),
            ("SENTRY_DSN", dsn.as_str()),
            ("LOG_FORMAT", "json"),
        ],
    )
    .unwrap();
    shared::telemetry::init(&settings);

    // A warning (tests run with RUST_LOG=warn): kept as a breadcrumb of the error that follows.
    tracing::warn!("a breadcrumb before the failure");
    tracing::error!(
        error = "connection reset",
        "could not save a streamed reply"
    );
    shared::telemetry::flush_error_reports();

    let received = sentry.received_requests().await.unwrap();
    assert_eq!(received.len(), 1, "one error event");
    let body = String::from_utf8_lossy(&received[0].body);
    assert!(body.contains("could not save a streamed reply"), "{body}");
    assert!(
        body.contains("a breadcrumb before the failure"),
        "breadcrumbs ride along"
    );
    assert!(
        !body.contains("\"ip_address\""),
        "no personal data by default"
    );
}
