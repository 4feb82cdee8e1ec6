//! The purge: 29-day-old notifications stay, 31-day-old ones go, across several batches,
//! once per message, through the push endpoint and through the Pub/Sub emulator; expired
//! sessions and tokens and long-removed community writing go by their own rules.

use std::time::Duration;

use base64::Engine;
use notification_purge::{Report, purge};
use serde_json::{Value, json};
use shared::AppState;
use shared::cache::Cache;
use shared::testing::*;
use sqlx::PgPool;

/// `count` notifications for a new person, created `days` ago.
async fn aged(pool: &PgPool, count: i64, days: i64) {
    let user = someone(pool).await;
    sqlx::query(
        "INSERT INTO notifications (id, user_id, kind, title, body, created_at)
         SELECT gen_random_uuid(), $1, 'like', '좋아요', '', now() - make_interval(days => $3::int)
                - make_interval(secs => i)
         FROM generate_series(1, $2) AS i",
    )
    .bind(user)
    .bind(count)
    .bind(days as i32)
    .execute(pool)
    .await
    .unwrap();
}

/// A new person's id.
async fn someone(pool: &PgPool) -> uuid::Uuid {
    let user = uuid::Uuid::now_v7();
    let tag = user.simple().to_string();
    sqlx::query("INSERT INTO users (id, email, nickname) VALUES ($1, $2, $3)")
        .bind(user)
        .bind(format!("{tag}@example.com"))
        .bind(&tag[tag.len() - 20..])
        .execute(pool)
        .await
        .unwrap();
    user
}

async fn left(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM notifications")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn old_rows_go_in_batches_and_recent_ones_stay(pool: PgPool) {
    aged(&pool, 12_000, 31).await;
    aged(&pool, 150, 29).await;
    sqlx::query(
        "INSERT INTO processed_messages (worker, message_id, outcome, processed_at) VALUES
            ('email-worker', 'old', 'done', now() - interval '8 days'),
            ('email-worker', 'recent', 'done', now() - interval '6 days')",
    )
    .execute(&pool)
    .await
    .unwrap();
    // As the worker's own database role.
    let worker = as_function(&pool, "notification-purge");
    let report = purge(&worker, 30, Duration::MAX).await.unwrap();
    assert_eq!((report.notifications, report.records), (12_000, 1));
    assert!(
        report.statements >= 4,
        "several short statements: {report:?}"
    );
    assert!(report.finished);
    assert_eq!(left(&pool).await, 150);
    let kept: Vec<String> = sqlx::query_scalar("SELECT message_id FROM processed_messages")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(kept, ["recent"]);

    // Again: nothing left to do.
    let again = purge(&worker, 30, Duration::MAX).await.unwrap();
    assert_eq!(
        (again.notifications, again.records, again.finished),
        (0, 0, true)
    );

    // Two runs at once delete everything once between them.
    aged(&pool, 11_000, 40).await;
    let (a, b) = tokio::join!(
        purge(&worker, 30, Duration::MAX),
        purge(&worker, 30, Duration::MAX)
    );
    assert_eq!(a.unwrap().notifications + b.unwrap().notifications, 11_000);
    assert_eq!(left(&pool).await, 150);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_spent_budget_leaves_the_rest_for_the_next_run(pool: PgPool) {
    aged(&pool, 6_000, 31).await;
    let report = purge(&pool, 30, Duration::ZERO).await.unwrap();
    assert_eq!(
        report,
        Report {
            finished: false,
            ..Report::default()
        }
    );
    assert_eq!(left(&pool).await, 6_000);
}

fn push(id: &str, payload: Value) -> String {
    json!({
        "message": {
            "data": base64::engine::general_purpose::STANDARD.encode(payload.to_string()),
            "messageId": id, "publishTime": "2026-12-02T04:00:00Z",
        },
        "subscription": "projects/p/subscriptions/notification-purge",
    })
    .to_string()
}

fn worker_app(pool: &PgPool, settings: shared::config::Settings) -> (AppState, axum::Router) {
    let state = state(
        as_function(pool, "notification-purge"),
        Cache::memory(),
        settings,
    );
    let routes = notification_purge::routes(&state).unwrap();
    let app = shared::runtime::app(
        state.clone(),
        routes,
        shared::openapi::base("notification-purge"),
    );
    (state, app)
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn each_daily_message_purges_once(pool: PgPool) {
    aged(&pool, 200, 31).await;
    let (_, app) = worker_app(&pool, settings(&[]));
    let daily = json!({ "version": 1, "older_than_days": 30 });
    let a = send(
        &app,
        post_json("/push/notification-purge", &push("d-1", daily.clone())),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["data"]["status"], "processed");
    assert_eq!(left(&pool).await, 0);
    let again = send(
        &app,
        post_json("/push/notification-purge", &push("d-1", daily)),
    )
    .await;
    assert_eq!(again.body["data"]["status"], "duplicate");
    // Nonsense can never succeed: acked, recorded, nothing deleted.
    aged(&pool, 10, 2).await;
    for (id, payload) in [
        ("d-2", json!({ "version": 1, "older_than_days": 0 })),
        ("d-3", json!({ "version": 1 })),
    ] {
        let a = send(
            &app,
            post_json("/push/notification-purge", &push(id, payload)),
        )
        .await;
        assert_eq!(a.body["data"]["status"], "discarded", "{id}");
    }
    assert_eq!(left(&pool).await, 10);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn the_schedule_reaches_the_worker_through_the_pubsub_emulator(pool: PgPool) {
    let Ok(host) = std::env::var("PUBSUB_EMULATOR_HOST") else {
        eprintln!("SKIPPED: PUBSUB_EMULATOR_HOST is unset (the Pub/Sub emulator is not installed)");
        return;
    };
    aged(&pool, 300, 31).await;
    let topic = format!("notification-purge-{}", uuid::Uuid::new_v4().simple());
    let s = settings(&[
        ("PUBSUB_PROJECT_ID", "mindpause-test"),
        ("PUBSUB_EMULATOR_HOST", &host),
        ("PUBSUB_TOPIC_NOTIFICATION_PURGE", &topic),
    ]);
    let (_, app) = worker_app(&pool, s.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });

    shared::install_tls_provider();
    let http = reqwest::Client::new();
    let base = format!("http://{host}/v1/projects/mindpause-test");
    let put = |url: String, body: Value| {
        let http = http.clone();
        async move { http.put(url).json(&body).send().await.unwrap().status() }
    };
    assert!(
        put(format!("{base}/topics/{topic}"), json!({}))
            .await
            .is_success()
    );
    let subscription = json!({
        "topic": format!("projects/mindpause-test/topics/{topic}"),
        "pushConfig": { "pushEndpoint": format!("http://127.0.0.1:{port}/push/{topic}") },
    });
    assert!(
        put(format!("{base}/subscriptions/{topic}"), subscription)
            .await
            .is_success()
    );

    // What Cloud Scheduler publishes every night.
    let events = shared::events::Events::from_settings(&s).unwrap();
    events
        .publish(&topic, &json!({ "older_than_days": 30 }))
        .await
        .unwrap();
    for _ in 0..100 {
        if left(&pool).await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(left(&pool).await, 0);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn ops_can_purge_once_from_a_shell(pool: PgPool) {
    aged(&pool, 40, 31).await;
    aged(&pool, 5, 10).await;
    let database = pool.connect_options().get_database().unwrap().to_owned();
    let url = database_url();
    let url = format!("{}/{database}", url.rsplit_once('/').unwrap().0);
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_notification-purge"))
            .env_clear()
            .env("DATABASE_URL", &url)
            .env("APP_ENV", "test")
            .env("RUST_LOG", "error")
            .env("LOG_LEVEL", "error")
            .args(args)
            .output()
            .unwrap()
    };
    let once = run(&["--once", "--older-than-days", "20"]);
    assert!(
        once.status.success(),
        "{}",
        String::from_utf8_lossy(&once.stderr)
    );
    // The report is the last line (logs, if any, come before it).
    let stdout = String::from_utf8(once.stdout).unwrap();
    let report: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(report["notifications"], 40);
    assert_eq!(report["finished"], true);
    assert_eq!(left(&pool).await, 5);
    let bad = run(&["--once", "--older-than-days", "soon"]);
    assert_eq!(bad.status.code(), Some(64));
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn expired_sessions_and_tokens_and_long_removed_writing_go(pool: PgPool) {
    let user = someone(&pool).await;
    let exec = |sql: &'static str| sqlx::query(sql).bind(user);
    // Sessions that expired 8 days ago (one revoked before) go; 6 days ago, or live, stay.
    exec(
        "INSERT INTO sessions (id, user_id, refresh_jti, expires_at, revoked_at) VALUES
            (gen_random_uuid(), $1, gen_random_uuid(), now() - interval '8 days', NULL),
            (gen_random_uuid(), $1, gen_random_uuid(), now() - interval '9 days', now() - interval '20 days'),
            (gen_random_uuid(), $1, gen_random_uuid(), now() - interval '6 days', NULL),
            (gen_random_uuid(), $1, gen_random_uuid(), now() + interval '20 days', now())",
    )
    .execute(&pool)
    .await
    .unwrap();
    exec(
        "INSERT INTO one_time_tokens (token_hash, user_id, purpose, expires_at) VALUES
            ('\\x01', $1, 'password_reset', now() - interval '2 days'),
            ('\\x02', $1, 'email_verification', now() - interval '1 hour')",
    )
    .execute(&pool)
    .await
    .unwrap();
    // Posts removed 31 days ago go with their comments and likes; 29 days ago, or shown, stay.
    exec(
        "INSERT INTO posts (id, author_id, title, content, category, deleted_at) VALUES
            ('00000000-0000-7000-8000-000000000001', $1, 'old', 'c', 'daily', now() - interval '31 days'),
            ('00000000-0000-7000-8000-000000000002', $1, 'recent', 'c', 'daily', now() - interval '29 days'),
            ('00000000-0000-7000-8000-000000000003', $1, 'shown', 'c', 'daily', NULL)",
    )
    .execute(&pool)
    .await
    .unwrap();
    exec(
        "INSERT INTO comments (id, post_id, author_id, content, deleted_at) VALUES
            (gen_random_uuid(), '00000000-0000-7000-8000-000000000001', $1, 'on old', NULL),
            (gen_random_uuid(), '00000000-0000-7000-8000-000000000003', $1, 'removed', now() - interval '40 days'),
            (gen_random_uuid(), '00000000-0000-7000-8000-000000000003', $1, 'shown', NULL)",
    )
    .execute(&pool)
    .await
    .unwrap();
    exec("INSERT INTO post_likes (post_id, user_id) VALUES ('00000000-0000-7000-8000-000000000001', $1)")
        .execute(&pool)
        .await
        .unwrap();

    let worker = as_function(&pool, "notification-purge");
    let report = purge(&worker, 30, Duration::MAX).await.unwrap();
    assert_eq!(
        (
            report.sessions,
            report.one_time_tokens,
            report.posts,
            report.comments
        ),
        (2, 1, 1, 1),
        "{report:?}"
    );
    let (sessions, tokens, posts, comments, likes): (i64, i64, Vec<String>, Vec<String>, i64) =
        sqlx::query_as(
            "SELECT (SELECT count(*) FROM sessions), (SELECT count(*) FROM one_time_tokens),
                    (SELECT array_agg(title ORDER BY title) FROM posts),
                    (SELECT array_agg(content ORDER BY content) FROM comments),
                    (SELECT count(*) FROM post_likes)",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!((sessions, tokens, likes), (2, 1, 0));
    assert_eq!(posts, ["recent", "shown"]);
    assert_eq!(comments, ["shown"]);
}
