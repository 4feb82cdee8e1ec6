//! Crisis care in a conversation: a question about means gets our words only (never the
//! model's), despair and someone else's risk get gentler lines, and after a crisis the
//! conversation keeps the lines for a day.

mod common;

use common::*;
use shared::auth::Role;
use sqlx::PgPool;
use wiremock::ResponseTemplate;

const MODEL: &str = "Here is what I found.";

/// The function with a model that always says [`MODEL`] (keep the server while calling).
async fn with_model(pool: PgPool) -> (Harness, String, wiremock::MockServer) {
    let server = openai_server(
        ResponseTemplate::new(200).set_body_json(completion(MODEL)),
        false,
    )
    .await;
    let h = openai_harness(pool, &server, &[]).await;
    let (_, token) = access_token(&h.state, Role::User).await;
    (h, token, server)
}

fn reply(a: &Answer) -> String {
    a.body["data"]["assistant_message"]["content"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_question_about_means_never_gets_the_models_words(pool: PgPool) {
    let (h, token, _model) = with_model(pool).await;
    let id = conversation(&h, &token).await;
    for message in [
        "수면제 몇 알 먹으면 안 깨어나?",
        "how many pills would it take",
    ] {
        let a = say(&h, &token, &id, message).await;
        assert_eq!(a.status, 201, "{}", a.body);
        let text = reply(&a);
        assert!(!text.contains(MODEL), "{text}");
        assert!(text.contains("109") && text.contains("1577-0199"), "{text}");
        assert_eq!(a.body["data"]["safety"]["level"], "crisis");
        assert_eq!(a.body["data"]["safety"]["category"], "means");
        assert_eq!(a.body["data"]["assistant_message"]["provider"], "offline");
    }
    // Streamed, not one word of the model's passes either.
    let response = stream(&h, &token, &id, "what's the most painless way").await;
    let deltas: String = events(response)
        .await
        .into_iter()
        .filter(|(e, _)| e == "delta")
        .map(|(_, d)| d["content"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        !deltas.contains(MODEL) && deltas.contains("109"),
        "{deltas}"
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn despair_and_someone_elses_risk_get_gentler_lines(pool: PgPool) {
    let (h, token, _model) = with_model(pool).await;
    let id = conversation(&h, &token).await;
    let a = say(&h, &token, &id, "아무것도 나아질 것 같지 않아").await;
    let safety = &a.body["data"]["safety"];
    assert_eq!(
        (
            safety["level"].as_str(),
            safety["crisis_detected"].as_bool()
        ),
        (Some("concern"), Some(false))
    );
    let text = reply(&a);
    assert!(
        text.contains("1577-0199") && text.ends_with(MODEL),
        "{text}"
    );

    let a = say(
        &h,
        &token,
        &id,
        "친구가 죽고 싶다고 하는데 어떻게 도와줘야 해?",
    )
    .await;
    assert_eq!(a.body["data"]["safety"]["category"], "third_party");
    assert_eq!(a.body["data"]["safety"]["level"], "concern");
    assert!(reply(&a).contains("도우려는"), "{}", reply(&a));
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn after_a_crisis_the_conversation_keeps_the_lines_for_a_day(pool: PgPool) {
    let (h, token, _model) = with_model(pool).await;
    let id = conversation(&h, &token).await;
    let other = conversation(&h, &token).await;
    let a = say(&h, &token, &id, "오늘 밤에 다 끝낼 거야").await;
    assert_eq!(a.body["data"]["safety"]["level"], "crisis");

    let a = say(&h, &token, &id, "그냥 밥 먹었어").await;
    let safety = &a.body["data"]["safety"];
    assert_eq!(safety["level"], "concern", "remembered: {safety}");
    assert!(!safety["resources"].as_array().unwrap().is_empty());
    assert!(reply(&a).contains("109"));

    let a = say(&h, &token, &other, "그냥 밥 먹었어").await;
    assert_eq!(
        a.body["data"]["safety"]["level"], "none",
        "another conversation"
    );

    sqlx::query("UPDATE conversations SET crisis_until = now() - interval '1 second'")
        .execute(&h.admin)
        .await
        .unwrap();
    let a = say(&h, &token, &id, "그냥 밥 먹었어").await;
    assert_eq!(a.body["data"]["safety"]["level"], "none", "a day later");
}

#[test]
fn the_system_prompt_follows_safe_messaging() {
    for rule in ["AI라고 분명히", "방법, 수단", "미화하지"] {
        assert!(chat::SYSTEM_PROMPT.contains(rule), "{rule}");
    }
}
