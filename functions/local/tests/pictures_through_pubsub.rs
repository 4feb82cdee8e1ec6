//! A profile picture as production moves it: the files function publishes `image-resize` to
//! Pub/Sub (the emulator), whose push subscription delivers it to the image worker over HTTP;
//! the worker makes the copies in storage (the emulator) and the profile shows the picture.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::Request;
use serde_json::json;
use shared::AppState;
use shared::auth::Role;
use shared::cache::Cache;
use shared::events::Events;
use shared::testing::*;
use sqlx::PgPool;
use uuid::Uuid;

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_picture_reaches_the_worker_through_the_pubsub_emulator(pool: PgPool) {
    let Ok(pubsub) = std::env::var("PUBSUB_EMULATOR_HOST") else {
        eprintln!("SKIPPED: PUBSUB_EMULATOR_HOST is unset (the Pub/Sub emulator is not installed)");
        return;
    };
    shared::install_tls_provider();
    let storage = std::env::var("STORAGE_EMULATOR_HOST").expect("run with ./scripts/test.sh");
    let bucket = std::env::var("STORAGE_BUCKET").unwrap();
    let topic = format!("image-resize-{}", Uuid::now_v7().simple());
    let vars = [
        ("STORAGE_BUCKET", bucket.as_str()),
        ("STORAGE_EMULATOR_HOST", storage.as_str()),
        ("PUBSUB_PROJECT_ID", "mindpause-test"),
        ("PUBSUB_EMULATOR_HOST", pubsub.as_str()),
        ("PUBSUB_TOPIC_IMAGE_RESIZE", topic.as_str()),
        ("RATE_LIMIT_GENERAL", "100000/minute"),
    ];

    // The worker, listening as Cloud Run would.
    let worker = state(
        as_function(&pool, "image-worker"),
        Cache::memory(),
        settings(&vars),
    );
    let routes = image_worker::routes(&worker).unwrap();
    let app = shared::runtime::app(
        worker.clone(),
        routes,
        shared::openapi::base("image-worker"),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let http = reqwest::Client::new();
    let base = format!("http://{pubsub}/v1/projects/mindpause-test");
    let created = http
        .put(format!("{base}/topics/{topic}"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success());
    let subscription = json!({
        "topic": format!("projects/mindpause-test/topics/{topic}"),
        "pushConfig": { "pushEndpoint": format!("http://127.0.0.1:{port}/push/{topic}") },
    });
    let created = http
        .put(format!("{base}/subscriptions/{topic}"))
        .json(&subscription)
        .send()
        .await
        .unwrap();
    assert!(created.status().is_success());

    // The files function, publishing to Pub/Sub.
    let s = settings(&vars);
    let events = Events::from_settings(&s).unwrap();
    assert!(events.is_pubsub());
    let files_state =
        AppState::from_parts(s, as_function(&pool, "files"), Cache::memory(), events).unwrap();
    let files_app = service_app(&files_state, "files", files::routes());
    let (user, token) = access_token(&files_state, Role::User).await;
    let (content_type, body) = common::photo_upload();
    let request = Request::post("/api/v1/files/upload/profile")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", content_type)
        .body(Body::from(body))
        .unwrap();
    let a = send(&files_app, request).await;
    assert_eq!(a.status, 202, "{}", a.body);
    let file: Uuid = a.body["data"]["file"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    let mut shown = None;
    for _ in 0..150 {
        shown = sqlx::query_scalar("SELECT profile_image_id FROM users WHERE id = $1")
            .bind(user)
            .fetch_one(&pool)
            .await
            .unwrap();
        if shown.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(shown, Some(file), "the worker finished the picture");
    let store = worker.storage.store().await.unwrap();
    for size in shared::domain::files::VARIANTS {
        let copy = store
            .get(&shared::domain::files::variant_name(file, size))
            .await
            .unwrap();
        assert!(copy.is_some_and(|c| c.starts_with(b"RIFF")), "{size}");
    }
}
