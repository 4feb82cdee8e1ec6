//! Deleting an account, proven complete: a person uses every part of the service (through
//! the local server, on a Redis and a store of this test's own), deletes their account, and
//! then nothing anywhere — any table of the schema, any Redis key or value, any stored object —
//! names them, save their community posts and comments, kept under "탈퇴한 사용자".
//!
//! The tables come from the schema: a table without a rule below fails the test, and so does
//! a table the person's use did not reach (the setup must grow with the schema).

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

/// What becomes of a table's rows about a deleted person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// Nothing of theirs is left.
    Erased,
    /// Their rows stay without anything that names them (their posts, comments and likes:
    /// the conversation and the counts others see stay whole).
    KeptWithoutThem,
    /// Admins' accountability: who did what to whom; after the deletion it names them only by
    /// an id that no longer leads anywhere (`target_id`).
    AuditTrail,
    /// A queue of objects to delete: filled when their files go (the deletion itself), empty
    /// once the sweep has run.
    Queue,
    /// Holds no person's data (delivery bookkeeping).
    NotPersonal,
}

const RULES: &[(&str, Rule)] = &[
    ("users", Rule::Erased),
    ("sessions", Rule::Erased),
    ("one_time_tokens", Rule::Erased),
    ("user_identities", Rule::Erased),
    ("emotion_logs", Rule::Erased),
    ("emotion_days", Rule::Erased),
    ("emotion_daily_tags", Rule::Erased),
    ("conversations", Rule::Erased),
    ("chat_messages", Rule::Erased),
    ("safety_events", Rule::Erased),
    ("challenges", Rule::Erased),
    ("challenge_check_ins", Rule::Erased),
    ("notifications", Rule::Erased),
    ("files", Rule::Erased),
    ("storage_garbage", Rule::Queue),
    ("posts", Rule::KeptWithoutThem),
    ("comments", Rule::KeptWithoutThem),
    ("post_likes", Rule::KeptWithoutThem),
    ("admin_audit", Rule::AuditTrail),
    ("processed_messages", Rule::NotPersonal),
];

struct Person {
    id: Uuid,
    token: String,
}

/// [`common::call`] that must succeed.
async fn call(server: &LocalServer, method: &str, path: &str, token: &str, body: Value) -> Value {
    let (status, answer) = common::call(server, method, path, token, body).await;
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {answer}"
    );
    answer
}

async fn person(server: &LocalServer, email: &str, nickname: &str) -> Person {
    let (id, token) = register(server, email, nickname).await;
    Person {
        id: id.parse().unwrap(),
        token,
    }
}

async fn login(server: &LocalServer, email: &str) -> String {
    let response = client()
        .post(server.url("/api/v1/auth/login"))
        .json(&json!({ "email": email, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    body["data"]["tokens"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// `someone` uses every part of the service; `other` answers them, and (as an admin)
/// suspends and restores them.
async fn live_a_little(server: &LocalServer, db: &PgPool, someone: &Person, other: &Person) {
    let me = &someone.token;
    call(server, "POST", "/api/v1/emotions", me, json!({ "emotion": "anxious", "intensity": 4, "note": "잠이 오지 않는 밤", "tags": ["밤"] })).await;
    call(server, "GET", "/api/v1/emotions/stats", me, Value::Null).await;

    let conversation = call(server, "POST", "/api/v1/chat/conversations", me, json!({})).await;
    let conversation = conversation["data"]["id"].as_str().unwrap().to_owned();
    call(
        server,
        "POST",
        &format!("/api/v1/chat/conversations/{conversation}/messages"),
        me,
        json!({ "content": "요즘은 그냥 사라지고 싶다는 생각만 들어" }),
    )
    .await;

    let challenge = call(
        server,
        "POST",
        "/api/v1/challenges",
        me,
        json!({ "title": "하루 한 번 산책", "target_days": 1 }),
    )
    .await;
    let challenge = challenge["data"]["id"].as_str().unwrap().to_owned();
    call(
        server,
        "PATCH",
        &format!("/api/v1/challenges/{challenge}"),
        me,
        json!({ "check_in": true }),
    )
    .await;

    let mine = call(server, "POST", "/api/v1/community/posts", me,
        json!({ "title": "처음 써 보는 글", "content": "다들 어떻게 지내세요", "category": "daily" })).await;
    let mine = mine["data"]["id"].as_str().unwrap().to_owned();
    call(server, "POST", "/api/v1/community/posts", me,
        json!({ "title": "익명으로 쓰는 글", "content": "아무도 모르게", "category": "worry", "is_anonymous": true })).await;
    let theirs = call(
        server,
        "POST",
        "/api/v1/community/posts",
        &other.token,
        json!({ "title": "오늘의 감사", "content": "따뜻한 차 한 잔", "category": "gratitude" }),
    )
    .await;
    let theirs = theirs["data"]["id"].as_str().unwrap().to_owned();
    call(
        server,
        "POST",
        &format!("/api/v1/community/posts/{theirs}/comments"),
        me,
        json!({ "content": "저도 감사해요" }),
    )
    .await;
    call(
        server,
        "POST",
        &format!("/api/v1/community/posts/{theirs}/like"),
        me,
        Value::Null,
    )
    .await;
    call(
        server,
        "POST",
        &format!("/api/v1/community/posts/{mine}/comments"),
        &other.token,
        json!({ "content": "반가워요" }),
    )
    .await;

    let file = upload_picture(server, me).await;
    common::ready(server, me, &file).await;
    call(server, "GET", "/api/v1/users/me/export", me, Value::Null).await;

    let forgot = client()
        .post(server.url("/api/v1/auth/forgot-password"))
        .json(&json!({ "email": "leaving@example.com" }))
        .send()
        .await
        .unwrap();
    assert_eq!(forgot.status(), 200);
    // A Google account linked to theirs (the sign-in flow itself is tested in auth).
    sqlx::query("INSERT INTO user_identities (provider, subject, user_id, email) VALUES ('google', 'google-subject-of-leaving', $1, 'leaving@example.com')")
        .bind(someone.id)
        .execute(db)
        .await
        .unwrap();

    sqlx::query("UPDATE users SET role = 'admin' WHERE id = $1")
        .bind(other.id)
        .execute(db)
        .await
        .unwrap();
    let admin = login(server, "staying@example.com").await;
    let path = format!("/api/v1/admin/users/{}/suspend", someone.id);
    call(
        server,
        "PATCH",
        &path,
        &admin,
        json!({ "suspended": true, "reason": "확인이 필요해요" }),
    )
    .await;
    call(
        server,
        "PATCH",
        &path,
        &admin,
        json!({ "suspended": false }),
    )
    .await;
}

/// Every table of the schema but the migrations' own.
async fn tables(db: &PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> '_sqlx_migrations'
         ORDER BY 1",
    )
    .fetch_all(db)
    .await
    .unwrap()
}

/// Rows of `table` whose text holds any of `marks`, as JSON.
async fn rows_naming(db: &PgPool, table: &str, marks: &BTreeSet<String>) -> Vec<Value> {
    let patterns: Vec<String> = marks.iter().map(|m| format!("%{m}%")).collect();
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT to_jsonb(t) FROM {table} t WHERE t::text ILIKE ANY($1)"
    )))
    .bind(&patterns)
    .fetch_all(db)
    .await
    .unwrap()
}

/// What names the person: their id, email and nickname, then (until nothing new turns up) the
/// ids of every row of theirs in erased tables (sessions, conversations, messages, files...).
async fn marks_of(db: &PgPool, person: Uuid, email: &str, nickname: &str) -> BTreeSet<String> {
    let mut marks: BTreeSet<String> =
        [person.to_string(), email.to_owned(), nickname.to_owned()].into();
    loop {
        let before = marks.len();
        for (table, rule) in RULES {
            if *rule != Rule::Erased {
                continue;
            }
            for row in rows_naming(db, table, &marks).await {
                for value in row.as_object().unwrap().values() {
                    if let Some(id) = value.as_str().filter(|v| Uuid::parse_str(v).is_ok()) {
                        marks.insert(id.to_owned());
                    }
                }
            }
        }
        if marks.len() == before {
            return marks;
        }
    }
}

fn redis_cli(url: &str, args: &[&str]) -> String {
    let out = std::process::Command::new("redis-cli")
        .args(["-u", url, "--no-raw"])
        .args(args)
        .output()
        .expect("redis-cli (installed with redis-server by ./scripts/test.sh)");
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every Redis key with its value (any type) and time to live.
fn redis_contents(url: &str) -> Vec<(String, String, i64)> {
    let keys = redis_cli(url, &["--raw", "--scan"]);
    keys.lines()
        .filter(|k| !k.is_empty())
        .map(|key| {
            let value = match redis_cli(url, &["--raw", "TYPE", key]).trim() {
                "string" => redis_cli(url, &["GET", key]),
                "hash" => redis_cli(url, &["HGETALL", key]),
                "set" => redis_cli(url, &["SMEMBERS", key]),
                "zset" => redis_cli(url, &["ZRANGE", key, "0", "-1", "WITHSCORES"]),
                "list" => redis_cli(url, &["LRANGE", key, "0", "-1"]),
                other => format!("<{other}>"),
            };
            let ttl = redis_cli(url, &["--raw", "PTTL", key])
                .trim()
                .parse()
                .unwrap();
            (key.to_owned(), value, ttl)
        })
        .collect()
}

/// Paths of every stored object.
fn objects(dir: &Path) -> Vec<String> {
    fn walk(dir: &Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if entry.path().is_dir() {
                walk(&entry.path(), found);
            } else {
                found.push(entry.path().display().to_string());
            }
        }
    }
    let mut found = Vec::new();
    walk(dir, &mut found);
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_account_leaves_no_trace_but_its_community_writing() {
    let redis = ThrowawayRedis::start().await;
    let dir = std::env::temp_dir().join(format!("mindpause-deletion-{}", Uuid::now_v7()));
    let dir_text = dir.display().to_string();
    let server = LocalServer::start(&[("REDIS_URL", &redis.url), ("STORAGE_DIR", &dir_text)]).await;
    let db = PgPool::connect(&server.database_url()).await.unwrap();

    // The rules cover the schema exactly.
    let schema = tables(&db).await;
    let ruled: Vec<String> = {
        let mut r: Vec<String> = RULES.iter().map(|(t, _)| t.to_string()).collect();
        r.sort();
        r
    };
    assert_eq!(
        schema, ruled,
        "every table needs a rule here (and the setup must reach it)"
    );

    let leaving = person(&server, "leaving@example.com", "떠나는사람").await;
    let staying = person(&server, "staying@example.com", "남는사람").await;
    live_a_little(&server, &db, &leaving, &staying).await;
    let token = login(&server, "leaving@example.com").await;

    let marks = marks_of(&db, leaving.id, "leaving@example.com", "떠나는사람").await;
    for (table, rule) in RULES {
        let named = rows_naming(&db, table, &marks).await;
        match rule {
            Rule::NotPersonal => assert!(named.is_empty(), "{table}: {named:?}"),
            Rule::Queue => {}
            _ => assert!(
                !named.is_empty(),
                "{table}: the setup wrote nothing of theirs here"
            ),
        }
    }
    let files_before = objects(&dir);
    assert!(!files_before.is_empty());
    let in_redis = redis_contents(&redis.url);
    assert!(
        in_redis
            .iter()
            .any(|(k, _, _)| k.contains(&leaving.id.to_string())),
        "their limits and statistics are in Redis: {in_redis:?}"
    );

    call(
        &server,
        "DELETE",
        "/api/v1/users/me",
        &token,
        json!({ "password": PASSWORD }),
    )
    .await;
    // The storage sweep runs after the answer.
    for _ in 0..200 {
        if objects(&dir)
            .iter()
            .all(|o| !marks.iter().any(|m| o.contains(m.as_str())))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    for (table, rule) in RULES {
        let named = rows_naming(&db, table, &marks).await;
        match rule {
            Rule::AuditTrail => {
                for row in &named {
                    let mut row = row.clone();
                    assert_eq!(row["target_id"], leaving.id.to_string());
                    row["target_id"] = Value::Null;
                    let text = row.to_string();
                    assert!(
                        !marks.iter().any(|m| text.contains(m.as_str())),
                        "{table}: {text}"
                    );
                }
            }
            _ => assert!(named.is_empty(), "{table} still names them: {named:?}"),
        }
    }
    let (posts, comments, likes): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM posts WHERE author_id IS NULL),
                (SELECT count(*) FROM comments WHERE author_id IS NULL),
                (SELECT count(*) FROM post_likes WHERE user_id IS NULL)",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!((posts, comments, likes), (2, 1, 1), "their writing stays");
    let feed = call(
        &server,
        "GET",
        "/api/v1/community/posts",
        &staying.token,
        Value::Null,
    )
    .await;
    let authors: BTreeSet<&str> = feed["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["author"]["nickname"].as_str().unwrap())
        .collect();
    assert_eq!(authors, ["남는사람", "익명", "탈퇴한 사용자"].into());

    for object in objects(&dir) {
        assert!(
            !marks.iter().any(|m| object.contains(m.as_str())),
            "{object}"
        );
    }
    // In Redis only the closed gates of their sessions remain: "revoked", gone with the
    // access tokens they refuse (their hour, and a minute for clocks).
    for (key, value, ttl) in redis_contents(&redis.url) {
        let text = format!("{key} {value}");
        if !marks.iter().any(|m| text.contains(m.as_str())) {
            continue;
        }
        assert!(key.contains("sess:"), "{key} = {value}");
        assert_eq!(value.trim(), "\"revoked\"", "{key}");
        assert!((0..=3_660_000).contains(&ttl), "{key}: {ttl} ms");
    }
    assert!(server.stop().await.success());
    let _ = std::fs::remove_dir_all(dir);
}
