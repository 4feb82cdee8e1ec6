//! The feed: both sorts page without repeating or skipping a post while posts and likes
//! arrive; the category filter; bad parameters.

mod common;

use common::*;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

/// `n` posts titled `p00`, `p01`, … by `author`, made `minutes` ago (one second apart, in
/// that order), in `category`; post `k` has `likes[k]` likes from people who liked it an
/// hour ago. Their ids, in order.
async fn seed(h: &Harness, author: Uuid, category: &str, likes: &[i32]) -> Vec<Uuid> {
    let mut ids = Vec::new();
    for (k, &n) in likes.iter().enumerate() {
        let id = Uuid::now_v7();
        sqlx::query(
            "INSERT INTO posts (id, author_id, title, content, category, like_count, created_at)
             VALUES ($1, $2, $3, '내용', $4, $5, now() - interval '10 minutes' + $6 * interval '1 second')",
        )
        .bind(id)
        .bind(author)
        .bind(format!("p{k:02}"))
        .bind(category)
        .bind(n)
        .bind(k as i32)
        .execute(&h.admin)
        .await
        .unwrap();
        // Likers whose accounts are gone: counted, no one's.
        sqlx::query(
            "INSERT INTO post_likes (post_id, user_id, liked_at)
             SELECT $1, NULL, now() - interval '1 hour' FROM generate_series(1, $2)",
        )
        .bind(id)
        .bind(n)
        .execute(&h.admin)
        .await
        .unwrap();
        ids.push(id);
    }
    ids
}

async fn page(h: &Harness, who: &Person, query: &str) -> Value {
    expect(h, who, "GET", &format!("/posts?{query}"), Value::Null, 200).await
}

fn next(page: &Value) -> Option<String> {
    page["next_cursor"].as_str().map(str::to_owned)
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn latest_pages_neither_repeat_nor_skip_while_posts_arrive(pool: PgPool) {
    let h = harness(pool);
    let me = person(&h).await;
    seed(&h, me.id, "daily", &[0; 25]).await;
    let mut seen = Vec::new();
    let mut query = "limit=10".to_owned();
    loop {
        let p = page(&h, &me, &query).await;
        seen.extend(titles(&p));
        // Someone posts between every two pages.
        post_titled(&h, &me, "새 글").await;
        match next(&p) {
            Some(cursor) => query = format!("limit=10&cursor={cursor}"),
            None => break,
        }
    }
    let expected: Vec<String> = (0..25).rev().map(|k| format!("p{k:02}")).collect();
    assert_eq!(seen, expected);
    let fresh = page(&h, &me, "limit=3").await;
    assert_eq!(titles(&fresh), ["새 글", "새 글", "새 글"], "newest first");
}

/// Likes pour into the posts of later pages and leave those of earlier ones, posts arrive
/// and one is deleted: the pages still hold every post of the snapshot exactly once, in
/// its order; a new first page sees the new counts.
#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn popular_pages_are_stable_while_likes_arrive(pool: PgPool) {
    let h = harness(pool);
    let me = person(&h).await;
    let fans = {
        let mut fans = Vec::new();
        for _ in 0..12 {
            fans.push(person(&h).await);
        }
        fans
    };
    // Post k has (30 - k) / 3 likes: ties broken by recency.
    let likes: Vec<i32> = (0..30).map(|k| (30 - k) / 3).collect();
    let ids = seed(&h, me.id, "worry", &likes).await;
    let mut expected: Vec<(i32, usize)> = likes.iter().copied().zip(0..).collect();
    expected.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
    let expected: Vec<String> = expected.iter().map(|(_, k)| format!("p{k:02}")).collect();

    let first = page(&h, &me, "sort=popular&limit=10").await;
    assert_eq!(titles(&first), expected[..10]);
    // Every fan likes the last post of the snapshot; the first one's likes vanish
    // (withdrawn where they can be: these fans had not liked it, so they like and unlike);
    // a new post arrives with many likes; one post of page two is deleted.
    let last = ids[29];
    for fan in &fans {
        expect(
            &h,
            fan,
            "POST",
            &format!("/posts/{last}/like"),
            Value::Null,
            200,
        )
        .await;
        expect(
            &h,
            fan,
            "POST",
            &format!("/posts/{}/like", ids[0]),
            Value::Null,
            200,
        )
        .await;
        expect(
            &h,
            fan,
            "DELETE",
            &format!("/posts/{}/like", ids[0]),
            Value::Null,
            200,
        )
        .await;
    }
    sqlx::query(
        "UPDATE post_likes SET unliked_at = now() WHERE post_id = $1 AND unliked_at IS NULL",
    )
    .bind(ids[1])
    .execute(&h.admin)
    .await
    .unwrap();
    sqlx::query("UPDATE posts SET like_count = 0 WHERE id = $1")
        .bind(ids[1])
        .execute(&h.admin)
        .await
        .unwrap();
    let newcomer = post_titled(&h, &me, "새 인기글").await;
    for fan in &fans {
        expect(
            &h,
            fan,
            "POST",
            &format!("/posts/{newcomer}/like"),
            Value::Null,
            200,
        )
        .await;
    }
    let deleted = &expected[12];
    sqlx::query("UPDATE posts SET deleted_at = now() WHERE title = $1")
        .bind(deleted)
        .execute(&h.admin)
        .await
        .unwrap();

    let mut seen = titles(&first);
    let mut cursor = next(&first);
    while let Some(c) = cursor {
        let p = page(&h, &me, &format!("sort=popular&limit=10&cursor={c}")).await;
        seen.extend(titles(&p));
        cursor = next(&p);
    }
    let remaining: Vec<String> = expected.iter().filter(|t| *t != deleted).cloned().collect();
    assert_eq!(
        seen, remaining,
        "each post of the snapshot once, in its order"
    );

    // A new first page ranks by the counts of now (after the snapshot's second).
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let now = page(&h, &me, "sort=popular&limit=3").await;
    let top = titles(&now);
    assert_eq!(
        top[..2],
        ["새 인기글", "p29"],
        "12 likes each, the newer first"
    );
    assert_eq!(now["items"][1]["like_count"], 12);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn categories_filter_and_bad_parameters_are_named(pool: PgPool) {
    let h = harness(pool);
    let me = person(&h).await;
    seed(&h, me.id, "daily", &[1, 2]).await;
    let worries = seed(&h, me.id, "worry", &[0, 5, 3]).await;
    for sort in ["latest", "popular"] {
        let p = page(&h, &me, &format!("category=worry&sort={sort}")).await;
        let items = p["items"].as_array().unwrap();
        assert_eq!(items.len(), 3);
        assert!(items.iter().all(|i| i["category"] == "worry"));
        assert_eq!(p["next_cursor"], Value::Null);
    }
    let p = page(&h, &me, "category=worry&sort=popular").await;
    assert_eq!(titles(&p), ["p01", "p02", "p00"]);
    assert_eq!(p["items"][0]["id"], worries[1].to_string());
    let all = page(&h, &me, "sort=popular").await;
    assert_eq!(titles(&all), ["p01", "p02", "p01", "p00", "p00"]);

    for (query, field) in [
        ("category=news", "category"),
        ("sort=hot", "sort"),
        ("limit=0", "limit"),
        ("limit=101", "limit"),
    ] {
        let a = h
            .call("GET", &format!("/posts?{query}"), me.token(), Value::Null)
            .await;
        let error = assert_error(&a, 422, "VALIDATION_ERROR");
        assert!(
            error["details"]["fields"][field].is_array(),
            "{query}: {error}"
        );
    }
    // A cursor belongs to its sort and category.
    let latest = page(&h, &me, "limit=1").await;
    let cursor = next(&latest).unwrap();
    for query in [
        format!("sort=popular&cursor={cursor}"),
        format!("category=worry&cursor={cursor}"),
        "cursor=not-a-cursor".to_owned(),
    ] {
        let a = h
            .call("GET", &format!("/posts?{query}"), me.token(), Value::Null)
            .await;
        assert_error(&a, 400, "BAD_REQUEST");
    }
    let body = json!({ "title": "t", "content": "c", "category": "free" });
    write_post(&h, &me, body).await;
}
