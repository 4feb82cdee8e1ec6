//! Comments and likes: pages, author-only edits, exact counts under concurrency, and the
//! notifications they send.

mod common;

use common::*;
use serde_json::{Value, json};
use sqlx::PgPool;

async fn comment(h: &Harness, who: &Person, post: &str, content: &str) -> Value {
    expect(
        h,
        who,
        "POST",
        &format!("/posts/{post}/comments"),
        json!({ "content": content }),
        201,
    )
    .await
}

async fn counts(h: &Harness, post: &str) -> (i32, i32) {
    sqlx::query_as("SELECT like_count, comment_count FROM posts WHERE id = $1::uuid")
        .bind(post)
        .fetch_one(&h.admin)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn comments_come_oldest_first_in_pages(pool: PgPool) {
    let h = harness(pool);
    let me = person(&h).await;
    let post = post_titled(&h, &me, "댓글 받는 글").await;
    for n in 0..5 {
        comment(&h, &me, &post, &format!("댓글 {n}")).await;
    }
    let mut seen = Vec::new();
    let mut path = format!("/posts/{post}/comments?limit=2");
    let mut cursors = Vec::new();
    loop {
        let page = expect(&h, &me, "GET", &path, Value::Null, 200).await;
        for c in page["items"].as_array().unwrap() {
            assert_eq!(c["post_id"], post.as_str());
            assert_eq!(c["is_mine"], true);
            assert_eq!(c["author"]["nickname"], me.nickname.as_str());
            seen.push(c["content"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                path = format!("/posts/{post}/comments?limit=2&cursor={cursor}");
                cursors.push(cursor.to_owned());
            }
            None => break,
        }
    }
    assert_eq!(seen, ["댓글 0", "댓글 1", "댓글 2", "댓글 3", "댓글 4"]);
    // A cursor belongs to its post's comments: on another post it is a bad cursor.
    let other = post_titled(&h, &me, "다른 글").await;
    comment(&h, &me, &other, "다른 댓글").await;
    let elsewhere = h
        .call(
            "GET",
            &format!("/posts/{other}/comments?cursor={}", cursors[0]),
            me.token(),
            Value::Null,
        )
        .await;
    assert_error(&elsewhere, 400, "BAD_REQUEST");

    let bad = h
        .call(
            "GET",
            &format!("/posts/{post}/comments?cursor=abc.def"),
            me.token(),
            Value::Null,
        )
        .await;
    assert_error(&bad, 400, "BAD_REQUEST");
    let zero = h
        .call(
            "GET",
            &format!("/posts/{post}/comments?limit=0"),
            me.token(),
            Value::Null,
        )
        .await;
    assert_error(&zero, 422, "VALIDATION_ERROR");
    let missing = uuid::Uuid::now_v7();
    for (method, body) in [("GET", Value::Null), ("POST", json!({ "content": "x" }))] {
        let a = h
            .call(
                method,
                &format!("/posts/{missing}/comments"),
                me.token(),
                body,
            )
            .await;
        assert_error(&a, 404, "NOT_FOUND");
    }
    let empty = h
        .call(
            "POST",
            &format!("/posts/{post}/comments"),
            me.token(),
            json!({ "content": " " }),
        )
        .await;
    assert_error(&empty, 422, "VALIDATION_ERROR");
    let long = h
        .call(
            "POST",
            &format!("/posts/{post}/comments"),
            me.token(),
            json!({ "content": "가".repeat(1001) }),
        )
        .await;
    assert_error(&long, 422, "VALIDATION_ERROR");

    // A deleted post takes its comments along.
    expect(
        &h,
        &me,
        "DELETE",
        &format!("/posts/{post}"),
        Value::Null,
        200,
    )
    .await;
    let gone = h
        .call(
            "GET",
            &format!("/posts/{post}/comments"),
            me.token(),
            Value::Null,
        )
        .await;
    assert_error(&gone, 404, "NOT_FOUND");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn only_a_comments_author_edits_or_deletes_it_and_the_count_follows(pool: PgPool) {
    let h = harness(pool);
    let author = person(&h).await;
    let stranger = person(&h).await;
    let post = post_titled(&h, &stranger, "글").await;
    let first = comment(&h, &author, &post, "처음 댓글").await;
    comment(&h, &stranger, &post, "두번째").await;
    assert_eq!(counts(&h, &post).await.1, 2);
    let path = format!("/comments/{}", first["id"].as_str().unwrap());

    let refused = h
        .call(
            "PATCH",
            &path,
            stranger.token(),
            json!({ "content": "바꿈" }),
        )
        .await;
    assert_error(&refused, 403, "FORBIDDEN");
    let refused = h.call("DELETE", &path, stranger.token(), Value::Null).await;
    assert_error(&refused, 403, "FORBIDDEN");
    let list = expect(
        &h,
        &author,
        "GET",
        &format!("/posts/{post}/comments"),
        Value::Null,
        200,
    )
    .await;
    assert_eq!(list["items"][0]["content"], "처음 댓글", "untouched");
    assert_eq!(counts(&h, &post).await.1, 2);

    let edited = expect(
        &h,
        &author,
        "PATCH",
        &path,
        json!({ "content": "고친 댓글" }),
        200,
    )
    .await;
    assert_eq!(edited["content"], "고친 댓글");
    assert_eq!(edited["id"], first["id"]);
    assert_ne!(edited["updated_at"], first["updated_at"]);
    let unknown = h
        .call(
            "PATCH",
            &path,
            author.token(),
            json!({ "content": "x", "is_anonymous": true }),
        )
        .await;
    assert_error(&unknown, 422, "VALIDATION_ERROR");

    expect(&h, &author, "DELETE", &path, Value::Null, 200).await;
    assert_eq!(counts(&h, &post).await.1, 1);
    let list = expect(
        &h,
        &author,
        "GET",
        &format!("/posts/{post}/comments"),
        Value::Null,
        200,
    )
    .await;
    assert_eq!(titles_of_comments(&list), ["두번째"]);
    let again = h.call("DELETE", &path, author.token(), Value::Null).await;
    assert_error(&again, 404, "NOT_FOUND");
    assert_eq!(counts(&h, &post).await.1, 1, "deleting twice counts once");
    let missing = h
        .call(
            "PATCH",
            &format!("/comments/{}", uuid::Uuid::now_v7()),
            author.token(),
            json!({ "content": "x" }),
        )
        .await;
    assert_error(&missing, 404, "NOT_FOUND");
}

fn titles_of_comments(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["content"].as_str().unwrap().to_owned())
        .collect()
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn likes_are_idempotent_both_ways(pool: PgPool) {
    let h = harness(pool);
    let me = person(&h).await;
    let author = person(&h).await;
    let post = post_titled(&h, &author, "좋아요 받을 글").await;
    let like = format!("/posts/{post}/like");
    for _ in 0..2 {
        let state = expect(&h, &me, "POST", &like, Value::Null, 200).await;
        assert_eq!(state, json!({ "liked": true, "like_count": 1 }));
    }
    let seen = expect(&h, &me, "GET", &format!("/posts/{post}"), Value::Null, 200).await;
    assert_eq!(seen["liked_by_me"], true);
    let by_author = expect(
        &h,
        &author,
        "GET",
        &format!("/posts/{post}"),
        Value::Null,
        200,
    )
    .await;
    assert_eq!(by_author["liked_by_me"], false);
    for _ in 0..2 {
        let state = expect(&h, &me, "DELETE", &like, Value::Null, 200).await;
        assert_eq!(state, json!({ "liked": false, "like_count": 0 }));
    }
    let seen = expect(&h, &me, "GET", &format!("/posts/{post}"), Value::Null, 200).await;
    assert_eq!(seen["liked_by_me"], false);
    assert_eq!(seen["like_count"], 0);

    let missing = format!("/posts/{}/like", uuid::Uuid::now_v7());
    for method in ["POST", "DELETE"] {
        assert_error(
            &h.call(method, &missing, me.token(), Value::Null).await,
            404,
            "NOT_FOUND",
        );
    }
    expect(
        &h,
        &author,
        "DELETE",
        &format!("/posts/{post}"),
        Value::Null,
        200,
    )
    .await;
    assert_error(
        &h.call("POST", &like, me.token(), Value::Null).await,
        404,
        "NOT_FOUND",
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_comment_or_like_tells_the_author_once_and_never_for_their_own(pool: PgPool) {
    let h = harness(pool);
    let author = person(&h).await;
    let fan = person(&h).await;
    let post = post_titled(&h, &author, "알림 받을 글").await;

    comment(&h, &author, &post, "내 글에 내 댓글").await;
    expect(
        &h,
        &author,
        "POST",
        &format!("/posts/{post}/like"),
        Value::Null,
        200,
    )
    .await;
    assert!(
        notifications_of(&h, author.id).await.is_empty(),
        "their own actions"
    );

    let c = comment(&h, &fan, &post, "멋진 글이에요").await;
    for _ in 0..3 {
        expect(
            &h,
            &fan,
            "POST",
            &format!("/posts/{post}/like"),
            Value::Null,
            200,
        )
        .await;
        expect(
            &h,
            &fan,
            "DELETE",
            &format!("/posts/{post}/like"),
            Value::Null,
            200,
        )
        .await;
    }
    expect(
        &h,
        &fan,
        "POST",
        &format!("/posts/{post}/like"),
        Value::Null,
        200,
    )
    .await;
    let told = notifications_of(&h, author.id).await;
    assert_eq!(
        told,
        [
            (
                "comment".to_owned(),
                json!({ "post_id": post, "comment_id": c["id"] })
            ),
            ("like".to_owned(), json!({ "post_id": post })),
        ],
        "once per liker"
    );
    let (title, body): (String, String) = sqlx::query_as(
        "SELECT title, body FROM notifications WHERE user_id = $1 AND kind = 'comment'",
    )
    .bind(author.id)
    .fetch_one(&h.admin)
    .await
    .unwrap();
    assert_eq!(title, "회원님의 글에 새 댓글이 달렸어요");
    assert_eq!(body, "멋진 글이에요", "the words, not who wrote them");
    assert_eq!(counts(&h, &post).await, (2, 2));
}

/// 50 people like and comment at once (and one of them twice, from two devices): every
/// count ends exact.
#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn fifty_people_liking_and_commenting_at_once_count_exactly_fifty(pool: PgPool) {
    let h = harness(pool);
    let author = person(&h).await;
    let post = post_titled(&h, &author, "인기 글").await;
    let mut people = Vec::new();
    for _ in 0..50 {
        people.push(person(&h).await);
    }
    let like = format!("/posts/{post}/like");
    let comments = format!("/posts/{post}/comments");
    let requests = people.iter().flat_map(|p| {
        [
            h.call("POST", &like, p.token(), Value::Null),
            h.call(
                "POST",
                &comments,
                p.token(),
                json!({ "content": "응원해요" }),
            ),
        ]
    });
    let twice = [
        h.call("POST", &like, people[0].token(), Value::Null),
        h.call("POST", &like, people[0].token(), Value::Null),
    ];
    let answers = futures_util::future::join_all(requests.chain(twice)).await;
    for a in &answers {
        assert!(a.status.is_success(), "{}", a.body);
    }
    assert_eq!(counts(&h, &post).await, (50, 50));
    let (likes, comments_stored, told): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM post_likes WHERE post_id = $1::uuid),
                (SELECT count(*) FROM comments WHERE post_id = $1::uuid),
                (SELECT count(*) FROM notifications WHERE user_id = $2)",
    )
    .bind(&post)
    .bind(author.id)
    .fetch_one(&h.admin)
    .await
    .unwrap();
    assert_eq!((likes, comments_stored, told), (50, 50, 100));
    let seen = expect(
        &h,
        &author,
        "GET",
        &format!("/posts/{post}"),
        Value::Null,
        200,
    )
    .await;
    assert_eq!(
        (seen["like_count"].as_i64(), seen["comment_count"].as_i64()),
        (Some(50), Some(50))
    );
}
