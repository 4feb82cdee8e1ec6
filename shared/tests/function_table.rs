//! The function table (`functions.json`) and the crates under `functions/` agree: every
//! function has its crate and every crate its entry, with the same features of `shared`,
//! the right shape for its kind, and a `main.rs` that runs under its own name.

use std::collections::BTreeSet;
use std::path::Path;

use shared::functions::{self, Kind};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

/// The features of the `shared` dependency in `[dependencies]` of a crate manifest.
fn shared_features(manifest: &str) -> BTreeSet<String> {
    let dependencies = manifest
        .split("\n[")
        .find(|section| section.starts_with("dependencies]"))
        .expect("a [dependencies] section");
    let line = dependencies
        .lines()
        .find(|l| l.trim_start().starts_with("shared"))
        .expect("a dependency on shared");
    match line.split_once("features") {
        None => BTreeSet::new(),
        Some((_, rest)) => {
            let list = rest.split_once('[').unwrap().1.split_once(']').unwrap().0;
            list.split(',')
                .map(|f| f.trim().trim_matches('"').to_owned())
                .filter(|f| !f.is_empty())
                .collect()
        }
    }
}

#[test]
fn every_function_has_its_crate_and_every_crate_its_entry() {
    let crates: BTreeSet<String> = std::fs::read_dir(root().join("functions"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name != "local")
        .collect();
    let table: BTreeSet<String> = functions::all().iter().map(|f| f.name.clone()).collect();
    assert_eq!(crates, table, "functions/ and functions.json differ");
}

#[test]
fn entries_match_their_crates() {
    for f in functions::all() {
        let dir = root().join("functions").join(&f.name);
        let manifest = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        assert!(
            manifest.contains(&format!("name = \"{}\"", f.name)),
            "{}: package name",
            f.name
        );
        let declared: BTreeSet<String> = f.features.iter().cloned().collect();
        assert_eq!(
            shared_features(&manifest),
            declared,
            "{}: features of shared",
            f.name
        );

        let main = std::fs::read_to_string(dir.join("src/main.rs")).unwrap();
        match f.kind {
            Kind::Service => {
                assert_eq!(
                    f.route.as_deref(),
                    Some(format!("/api/v1/{}", f.name).as_str()),
                    "{}",
                    f.name
                );
                assert!(f.topic.is_none());
                assert!(
                    main.contains(&format!("run_service(\"{}\"", f.name)),
                    "{}: main.rs",
                    f.name
                );
            }
            Kind::Worker => {
                assert!(
                    f.route.is_none() && f.topic.is_some(),
                    "{}: a worker has a topic",
                    f.name
                );
                assert!(
                    main.contains(&format!("run_worker(\"{}\"", f.name)),
                    "{}: main.rs",
                    f.name
                );
            }
            Kind::Job => assert!(f.route.is_none() && f.topic.is_none(), "{}", f.name),
        }
    }
}

#[test]
fn deployed_functions_report_errors_and_run_on_lambda() {
    for f in functions::all().iter().filter(|f| f.kind != Kind::Job) {
        for feature in ["sentry", "lambda"] {
            assert!(
                f.features.iter().any(|x| x == feature),
                "{} lacks {feature}",
                f.name
            );
        }
    }
}

#[test]
fn worker_topics_are_the_configured_ones() {
    let s = shared::config::Settings::from_vars(
        Kind::Service,
        [("DATABASE_URL", "postgres://x@localhost/x")],
    )
    .unwrap();
    let topics = [
        s.pubsub.topic_email_send,
        s.pubsub.topic_notification_purge,
        s.pubsub.topic_image_resize,
    ];
    for f in functions::all().iter().filter(|f| f.kind == Kind::Worker) {
        assert!(
            topics.contains(f.topic.as_ref().unwrap()),
            "{}: unknown topic",
            f.name
        );
    }
}

/// The tables each function may touch at all (any privilege on any column), as granted by
/// `migrations/*_function_roles.sql`. The suites run every function under its role, which
/// proves the grants suffice; this proves they go no further.
const REACH: &[(&str, &[&str])] = &[
    (
        "auth",
        &["one_time_tokens", "sessions", "user_identities", "users"],
    ),
    (
        "users",
        &[
            "challenge_check_ins",
            "challenges",
            "chat_messages",
            "comments",
            "conversations",
            "emotion_daily_tags",
            "emotion_days",
            "emotion_logs",
            "files",
            "notifications",
            "post_likes",
            "posts",
            "safety_events",
            "sessions",
            "user_identities",
            "users",
        ],
    ),
    (
        "emotions",
        &[
            "emotion_daily_tags",
            "emotion_days",
            "emotion_logs",
            "sessions",
            "users",
        ],
    ),
    (
        "chat",
        &[
            "chat_messages",
            "conversations",
            "safety_events",
            "sessions",
            "users",
        ],
    ),
    (
        "email-worker",
        &[
            "one_time_tokens",
            "processed_messages",
            "user_identities",
            "users",
        ],
    ),
    (
        "admin",
        &[
            "admin_audit",
            "chat_messages",
            "comments",
            "emotion_logs",
            "notifications",
            "posts",
            "sessions",
            "user_identities",
            "users",
        ],
    ),
    (
        "challenges",
        &[
            "challenge_check_ins",
            "challenges",
            "notifications",
            "sessions",
            "users",
        ],
    ),
    (
        "community",
        &[
            "comments",
            "notifications",
            "post_likes",
            "posts",
            "sessions",
            "users",
        ],
    ),
    ("notifications", &["notifications", "sessions", "users"]),
    ("files", &["files", "sessions", "users"]),
    (
        "image-worker",
        &["files", "processed_messages", "storage_garbage", "users"],
    ),
    (
        "notification-purge",
        &[
            "comments",
            "notifications",
            "one_time_tokens",
            "posts",
            "processed_messages",
            "sessions",
        ],
    ),
];

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn each_function_role_reaches_only_its_tables(pool: sqlx::PgPool) {
    for f in functions::all() {
        let Some(role) = f.database_role() else {
            assert_eq!(f.kind, Kind::Job, "{}", f.name);
            continue;
        };
        let reach: Vec<String> = sqlx::query_scalar(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relkind = 'r'
               AND has_any_column_privilege($1, c.oid, 'SELECT, INSERT, UPDATE, REFERENCES')
                OR (n.nspname = 'public' AND c.relkind = 'r'
                    AND has_table_privilege($1, c.oid, 'DELETE, TRUNCATE, TRIGGER'))
             ORDER BY 1",
        )
        .bind(&role)
        .fetch_all(&pool)
        .await
        .unwrap_or_else(|e| panic!("{}: role {role}: {e}", f.name));
        let declared = REACH
            .iter()
            .find(|(name, _)| *name == f.name)
            .unwrap_or_else(|| panic!("{}: declare its reach here (and grant it)", f.name))
            .1;
        assert_eq!(reach, declared, "{}", f.name);
        // Nothing else: no ownership, no schema changes, no other roles' privileges.
        let (owns, creates, member_of): (i64, bool, i64) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM pg_class WHERE relowner = r.oid),
                    has_schema_privilege(r.oid, 'public', 'CREATE'),
                    (SELECT count(*) FROM pg_auth_members WHERE member = r.oid)
             FROM pg_roles r WHERE r.rolname = $1",
        )
        .bind(&role)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!((owns, creates, member_of), (0, false, 0), "{}", f.name);
    }
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn the_migrate_job_lets_each_function_role_log_in(pool: sqlx::PgPool) {
    let password = "p".repeat(40);
    let passwords = serde_json::json!({ "chat": password }).to_string();
    let roles = shared::db::enable_function_logins(&pool, &passwords)
        .await
        .unwrap();
    assert_eq!(roles, ["mindpause_chat"]);
    let (login, stored): (bool, String) = sqlx::query_as(
        "SELECT rolcanlogin, rolpassword FROM pg_authid WHERE rolname = 'mindpause_chat'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(login);
    assert!(stored.starts_with("SCRAM-SHA-256$"), "stored hashed");

    // Signed in as chat: its own tables, and not the journal.
    let options = pool
        .connect_options()
        .as_ref()
        .clone()
        .username("mindpause_chat")
        .password(&password);
    let chat = sqlx::PgPool::connect_with(options).await.unwrap();
    let who: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&chat)
        .await
        .unwrap();
    assert_eq!(who, "mindpause_chat");
    sqlx::query("SELECT count(*) FROM conversations")
        .execute(&chat)
        .await
        .unwrap();
    let refused = sqlx::query("SELECT count(*) FROM emotion_logs")
        .execute(&chat)
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("permission denied"),
        "{refused}"
    );
    chat.close().await;

    for bad in [
        r#"{"migrate": "pppppppppppppppppppppppppppppppppppppppp"}"#,
        r#"{"nobody": "pppppppppppppppppppppppppppppppppppppppp"}"#,
        r#"{"chat": "short"}"#,
        "not json",
    ] {
        assert!(
            shared::db::enable_function_logins(&pool, bad)
                .await
                .is_err(),
            "{bad}"
        );
    }
}
