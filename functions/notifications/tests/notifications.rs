//! `/api/v1/notifications`: the list with its unread count, marking read, deleting, and
//! `notify` as the other functions use it.

mod common;

use common::*;
use serde_json::{Value, json};
use shared::domain::notifications::{self, Kind, Localized};
use sqlx::PgPool;

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_person_lists_reads_and_deletes_their_own(pool: PgPool) {
    let h = harness(pool);
    let (me, token) = h.person().await;
    let first = notify(&h, me, Kind::Comment, 1).await;
    let second = notify(&h, me, Kind::Like, 2).await;
    notify(&h, me, Kind::System, 3).await;

    let page = list(&h, &token, "").await;
    assert_eq!(numbers(&page), [3, 2, 1], "newest first");
    assert_eq!(page["unread_count"], 3);
    assert_eq!(page["next_cursor"], Value::Null);
    let item = &page["items"][2];
    assert_eq!(item["id"], first.to_string());
    assert_eq!(item["type"], "comment");
    assert_eq!(item["title"], "알림 1");
    assert_eq!(item["body"], "누군가 응원을 보냈어요");
    assert_eq!(item["is_read"], false);
    assert!(item["created_at"].is_string());

    let read = h
        .call(
            "PATCH",
            &format!("/{first}/read"),
            Some(&token),
            Value::Null,
        )
        .await;
    assert_eq!(read.status, 200, "{}", read.body);
    assert_eq!(read.body["data"]["is_read"], true);
    let again = h
        .call(
            "PATCH",
            &format!("/{first}/read"),
            Some(&token),
            Value::Null,
        )
        .await;
    assert_eq!(
        again.body["data"], read.body["data"],
        "reading twice changes nothing"
    );
    let unread = list(&h, &token, "?unread_only=true").await;
    assert_eq!(numbers(&unread), [3, 2]);
    assert_eq!(unread["unread_count"], 2);

    let all = h
        .call("PATCH", "/read-all", Some(&token), Value::Null)
        .await;
    assert_eq!(all.body["data"], json!({ "updated": 2 }));
    let none = h
        .call("PATCH", "/read-all", Some(&token), Value::Null)
        .await;
    assert_eq!(none.body["data"], json!({ "updated": 0 }));
    assert_eq!(list(&h, &token, "").await["unread_count"], 0);
    assert_eq!(
        numbers(&list(&h, &token, "?unread_only=true").await),
        Vec::<u64>::new()
    );

    let gone = h
        .call("DELETE", &format!("/{second}"), Some(&token), Value::Null)
        .await;
    assert_eq!(gone.status, 200);
    assert_eq!(gone.body["data"], Value::Null);
    assert_eq!(numbers(&list(&h, &token, "").await), [3, 1]);
    assert_error(
        &h.call("DELETE", &format!("/{second}"), Some(&token), Value::Null)
            .await,
        404,
        "NOT_FOUND",
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn someone_elses_notification_is_not_found_and_untouched(pool: PgPool) {
    let h = harness(pool);
    let (_, mine) = h.person().await;
    let (other, _) = h.person().await;
    let theirs = notify(&h, other, Kind::Challenge, 1).await;
    for (method, path) in [
        ("PATCH", format!("/{theirs}/read")),
        ("DELETE", format!("/{theirs}")),
    ] {
        assert_error(
            &h.call(method, &path, Some(&mine), Value::Null).await,
            404,
            "NOT_FOUND",
        );
    }
    // Reading all of mine reads none of theirs.
    let all = h.call("PATCH", "/read-all", Some(&mine), Value::Null).await;
    assert_eq!(all.body["data"], json!({ "updated": 0 }));
    assert_eq!(numbers(&list(&h, &mine, "").await), Vec::<u64>::new());
    let untouched: (bool, i64) =
        sqlx::query_as("SELECT read_at IS NULL, count(*) OVER () FROM notifications WHERE id = $1")
            .bind(theirs)
            .fetch_one(&h.admin)
            .await
            .unwrap();
    assert_eq!(untouched, (true, 1));
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn pages_have_no_duplicates_or_gaps_under_inserts(pool: PgPool) {
    let h = harness(pool);
    let (me, token) = h.person().await;
    for n in 1..=25 {
        notify(&h, me, Kind::Like, n).await;
    }
    let mut seen = Vec::new();
    let mut query = "?limit=10".to_owned();
    for round in 0.. {
        let page = list(&h, &token, &query).await;
        seen.extend(numbers(&page));
        // New notifications arrive between pages: they belong before the first page.
        notify(&h, me, Kind::Like, 100 + round).await;
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("?limit=10&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, (1..=25).rev().collect::<Vec<u64>>());

    // The unread list pages the same way, with its own cursors.
    let first = list(&h, &token, "?unread_only=true&limit=2").await;
    let cursor = first["next_cursor"].as_str().unwrap();
    assert_error(
        &h.call(
            "GET",
            &format!("?cursor={cursor}"),
            Some(&token),
            Value::Null,
        )
        .await,
        400,
        "BAD_REQUEST",
    );
    let next = list(
        &h,
        &token,
        &format!("?unread_only=true&limit=2&cursor={cursor}"),
    )
    .await;
    assert_eq!(numbers(&first).len() + numbers(&next).len(), 4);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn bad_requests_are_named(pool: PgPool) {
    let h = harness(pool);
    let (_, token) = h.person().await;
    for query in ["?limit=0", "?limit=101", "?unread_only=maybe"] {
        let a = h.call("GET", query, Some(&token), Value::Null).await;
        assert_error(&a, 422, "VALIDATION_ERROR");
    }
    assert_error(
        &h.call("GET", "?cursor=made-up", Some(&token), Value::Null)
            .await,
        400,
        "BAD_REQUEST",
    );
    for (method, path) in [("PATCH", "/not-an-id/read"), ("DELETE", "/not-an-id")] {
        assert_error(
            &h.call(method, path, Some(&token), Value::Null).await,
            404,
            "NOT_FOUND",
        );
    }
    assert_error(
        &h.call("GET", "", None, Value::Null).await,
        401,
        "UNAUTHORIZED",
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn notify_speaks_the_recipients_language_and_rolls_back_with_its_cause(pool: PgPool) {
    let h = harness(pool);
    let (me, token) = h.person().await;
    sqlx::query("UPDATE users SET locale = 'en' WHERE id = $1")
        .bind(me)
        .execute(&h.admin)
        .await
        .unwrap();
    notify(&h, me, Kind::System, 1).await;
    let page = list(&h, &token, "").await;
    assert_eq!(page["items"][0]["title"], "Notice 1");
    assert_eq!(page["items"][0]["body"], "Someone cheered you on");

    // The action that would have caused it rolled back: no notification.
    let text = Localized {
        ko: "안녕",
        en: "Hello",
    };
    let mut tx = h.admin.begin().await.unwrap();
    let id = notifications::notify(&mut tx, me, Kind::Like, text, text, &json!({}))
        .await
        .unwrap();
    assert!(id.is_some());
    tx.rollback().await.unwrap();
    assert_eq!(list(&h, &token, "").await["unread_count"], 1);

    // Nobody to tell: a deleted account.
    let mut tx = h.admin.begin().await.unwrap();
    let nobody = uuid::Uuid::now_v7();
    let none = notifications::notify(&mut tx, nobody, Kind::Like, text, text, &json!({}))
        .await
        .unwrap();
    assert_eq!(none, None);
    assert!(
        notifications::notify(&mut tx, me, Kind::Like, text, text, &json!([1]))
            .await
            .is_err(),
        "data is an object"
    );
}
