//! Posts: their fields and rules, author-only edits, markup, anonymity, departed authors and
//! crisis resources.

mod common;

use common::*;
use serde_json::{Value, json};
use sqlx::PgPool;

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_post_round_trips_with_every_field(pool: PgPool) {
    let h = harness(pool);
    let me = person(&h).await;
    let other = person(&h).await;
    let body = json!({ "title": "  첫 글  ", "content": "반가워요\n잘 부탁해요", "category": "gratitude" });
    let created = write_post(&h, &me, body).await;
    assert_eq!(created["title"], "첫 글");
    assert_eq!(created["content"], "반가워요\n잘 부탁해요");
    assert_eq!(created["category"], "gratitude");
    assert_eq!(
        created["author"],
        json!({ "id": me.id, "nickname": me.nickname })
    );
    assert_eq!(created["is_anonymous"], false);
    assert_eq!(created["like_count"], 0);
    assert_eq!(created["comment_count"], 0);
    assert_eq!(created["liked_by_me"], false);
    assert_eq!(created["is_mine"], true);
    assert!(created["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(created["created_at"], created["updated_at"]);
    assert!(created.get("safety").is_none(), "calm text: no safety");

    let id = created["id"].as_str().unwrap();
    let mine = expect(&h, &me, "GET", &format!("/posts/{id}"), Value::Null, 200).await;
    assert_eq!(mine, created);
    let theirs = expect(&h, &other, "GET", &format!("/posts/{id}"), Value::Null, 200).await;
    assert_eq!(theirs["is_mine"], false);
    assert_eq!(theirs["author"], created["author"]);

    for missing in [
        format!("/posts/{}", uuid::Uuid::now_v7()),
        "/posts/nope".into(),
    ] {
        let a = h.call("GET", &missing, other.token(), Value::Null).await;
        assert_error(&a, 404, "NOT_FOUND");
    }
    let anonymous = h
        .call("GET", &format!("/posts/{id}"), None, Value::Null)
        .await;
    assert_error(&anonymous, 401, "UNAUTHORIZED");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_bad_post_gets_one_422_naming_every_field(pool: PgPool) {
    let h = harness(pool);
    let me = person(&h).await;
    let a = h
        .call(
            "POST",
            "/posts",
            me.token(),
            json!({ "title": "<b></b>  ", "content": "가".repeat(5001), "category": "daily" }),
        )
        .await;
    let error = assert_error(&a, 422, "VALIDATION_ERROR");
    assert_eq!(error["details"]["fields"]["title"], json!(["required"]));
    assert_eq!(
        error["details"]["fields"]["content"],
        json!(["must be at most 5000 characters"])
    );
    for (body, field) in [
        (
            json!({ "title": "t", "content": "c", "category": "news" }),
            "category",
        ),
        (json!({ "title": "t", "content": "c" }), "category"),
        (
            json!({ "title": "t", "content": "c", "category": "daily", "pinned": true }),
            "pinned",
        ),
        (
            json!({ "title": "가".repeat(101), "content": "c", "category": "daily" }),
            "title",
        ),
    ] {
        let a = h.call("POST", "/posts", me.token(), body).await;
        let error = assert_error(&a, 422, "VALIDATION_ERROR");
        assert!(error["details"]["fields"][field].is_array(), "{error}");
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM posts")
        .fetch_one(&h.admin)
        .await
        .unwrap();
    assert_eq!(count, 0, "nothing was stored");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn only_the_author_edits_or_deletes_and_others_change_nothing(pool: PgPool) {
    let h = harness(pool);
    let author = person(&h).await;
    let stranger = person(&h).await;
    let id = post_titled(&h, &author, "원래 제목").await;
    let path = format!("/posts/{id}");
    let before = expect(&h, &author, "GET", &path, Value::Null, 200).await;

    let edit = h
        .call("PATCH", &path, stranger.token(), json!({ "title": "바꿈" }))
        .await;
    assert_error(&edit, 403, "FORBIDDEN");
    let delete = h.call("DELETE", &path, stranger.token(), Value::Null).await;
    assert_error(&delete, 403, "FORBIDDEN");
    assert_eq!(
        expect(&h, &author, "GET", &path, Value::Null, 200).await,
        before,
        "untouched"
    );

    let anonymity = h
        .call(
            "PATCH",
            &path,
            author.token(),
            json!({ "is_anonymous": true }),
        )
        .await;
    assert_error(&anonymity, 422, "VALIDATION_ERROR");
    let null_title = h
        .call("PATCH", &path, author.token(), json!({ "title": null }))
        .await;
    assert_error(&null_title, 422, "VALIDATION_ERROR");

    let edited = expect(
        &h,
        &author,
        "PATCH",
        &path,
        json!({ "title": "고친 제목", "category": "worry" }),
        200,
    )
    .await;
    assert_eq!(edited["title"], "고친 제목");
    assert_eq!(edited["category"], "worry");
    assert_eq!(edited["content"], before["content"], "absent: kept");
    assert_ne!(edited["updated_at"], before["updated_at"]);

    let gone = expect(&h, &author, "DELETE", &path, Value::Null, 200).await;
    assert_eq!(gone, Value::Null);
    for who in [&author, &stranger] {
        for (method, body) in [
            ("GET", Value::Null),
            ("PATCH", json!({ "title": "x" })),
            ("DELETE", Value::Null),
        ] {
            let a = h.call(method, &path, who.token(), body).await;
            assert_error(&a, 404, "NOT_FOUND");
        }
    }
    let kept: Option<String> = sqlx::query_scalar(
        "SELECT title FROM posts WHERE id = $1::uuid AND deleted_at IS NOT NULL",
    )
    .bind(&id)
    .fetch_optional(&h.admin)
    .await
    .unwrap();
    assert_eq!(kept.as_deref(), Some("고친 제목"), "a soft delete");
}

/// Every answer that shows text, for a payload: create, read, feed, comments.
#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn markup_never_comes_back(pool: PgPool) {
    let h = harness(pool);
    let me = person(&h).await;
    let has_tag = |text: &str| {
        text.as_bytes().windows(2).any(|w| {
            w[0] == b'<' && (w[1].is_ascii_alphabetic() || matches!(w[1], b'/' | b'!' | b'?'))
        })
    };
    let payloads = include_str!("fixtures/xss_payloads.txt");
    for payload in payloads.lines() {
        let post = write_post(
            &h,
            &me,
            json!({ "title": format!("제목 {payload}"), "content": format!("본문 {payload} 끝"), "category": "free" }),
        )
        .await;
        let id = post["id"].as_str().unwrap();
        let comment = expect(
            &h,
            &me,
            "POST",
            &format!("/posts/{id}/comments"),
            json!({ "content": format!("댓글 {payload}") }),
            201,
        )
        .await;
        let answers = [
            post.clone(),
            comment,
            expect(&h, &me, "GET", &format!("/posts/{id}"), Value::Null, 200).await,
            expect(
                &h,
                &me,
                "GET",
                &format!("/posts/{id}/comments"),
                Value::Null,
                200,
            )
            .await,
        ];
        for answer in answers {
            let text = answer.to_string();
            assert!(!has_tag(&text), "{payload}: {text}");
        }
        assert!(post["title"].as_str().unwrap().starts_with("제목"));
    }
    let feed = expect(&h, &me, "GET", "/posts?limit=100", Value::Null, 200).await;
    assert!(!has_tag(&feed.to_string()));
    let stored: Vec<String> = sqlx::query_scalar(
        "SELECT title || content FROM posts UNION ALL SELECT content FROM comments",
    )
    .fetch_all(&h.admin)
    .await
    .unwrap();
    assert!(stored.iter().all(|t| !has_tag(t)), "stored plain");
}

/// A stranger can get every answer below; none names the anonymous author, whose own view
/// shows them as "익명" too.
#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn anonymity_holds_in_every_answer_a_stranger_gets(pool: PgPool) {
    let h = harness(pool);
    let author = person(&h).await;
    let stranger = person(&h).await;
    let logs = LogCapture::start();

    let post = write_post(
        &h,
        &author,
        json!({ "title": "익명으로 쓰는 고민", "content": "아무에게도 말 못 했어요", "category": "worry", "is_anonymous": true }),
    )
    .await;
    assert_eq!(post["author"], json!({ "id": null, "nickname": "익명" }));
    assert_eq!(post["is_mine"], true, "the author knows it is theirs");
    let id = post["id"].as_str().unwrap().to_owned();
    // The author also comments anonymously, and a stranger's post gets an anonymous comment.
    let theirs = post_titled(&h, &stranger, "낯선 이의 글").await;
    for post_id in [&id, &theirs] {
        let c = expect(
            &h,
            &author,
            "POST",
            &format!("/posts/{post_id}/comments"),
            json!({ "content": "익명 댓글", "is_anonymous": true }),
            201,
        )
        .await;
        assert_eq!(c["author"], json!({ "id": null, "nickname": "익명" }));
    }
    expect(
        &h,
        &author,
        "POST",
        &format!("/posts/{id}/like"),
        Value::Null,
        200,
    )
    .await;
    let own_view = expect(
        &h,
        &author,
        "GET",
        &format!("/posts/{id}"),
        Value::Null,
        200,
    )
    .await;
    assert_eq!(own_view["author"]["nickname"], "익명");
    assert!(!author.named_in(&own_view.to_string()));

    let mut answers = Vec::new();
    for (method, path) in [
        ("GET", format!("/posts/{id}")),
        ("GET", format!("/posts/{id}/comments")),
        ("GET", format!("/posts/{theirs}/comments")),
        ("GET", "/posts?limit=1".into()),
        ("GET", "/posts?sort=popular&limit=1".into()),
        ("GET", "/posts?category=worry".into()),
        ("POST", format!("/posts/{id}/like")),
        ("DELETE", format!("/posts/{id}/like")),
    ] {
        answers.push(h.call(method, &path, stranger.token(), Value::Null).await);
    }
    let comment = h
        .call(
            "POST",
            &format!("/posts/{id}/comments"),
            stranger.token(),
            json!({ "content": "힘내요" }),
        )
        .await;
    answers.push(comment);
    let refused = h
        .call(
            "PATCH",
            &format!("/posts/{id}"),
            stranger.token(),
            json!({ "title": "x" }),
        )
        .await;
    answers.push(refused);
    for a in &answers {
        assert!(a.status.is_success() || a.status == 403, "{}", a.body);
        let text = a.body.to_string();
        assert!(!author.named_in(&text), "{text}");
        // Cursors are opaque but readable: the payload must not name the author either.
        for cursor in text.split('"').filter(|s| s.contains('.') && s.len() > 40) {
            let payload = cursor.split('.').next().unwrap();
            if let Ok(bytes) = base64_url(payload) {
                assert!(!author.named_in(&String::from_utf8_lossy(&bytes)));
            }
        }
    }
    // The stranger hears of the anonymous comment on their post without a name.
    let told = notifications_of(&h, stranger.id).await;
    assert_eq!(told.len(), 1);
    let row: (String, String, Value) =
        sqlx::query_as("SELECT title, body, data FROM notifications WHERE user_id = $1")
            .bind(stranger.id)
            .fetch_one(&h.admin)
            .await
            .unwrap();
    assert!(!author.named_in(&format!("{row:?}")), "{row:?}");
    assert_eq!(row.1, "익명 댓글", "the words, never who wrote them");

    let lines = logs.text();
    assert!(lines.contains(&id), "the capture works: {lines}");
    assert!(!author.named_in(&lines), "{lines}");
}

fn base64_url(text: &str) -> Result<Vec<u8>, ()> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.bytes() {
        let v = ALPHABET.iter().position(|&a| a == c).ok_or(())? as u32;
        bits = bits << 6 | v;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    Ok(out)
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_deleted_account_leaves_its_words_under_a_departed_name(pool: PgPool) {
    let h = harness(pool);
    let leaving = person(&h).await;
    let reader = person(&h).await;
    let id = post_titled(&h, &leaving, "떠나기 전에").await;
    let other = post_titled(&h, &reader, "남은 사람의 글").await;
    expect(
        &h,
        &leaving,
        "POST",
        &format!("/posts/{other}/comments"),
        json!({ "content": "고마웠어요" }),
        201,
    )
    .await;
    expect(
        &h,
        &leaving,
        "POST",
        &format!("/posts/{other}/like"),
        Value::Null,
        200,
    )
    .await;

    // As the users function deletes an account, under its own database role.
    let users = as_function(&h.admin, "users");
    let mut tx = users.begin().await.unwrap();
    let revocation = shared::domain::accounts::delete(&mut tx, leaving.id)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    drop(revocation);

    let departed = json!({ "id": null, "nickname": "탈퇴한 사용자" });
    let post = expect(
        &h,
        &reader,
        "GET",
        &format!("/posts/{id}"),
        Value::Null,
        200,
    )
    .await;
    assert_eq!(post["author"], departed);
    assert_eq!(post["title"], "떠나기 전에");
    let theirs = expect(
        &h,
        &reader,
        "GET",
        &format!("/posts/{other}"),
        Value::Null,
        200,
    )
    .await;
    assert_eq!(theirs["like_count"], 1, "their like still counts");
    assert_eq!(theirs["comment_count"], 1);
    let comments = expect(
        &h,
        &reader,
        "GET",
        &format!("/posts/{other}/comments"),
        Value::Null,
        200,
    )
    .await;
    assert_eq!(comments["items"][0]["author"], departed);
    assert_eq!(comments["items"][0]["content"], "고마웠어요");
    let feed = expect(&h, &reader, "GET", "/posts", Value::Null, 200).await;
    for text in [post.to_string(), comments.to_string(), feed.to_string()] {
        assert!(!leaving.named_in(&text), "{text}");
    }
    let traces: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM posts WHERE author_id = $1)
              + (SELECT count(*) FROM comments WHERE author_id = $1)
              + (SELECT count(*) FROM post_likes WHERE user_id = $1)",
    )
    .bind(leaving.id)
    .fetch_one(&h.admin)
    .await
    .unwrap();
    assert_eq!(traces, 0, "nothing points at them any more");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_post_or_comment_that_shows_risk_carries_the_hotlines(pool: PgPool) {
    let h = harness(pool);
    let me = person(&h).await;
    let logs = LogCapture::start();
    let post = write_post(
        &h,
        &me,
        json!({ "title": "요즘", "content": "그냥 다 끝내고 싶어요. 죽고 싶다는 생각만 들어요", "category": "worry", "is_anonymous": true }),
    )
    .await;
    assert_eq!(post["safety"]["crisis_detected"], true);
    assert_eq!(post["safety"]["level"], "crisis");
    assert_eq!(post["safety"]["category"], "intent");
    let phones: Vec<&str> = post["safety"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["phone"].as_str().unwrap())
        .collect();
    assert!(
        phones.contains(&"109") && phones.contains(&"1577-0199"),
        "{phones:?}"
    );
    let id = post["id"].as_str().unwrap();
    let read = expect(&h, &me, "GET", &format!("/posts/{id}"), Value::Null, 200).await;
    assert!(read.get("safety").is_none(), "only the 201 carries it");

    let comment = expect(
        &h,
        &me,
        "POST",
        &format!("/posts/{id}/comments"),
        json!({ "content": "I want to kill myself" }),
        201,
    )
    .await;
    assert_eq!(comment["safety"]["crisis_detected"], true);
    let calm = expect(
        &h,
        &me,
        "POST",
        &format!("/posts/{id}/comments"),
        json!({ "content": "오늘 배고파 죽겠다 ㅋㅋ" }),
        201,
    )
    .await;
    assert!(calm.get("safety").is_none(), "{calm}");
    // Despair without a signal of danger: the lines, offered gently.
    let heavy = expect(
        &h,
        &me,
        "POST",
        &format!("/posts/{id}/comments"),
        json!({ "content": "아무것도 나아질 것 같지 않아요" }),
        201,
    )
    .await;
    assert_eq!(heavy["safety"]["level"], "concern", "{heavy}");
    assert_eq!(heavy["safety"]["crisis_detected"], false);
    assert!(!heavy["safety"]["resources"].as_array().unwrap().is_empty());

    let lines = logs.text();
    assert!(lines.contains("safety assessment"), "{lines}");
    assert!(!me.named_in(&lines), "{lines}");
}
