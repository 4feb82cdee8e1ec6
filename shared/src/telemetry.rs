//! Logs: one JSON object per line in Cloud Logging's shape in production (`severity`,
//! `message`, `logging.googleapis.com/trace`, the request id of the enclosing request span),
//! human-readable lines locally. Secrets never reach a log: they are `Secret`s, and request
//! bodies, emails and tokens are never recorded as fields.

use std::io::Write as _;

use axum::http::HeaderMap;
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::prelude::*;
use tracing_subscriber::registry::LookupSpan;

use crate::config::{LogFormat, Settings};

/// The target of events that stay in our own logs and never reach a third party (Sentry):
/// anything about a person's safety. `tracing::warn!(target: PRIVATE, ...)`.
pub const PRIVATE: &str = "private";

/// `RUST_LOG`, or [`at`] `level`.
fn filter(level: &str) -> EnvFilter {
    match EnvFilter::try_from_default_env() {
        Ok(filter) => without_openai(filter),
        Err(_) => at(level),
    }
}

/// `level` for our crates, the chattiest dependencies at `warn`.
pub fn at(level: &str) -> EnvFilter {
    let filter = EnvFilter::try_new(format!("{level},sqlx=warn,fred=warn,hyper=warn"))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    without_openai(filter)
}

/// The OpenAI client logs failing response bodies, which can hold a person's words.
fn without_openai(filter: EnvFilter) -> EnvFilter {
    filter.add_directive("async_openai=off".parse().expect("a valid directive"))
}

/// Installs the global subscriber once; later calls (tests) are no-ops. With `SENTRY_DSN`
/// set (and the `sentry` feature), errors go to Sentry too, with recent logs as breadcrumbs.
pub fn init(settings: &Settings) {
    install(
        settings,
        filter(&settings.log_level),
        settings.log_format,
        std::io::stdout,
    );
}

/// [`init`] with its filter, format and writer given (the tests' log record).
pub fn install<W>(settings: &Settings, filter: EnvFilter, format: LogFormat, writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let registry = tracing_subscriber::registry()
        .with(filter)
        .with(sentry_layers(settings));
    let _ = match format {
        LogFormat::Json => registry
            .with(cloud_logging(settings.pubsub.project_id.clone(), writer))
            .try_init(),
        LogFormat::Pretty => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .compact()
                    .with_target(false)
                    .with_writer(writer),
            )
            .try_init(),
    };
}

#[cfg(feature = "sentry")]
fn sentry_layers<S>(settings: &Settings) -> Option<impl Layer<S>>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    use sentry::integrations::tracing::{BreadcrumbLayer, ErrorLayer};
    use tracing_subscriber::filter::{FilterExt, LevelFilter, filter_fn};

    let dsn = settings.sentry_dsn.as_ref()?;
    if dsn.expose().parse::<sentry::types::Dsn>().is_err() {
        eprintln!("SENTRY_DSN is not a valid DSN: errors are not reported to Sentry");
        return None;
    }
    crate::install_tls_provider();
    let options = sentry::ClientOptions::new()
        .dsn(dsn.expose())
        .release(env!("CARGO_PKG_VERSION"))
        .environment(format!("{:?}", settings.env).to_lowercase())
        .send_default_pii(false)
        // A breadcrumb keeps its message and level, never its fields (ids of people).
        .before_breadcrumb(|mut crumb| {
            crumb.data.clear();
            Some(crumb)
        });
    // The guard flushes on drop; the process keeps it for its whole life.
    std::mem::forget(sentry::init(options));
    let shareable = || filter_fn(|meta| meta.target() != PRIVATE);
    Some(
        ErrorLayer::new()
            .with_filter(LevelFilter::ERROR.and(shareable()))
            .and_then(BreadcrumbLayer::new().with_filter(LevelFilter::INFO.and(shareable()))),
    )
}

/// Sends what Sentry has queued (tests, and before a process exits).
#[cfg(feature = "sentry")]
pub fn flush_error_reports() {
    if let Some(client) = sentry::Hub::current().client() {
        client.flush(Some(std::time::Duration::from_secs(5)));
    }
}

#[cfg(not(feature = "sentry"))]
fn sentry_layers(_: &Settings) -> Option<tracing_subscriber::layer::Identity> {
    None
}

/// The trace and span ids of a request, from `X-Cloud-Trace-Context: TRACE/SPAN;o=1` or W3C
/// `traceparent: 00-TRACE-SPAN-01`.
pub fn trace_context(headers: &HeaderMap) -> Option<(String, Option<String>)> {
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(value) = header("traceparent") {
        let mut parts = value.split('-');
        if let (Some(_), Some(trace), Some(span)) = (parts.next(), parts.next(), parts.next())
            && trace.len() == 32
            && trace.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Some((trace.to_owned(), Some(span.to_owned())));
        }
    }
    let value = header("x-cloud-trace-context")?;
    let (trace, rest) = value.split_once('/').unwrap_or((value, ""));
    let trace = trace.trim();
    if trace.is_empty() || trace.len() > 64 || !trace.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let span = rest
        .split(';')
        .next()
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    Some((trace.to_owned(), span))
}

/// The Cloud Logging layer writing to `writer` (stdout in production).
pub fn cloud_logging<S, W>(project: Option<String>, writer: W) -> impl Layer<S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    CloudLogging { project, writer }
}

struct CloudLogging<W> {
    project: Option<String>,
    writer: W,
}

#[derive(Default)]
struct Fields(Map<String, Value>);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_owned(), Value::String(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .insert(field.name().to_owned(), Value::String(value.to_owned()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), value.into());
    }
}

impl<S, W> Layer<S> for CloudLogging<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'a> MakeWriter<'a> + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(span) = ctx.span(id) {
            let mut extensions = span.extensions_mut();
            if let Some(fields) = extensions.get_mut::<Fields>() {
                values.record(fields);
            }
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut entry = Map::new();
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope.from_root() {
                if let Some(fields) = span.extensions().get::<Fields>() {
                    for (k, v) in &fields.0 {
                        entry.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        entry.extend(fields.0);

        let message = entry
            .remove("message")
            .unwrap_or(Value::String(String::new()));
        entry.insert("message".into(), message);
        entry.insert(
            "severity".into(),
            severity(*event.metadata().level()).into(),
        );
        entry.insert("target".into(), event.metadata().target().into());
        entry.insert(
            "time".into(),
            chrono::Utc::now()
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
                .into(),
        );
        if let Some(Value::String(trace)) = entry.remove("trace_id") {
            let value = match &self.project {
                Some(project) => format!("projects/{project}/traces/{trace}"),
                None => trace,
            };
            entry.insert("logging.googleapis.com/trace".into(), value.into());
        }
        if let Some(span_id) = entry.remove("span_id") {
            entry.insert("logging.googleapis.com/spanId".into(), span_id);
        }
        entry.retain(|_, v| !v.is_null() && v.as_str() != Some(""));

        let mut line = Value::Object(entry).to_string();
        line.push('\n');
        let _ = self.writer.make_writer().write_all(line.as_bytes());
    }
}

fn severity(level: Level) -> &'static str {
    match level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARNING",
        Level::INFO => "INFO",
        Level::DEBUG | Level::TRACE => "DEBUG",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn json_lines_have_cloud_loggings_shape() {
        let captured = Captured::default();
        let writer = captured.clone();
        let layer = cloud_logging(Some("mindpause-prod".into()), move || writer.clone());
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!(
                "request",
                method = "GET",
                request_id = "req-1",
                trace_id = "105445aa7843bc8bf206b12000100000",
                span_id = "7",
            );
            let _entered = span.enter();
            tracing::warn!(attempt = 2, "provider slow");
            tracing::error!("it broke");
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        let first = &lines[0];
        assert_eq!(first["severity"], "WARNING");
        assert_eq!(first["message"], "provider slow");
        assert_eq!(first["attempt"], 2);
        assert_eq!(first["request_id"], "req-1");
        assert_eq!(first["method"], "GET");
        assert_eq!(
            first["logging.googleapis.com/trace"],
            "projects/mindpause-prod/traces/105445aa7843bc8bf206b12000100000"
        );
        assert_eq!(first["logging.googleapis.com/spanId"], "7");
        assert!(first["time"].as_str().unwrap().ends_with('Z'));
        assert_eq!(lines[1]["severity"], "ERROR");
    }

    #[test]
    fn reads_both_trace_headers() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-cloud-trace-context",
            "105445aa7843bc8bf206b12000100000/1;o=1".parse().unwrap(),
        );
        assert_eq!(
            trace_context(&h),
            Some(("105445aa7843bc8bf206b12000100000".into(), Some("1".into())))
        );
        h.insert(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
                .parse()
                .unwrap(),
        );
        assert_eq!(
            trace_context(&h).unwrap().0,
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        let mut bad = HeaderMap::new();
        bad.insert("x-cloud-trace-context", "not hex/1".parse().unwrap());
        assert_eq!(trace_context(&bad), None);
    }
}
