//! Conversations: validation, the per-user message limit, someone else's conversations, and
//! keyset pages.

mod common;

use common::*;
use serde_json::{Value, json};
use shared::auth::Role;
use sqlx::PgPool;

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn validation(pool: PgPool) {
    let h = harness(pool, &[]);
    let (_, token) = access_token(&h.state, Role::User).await;
    let id = conversation(&h, &token).await;
    for body in [
        json!({ "content": "" }),
        json!({ "content": "   " }),
        json!({ "content": "가".repeat(2001) }),
        json!({}),
        json!({ "content": "x", "role": "system" }),
    ] {
        let e = h
            .call(
                "POST",
                &format!("/conversations/{id}/messages"),
                Some(&token),
                body.clone(),
            )
            .await;
        let e = assert_error(&e, 422, "VALIDATION_ERROR");
        assert!(
            e["details"]["fields"].as_object().unwrap().len() == 1,
            "{body}: {e}"
        );
    }
    assert_eq!(
        count(&h, "SELECT count(*) FROM chat_messages").await,
        0,
        "nothing saved"
    );
    let long_title = h
        .call(
            "POST",
            "/conversations",
            Some(&token),
            json!({ "title": "가".repeat(101) }),
        )
        .await;
    assert_error(&long_title, 422, "VALIDATION_ERROR");
    let titled = h
        .call(
            "POST",
            "/conversations",
            Some(&token),
            json!({ "title": "  나의 일기  " }),
        )
        .await;
    assert_eq!(titled.body["data"]["title"], "나의 일기");
    assert_error(
        &h.call("GET", "/conversations/nope", Some(&token), Value::Null)
            .await,
        404,
        "NOT_FOUND",
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn messages_are_limited_per_user(pool: PgPool) {
    // Real Redis: the limit is counted by the same script as the general limit.
    let h = Harness::with_cache(
        pool,
        "chat",
        chat::routes(),
        &[("RATE_LIMIT_AI_CHAT", "2/hour")],
        redis_cache(),
    );
    let (_, token) = access_token(&h.state, Role::User).await;
    let (_, other) = access_token(&h.state, Role::User).await;
    let id = conversation(&h, &token).await;
    let first = say(&h, &token, &id, "안녕").await;
    assert_eq!(first.status, 201);
    assert_eq!(
        first.headers["ratelimit-limit"], "2",
        "the chat limit's headers"
    );
    assert_eq!(first.headers["ratelimit-remaining"], "1");
    assert_eq!(say(&h, &token, &id, "안녕").await.status, 201);
    let limited = say(&h, &token, &id, "안녕").await;
    assert_error(&limited, 429, "RATE_LIMITED");
    assert!(limited.headers.contains_key("retry-after"));
    assert_eq!(limited.headers["ratelimit-limit"], "2");
    assert_eq!(
        count(&h, "SELECT count(*) FROM chat_messages").await,
        4,
        "the refused message was not saved"
    );
    let theirs = conversation(&h, &other).await;
    assert_eq!(
        say(&h, &other, &theirs, "안녕").await.status,
        201,
        "another person has their own budget"
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn someone_elses_conversation_is_not_found(pool: PgPool) {
    let h = harness(pool, &[]);
    let (_, alice) = access_token(&h.state, Role::User).await;
    let (_, mallory) = access_token(&h.state, Role::User).await;
    let id = conversation(&h, &alice).await;
    say(&h, &alice, &id, "비밀 이야기").await;
    assert_error(
        &h.call(
            "GET",
            &format!("/conversations/{id}"),
            Some(&mallory),
            Value::Null,
        )
        .await,
        404,
        "NOT_FOUND",
    );
    assert_error(&say(&h, &mallory, &id, "엿보기").await, 404, "NOT_FOUND");
    assert_error(
        &h.call(
            "DELETE",
            &format!("/conversations/{id}"),
            Some(&mallory),
            Value::Null,
        )
        .await,
        404,
        "NOT_FOUND",
    );
    assert_eq!(
        h.call("GET", "/conversations", Some(&mallory), Value::Null)
            .await
            .body["data"]["items"],
        json!([])
    );
    assert_eq!(count(&h, "SELECT count(*) FROM chat_messages").await, 2);
    assert_eq!(
        h.call(
            "DELETE",
            &format!("/conversations/{id}"),
            Some(&alice),
            Value::Null
        )
        .await
        .status,
        200
    );
    assert_eq!(count(&h, "SELECT count(*) FROM chat_messages").await, 0);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn conversations_list_by_activity_and_messages_page_backwards(pool: PgPool) {
    let h = harness(pool, &[("RATE_LIMIT_AI_CHAT", "1000/hour")]);
    let (_, token) = access_token(&h.state, Role::User).await;
    let first = conversation(&h, &token).await;
    let second = conversation(&h, &token).await;
    say(&h, &token, &first, "다시 왔어").await;
    let list = h
        .call("GET", "/conversations", Some(&token), Value::Null)
        .await;
    let ids: Vec<_> = list.body["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, [first.clone(), second.clone()]);

    for i in 0..5 {
        say(&h, &token, &first, &format!("메시지 {i}")).await;
    }
    // 12 messages in all; read them back 5 at a time, newest page first.
    let mut seen: Vec<String> = Vec::new();
    let mut path = format!("/conversations/{first}?limit=5");
    let mut cursors = Vec::new();
    loop {
        let page = h.call("GET", &path, Some(&token), Value::Null).await;
        let messages: Vec<String> = page.body["data"]["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect();
        let mut older = messages.clone();
        older.extend(seen);
        seen = older;
        match page.body["data"]["next_cursor"].as_str() {
            Some(c) => {
                path = format!("/conversations/{first}?limit=5&before={c}");
                cursors.push(c.to_owned());
            }
            None => break,
        }
    }
    assert_eq!(seen.len(), 12);
    // A cursor belongs to its conversation: on another it is a bad cursor, not a position.
    let elsewhere = h
        .call(
            "GET",
            &format!("/conversations/{second}?before={}", cursors[0]),
            Some(&token),
            Value::Null,
        )
        .await;
    assert_eq!(elsewhere.status, 400);
    assert_eq!(elsewhere.body["error"]["code"], "BAD_REQUEST");
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(
        seen, sorted,
        "oldest to newest, no duplicates (ids are time-ordered)"
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn messages_and_titles_are_stored_sealed_for_their_owner(pool: PgPool) {
    let h = harness(pool, &[]);
    let (me, token) = access_token(&h.state, Role::User).await;
    let id = conversation(&h, &token).await;
    let words = "요즘 회사에서 너무 지쳐서 아무것도 하기 싫어";
    assert_eq!(say(&h, &token, &id, words).await.status, 201);

    let stored: Vec<(String, Vec<u8>)> =
        sqlx::query_as("SELECT role, content FROM chat_messages ORDER BY created_at, id")
            .fetch_all(&h.admin)
            .await
            .unwrap();
    let title: Vec<u8> = sqlx::query_scalar("SELECT title FROM conversations")
        .fetch_one(&h.admin)
        .await
        .unwrap();
    let seen = "회사".as_bytes();
    for value in stored.iter().map(|(_, v)| v).chain([&title]) {
        assert_eq!(value[0], 1, "sealed");
        assert!(!value.windows(seen.len()).any(|w| w == seen));
    }
    assert_eq!(
        h.state
            .keyring
            .open(chat::model::CONTENT, me, &stored[0].1)
            .unwrap(),
        words
    );
    // Bound to the owner and the column: not someone else's, not a title.
    let other = uuid::Uuid::now_v7();
    assert!(
        h.state
            .keyring
            .open(chat::model::CONTENT, other, &stored[0].1)
            .is_err()
    );
    assert!(
        h.state
            .keyring
            .open(chat::model::TITLE, me, &stored[0].1)
            .is_err()
    );

    let got = h
        .call(
            "GET",
            &format!("/conversations/{id}"),
            Some(&token),
            Value::Null,
        )
        .await;
    assert_eq!(got.body["data"]["messages"][0]["content"], words);
    assert!(
        got.body["data"]["conversation"]["title"]
            .as_str()
            .unwrap()
            .starts_with("요즘 회사에서")
    );
    let listed = h
        .call("GET", "/conversations", Some(&token), Value::Null)
        .await;
    assert_eq!(
        listed.body["data"]["items"][0]["title"],
        got.body["data"]["conversation"]["title"]
    );
}
