//! Events published with Google's Pub/Sub SDK reach a worker through a push subscription of
//! the real Pub/Sub emulator (started by scripts/test.sh when it is installed).

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;
use shared::cache::Cache;
use shared::events::{Events, PubSubPublisher};
use shared::worker;
use sqlx::PgPool;

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn events_reach_a_worker_through_a_push_subscription(pool: PgPool) {
    let Ok(host) = std::env::var("PUBSUB_EMULATOR_HOST") else {
        eprintln!("SKIPPED: PUBSUB_EMULATOR_HOST is unset (the Pub/Sub emulator is not installed)");
        return;
    };
    sqlx::query("CREATE TABLE effects (message_id TEXT, text TEXT)")
        .execute(&pool)
        .await
        .unwrap();
    let topic = format!("notes-{}", uuid::Uuid::new_v4().simple());

    // The worker, on a real port, as Cloud Run would serve it.
    let s = settings(&[
        ("PUBSUB_PROJECT_ID", "mindpause-test"),
        ("PUBSUB_EMULATOR_HOST", &host),
    ]);
    let worker_state = state(pool.clone(), Cache::memory(), s.clone());
    let worker = shared::runtime::app(
        worker_state,
        worker::route(&topic, Recorder),
        shared::openapi::base("recorder"),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, worker).await });

    // Topic and push subscription, through the emulator's REST API.
    shared::install_tls_provider();
    let http = reqwest::Client::new();
    let base = format!("http://{host}/v1/projects/mindpause-test");
    let topic_created = http
        .put(format!("{base}/topics/{topic}"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert!(
        topic_created.status().is_success(),
        "{}",
        topic_created.text().await.unwrap()
    );
    let subscription = json!({
        "topic": format!("projects/mindpause-test/topics/{topic}"),
        "pushConfig": { "pushEndpoint": format!("http://127.0.0.1:{port}/push/{topic}") },
        "ackDeadlineSeconds": 10,
    });
    let created = http
        .put(format!("{base}/subscriptions/{topic}-push"))
        .json(&subscription)
        .send()
        .await
        .unwrap();
    assert!(
        created.status().is_success(),
        "{}",
        created.text().await.unwrap()
    );

    // Publish through the SDK, as a function does.
    let events = Events::pubsub(PubSubPublisher::new(&s.pubsub).unwrap());
    let id = events
        .publish(&topic, &json!({ "text": "via the emulator" }))
        .await
        .unwrap();
    assert!(!id.is_empty());

    let mut rows: Vec<(String, String)> = Vec::new();
    for _ in 0..100 {
        rows = sqlx::query_as("SELECT message_id, text FROM effects")
            .fetch_all(&pool)
            .await
            .unwrap();
        if !rows.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(rows, vec![(id, "via the emulator".to_owned())]);
}
