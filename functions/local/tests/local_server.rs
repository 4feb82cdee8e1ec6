//! The all-in-one local server, as `./scripts/dev.sh` runs it: migrations at start, health,
//! the merged OpenAPI document, the docs UI, envelope 404s, and a clean stop on SIGTERM.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_everything_with_embedded_defaults() {
    let server = LocalServer::start(&[]).await;

    let (status, body) = server.get("/health/ready").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["redis"], "in-process");

    let (status, doc) = server.get("/openapi.json").await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));

    let docs = client().get(server.url("/docs/")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    assert!(docs.text().await.unwrap().contains("swagger"));

    let (status, body) = server.get("/api/v1/nowhere").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("NOT_FOUND"))
    );

    // The migrations ran against the database it was given.
    let tables: i64 = {
        let url = std::env::var("DATABASE_URL").unwrap();
        let url = format!("{}/{}", url.rsplit_once('/').unwrap().0, server.database());
        let pool = sqlx::PgPool::connect(&url).await.unwrap();
        sqlx::query_scalar("SELECT count(*) FROM information_schema.tables WHERE table_name = 'processed_messages'")
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    assert_eq!(tables, 1);

    // Workers are mounted as Pub/Sub would push to them: a purge through the local server.
    let pool = sqlx::PgPool::connect(&server.database_url()).await.unwrap();
    sqlx::query(
        "WITH u AS (INSERT INTO users (id, email, nickname)
                    VALUES (gen_random_uuid(), 'old@example.com', '오래된') RETURNING id)
         INSERT INTO notifications (id, user_id, kind, title, body, created_at)
         SELECT gen_random_uuid(), u.id, 'system', '안녕', '', now() - interval '31 days' FROM u",
    )
    .execute(&pool)
    .await
    .unwrap();
    // base64 of {"version":1,"older_than_days":30}
    let push = serde_json::json!({
        "message": { "data": "eyJ2ZXJzaW9uIjoxLCJvbGRlcl90aGFuX2RheXMiOjMwfQ==", "messageId": "local-1" },
        "subscription": "local",
    });
    let purged = client()
        .post(server.url("/push/notification-purge"))
        .json(&push)
        .send()
        .await
        .unwrap();
    assert_eq!(purged.status(), 200);
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM notifications")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(left, 0);
    let (status, _) = server.get("/api/v1/notifications").await;
    assert_eq!(status, 401, "the notifications service is mounted");
    let (status, _) = server.get("/api/v1/community/posts").await;
    assert_eq!(status, 401, "the community service is mounted");
    let (status, _) = server.get("/api/v1/challenges").await;
    assert_eq!(status, 401, "the challenges service is mounted");
    let (status, _) = server.get("/api/v1/admin/stats").await;
    assert_eq!(status, 401, "the admin service is mounted");
    let (status, _) = server
        .get("/api/v1/files/0191d8a0-0000-7000-8000-000000000000")
        .await;
    assert_eq!(status, 401, "the files service is mounted");

    assert!(server.stop().await.success());
}

#[tokio::test]
async fn a_bad_variable_stops_it_with_one_line_naming_it() {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_local"))
        .env_clear()
        .env("DATABASE_URL", "postgres://x@127.0.0.1/x")
        .env("RATE_LIMIT_LOGIN", "lots")
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(78));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("RATE_LIMIT_LOGIN"), "{stderr}");
}
