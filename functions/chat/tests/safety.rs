//! Crisis safety that does not depend on the model, and the offline companion.

mod common;

use common::*;
use shared::auth::Role;
use sqlx::PgPool;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn crisis_puts_the_person_first_whatever_the_model_says(pool: PgPool) {
    let server = openai_server(
        ResponseTemplate::new(200).set_body_json(completion("그렇군요.")),
        false,
    )
    .await;
    let h = openai_harness(pool.clone(), &server, &[]).await;
    let (user, token) = access_token(&h.state, Role::User).await;
    let id = conversation(&h, &token).await;
    let a = say(&h, &token, &id, "요즘 그냥 사라지고 싶어").await;
    assert_eq!(a.status, 201, "{}", a.body);
    let reply = a.body["data"]["assistant_message"]["content"]
        .as_str()
        .unwrap();
    for line in ["109", "1577-0199", "1388"] {
        assert!(reply.contains(line), "{reply}");
    }
    assert!(reply.ends_with("그렇군요."), "the model's words come after");
    let safety = &a.body["data"]["safety"];
    assert_eq!(safety["crisis_detected"], true);
    let phones: Vec<_> = safety["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["phone"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(phones, ["109", "1577-0199", "1388"]);
    // Recorded, without the words.
    let (events, sources): (i64, Vec<String>) =
        sqlx::query_as("SELECT count(*), max(sources) FROM safety_events WHERE user_id = $1")
            .bind(user)
            .fetch_one(&h.admin)
            .await
            .map(|(c, s): (i64, Option<Vec<String>>)| (c, s.unwrap_or_default()))
            .unwrap();
    assert_eq!((events, sources), (1, vec!["lexicon".to_owned()]));
    let columns: Vec<String> = sqlx::query_scalar("SELECT column_name::text FROM information_schema.columns WHERE table_name = 'safety_events'")
        .fetch_all(&h.admin).await.unwrap();
    assert!(
        !columns
            .iter()
            .any(|c| c.contains("content") || c.contains("text"))
    );

    // With the model down, the person still gets the crisis lines (not a 503).
    let down = openai_server(ResponseTemplate::new(500), false).await;
    let h = openai_harness(pool.clone(), &down, &[]).await;
    let (_, token) = access_token(&h.state, Role::User).await;
    let id = conversation(&h, &token).await;
    let a = say(&h, &token, &id, "I want to kill myself").await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert!(
        a.body["data"]["assistant_message"]["content"]
            .as_str()
            .unwrap()
            .contains("109")
    );

    // Moderation catches what the lexicon misses.
    let flagging = openai_server(
        ResponseTemplate::new(200).set_body_json(completion("곁에 있을게요.")),
        true,
    )
    .await;
    let h = openai_harness(pool, &flagging, &[]).await;
    let (_, token) = access_token(&h.state, Role::User).await;
    let id = conversation(&h, &token).await;
    let a = say(&h, &token, &id, "오늘 밤이 마지막이면 좋겠다").await;
    assert_eq!(a.body["data"]["safety"]["crisis_detected"], true);
    assert!(
        a.body["data"]["assistant_message"]["content"]
            .as_str()
            .unwrap()
            .contains("1577-0199")
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn the_offline_companion_answers_without_a_key(pool: PgPool) {
    let h = harness(pool, &[]);
    let (_, token) = access_token(&h.state, Role::User).await;
    let id = conversation(&h, &token).await;
    let a = say(&h, &token, &id, "오늘 너무 피곤해").await;
    assert_eq!(a.status, 201, "{}", a.body);
    let reply = &a.body["data"]["assistant_message"];
    assert_eq!(reply["provider"], "offline");
    assert!(reply["content"].as_str().unwrap().contains("오프라인"));
    let again = say(&h, &token, &id, "오늘 너무 피곤해").await;
    assert_eq!(
        again.body["data"]["assistant_message"]["content"], reply["content"],
        "deterministic"
    );
    // Streaming works offline too.
    let response = stream(&h, &token, &id, "외로워").await;
    let events = events(response).await;
    assert!(events.iter().filter(|(e, _)| e == "delta").count() > 3);
    assert_eq!(
        events.last().unwrap().1["data"]["assistant_message"]["provider"],
        "offline"
    );
}

/// Issue 12 (M4): health data never leaves for a third party. A crisis, then an unrelated
/// error reported to Sentry (a wiremock stand-in): the report holds neither the crisis nor
/// anyone's ids.
#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_crisis_never_reaches_sentry(pool: PgPool) {
    let sentry = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/42/envelope/"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&sentry)
        .await;
    let address = sentry.address();
    let dsn = format!("http://public@{}:{}/42", address.ip(), address.port());
    let h = harness(pool, &[("SENTRY_DSN", dsn.as_str())]);
    shared::telemetry::init(&h.state.settings);

    let (user, token) = h.person().await;
    let id = conversation(&h, &token).await;
    let a = say(&h, &token, &id, "요즘 그냥 사라지고 싶어").await;
    assert_eq!(
        a.body["data"]["safety"]["crisis_detected"], true,
        "{}",
        a.body
    );
    tracing::warn!(user_id = %user, "a breadcrumb that names someone");
    tracing::error!("an unrelated failure afterwards");
    tokio::task::spawn_blocking(shared::telemetry::flush_error_reports)
        .await
        .unwrap();

    let received = sentry.received_requests().await.unwrap();
    assert_eq!(received.len(), 1, "one error event");
    let report = String::from_utf8_lossy(&received[0].body);
    assert!(
        report.contains("an unrelated failure afterwards"),
        "{report}"
    );
    assert!(
        report.contains("a breadcrumb that names someone"),
        "{report}"
    );
    for secret in ["crisis", &user.to_string(), &id] {
        assert!(
            !report.contains(secret),
            "{secret} reached Sentry: {report}"
        );
    }
}
