//! The OpenAPI document is the contract a frontend generates its client from: schemathesis
//! (pinned, installed by `scripts/test.sh`) runs every one of its checks against the real
//! local server for a bounded time with a fixed seed, as a registered admin, and must find
//! nothing. Its configuration (`scripts/schemathesis.toml`) lists the few rules a JSON
//! Schema cannot state.

mod common;

use std::time::Duration;

use common::*;

/// Seconds of generated requests; `SCHEMATHESIS_SECONDS` overrides for a longer hunt.
const SECONDS: &str = "90";

#[tokio::test]
async fn the_document_holds_under_schemathesis() {
    let command = std::env::var("SCHEMATHESIS")
        .expect("SCHEMATHESIS is not set: run the tests with ./scripts/test.sh");
    let seconds = std::env::var("SCHEMATHESIS_SECONDS").unwrap_or_else(|_| SECONDS.to_owned());
    let server = LocalServer::start(&[
        // Thousands of requests from one address and one person in a minute and a half.
        ("RATE_LIMIT_GENERAL", "1000000/15minute"),
        ("RATE_LIMIT_LOGIN", "1000000/15minute"),
        ("RATE_LIMIT_REGISTER", "1000000/hour"),
        ("RATE_LIMIT_FILE_UPLOAD", "1000000/hour"),
        ("RATE_LIMIT_EXPORT", "1000000/hour"),
        ("RATE_LIMIT_AI_CHAT", "1000000/hour"),
    ])
    .await;
    let email = "schemathesis@example.com";
    let (id, _) = register(&server, email, "스키마").await;
    let mut db = <sqlx::PgConnection as sqlx::Connection>::connect(&server.database_url())
        .await
        .unwrap();
    sqlx::query("UPDATE users SET role = 'admin' WHERE id = $1::uuid")
        .bind(&id)
        .execute(&mut db)
        .await
        .unwrap();

    let config = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../scripts/schemathesis.toml"
    );
    let run = tokio::process::Command::new(&command)
        .args(["--config-file", config, "run"])
        .arg(server.url("/openapi.json"))
        // One worker: Python 3.11's parser is not safe across threads, and hypothesis parses
        // its own source while generating (a "recursion depth mismatch" error with two).
        .args(["--max-time", &seconds, "--seed", "1", "--workers", "1"])
        .args(["--no-color", "--suppress-health-check", "too_slow"])
        // Its cache of findings stays out of the source tree.
        .current_dir(std::env::temp_dir())
        .env("ST_EMAIL", email)
        .env("ST_PASSWORD", PASSWORD)
        .kill_on_drop(true)
        .output();
    let limit = Duration::from_secs(seconds.parse::<u64>().unwrap() + 180);
    let output = tokio::time::timeout(limit, run)
        .await
        .expect("schemathesis ends within its time")
        .expect("schemathesis runs");
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found failures:\n{report}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(report.contains(" passed"), "{report}");
}

/// Every list's `limit` states the bounds `PageParams` enforces.
#[tokio::test]
async fn every_limit_states_the_page_bounds() {
    let server = LocalServer::start(&[]).await;
    let (status, doc) = server.get("/openapi.json").await;
    assert_eq!(status, 200);
    let mut limits = 0;
    for (path, operations) in doc["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                if parameter["name"] == "limit" {
                    limits += 1;
                    let schema = &parameter["schema"];
                    assert_eq!(schema["minimum"], 1, "{method} {path}");
                    assert_eq!(
                        schema["maximum"],
                        shared::pagination::MAX_LIMIT,
                        "{method} {path}"
                    );
                }
            }
        }
    }
    assert!(limits >= 8, "{limits} lists");
}
