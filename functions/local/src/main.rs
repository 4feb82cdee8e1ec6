//! The all-in-one development server: every function's routes under the load balancer's
//! paths, every worker behind in-process events, the embedded defaults, the migrations run
//! at start, and the merged OpenAPI document with a docs UI at `/docs`.

use axum::Router;
use shared::AppState;
use shared::config::Settings;
use shared::events::{Events, InProcessBus};
use shared::functions::{self, Kind};
use utoipa_swagger_ui::SwaggerUi;

mod mounts;

#[tokio::main]
async fn main() {
    let mut settings = Settings::from_env_or_exit(Kind::Service);
    if std::env::var_os("PORT").is_none() {
        settings.port = 8000;
    }
    // Links to files point at this server, whatever its port.
    if std::env::var_os("FILES_URL").is_none() {
        settings.files_url = format!("http://localhost:{}/api/v1/files", settings.port);
    }
    shared::telemetry::init(&settings);

    let bus = std::sync::Arc::new(InProcessBus::new());
    let state = AppState::new(settings, Events::in_process(bus.clone())).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(78)
    });
    if let Err(e) = shared::db::MIGRATOR.run(&state.db).await {
        eprintln!("could not apply the migrations: {e}");
        std::process::exit(1);
    }

    let (api, doc, workers) = mount_all(&state);
    bus.attach_workers(workers.clone().with_state(state.clone()));
    let routes = api
        .merge(workers)
        .merge(SwaggerUi::new("/docs").config(utoipa_swagger_ui::Config::from("/openapi.json")));
    let app = shared::runtime::app(state.clone(), routes, doc);
    tracing::info!(
        port = state.settings.port,
        redis = if state.cache.is_shared() {
            "redis"
        } else {
            "in-process"
        },
        "MindPause local server: docs at /docs"
    );
    if let Err(e) = shared::runtime::serve(app, &state.settings).await {
        eprintln!("server error: {e}");
        std::process::exit(1);
    }
}

/// Every service and worker of the function table, mounted as the load balancer would.
fn mount_all(state: &AppState) -> (Router<AppState>, utoipa::openapi::OpenApi, Router<AppState>) {
    let mut api = Router::new();
    let mut doc = shared::openapi::base("local (all functions)");
    let mut workers = Router::new();
    for spec in functions::all() {
        match spec.kind {
            Kind::Service => {
                let routes = mounts::service(&spec.name)
                    .unwrap_or_else(|| panic!("local: service {} is not mounted", spec.name));
                let (router, function_doc) = shared::runtime::api(state, &spec.name, routes);
                api = api.merge(router);
                shared::openapi::merge(&mut doc, function_doc);
            }
            Kind::Worker => {
                let router = mounts::worker(&spec.name, state)
                    .unwrap_or_else(|| panic!("local: worker {} is not mounted", spec.name))
                    .unwrap_or_else(|e| {
                        eprintln!("{e}");
                        std::process::exit(78)
                    });
                workers = workers.merge(router);
            }
            Kind::Job => {}
        }
    }
    (api, doc, workers)
}
