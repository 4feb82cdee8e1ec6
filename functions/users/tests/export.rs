//! `GET /users/me/export`: everything of the person and nothing of anyone else's, sealed text
//! opened, anonymous writing included, streamed as an attachment, three an hour.

use serde_json::Value;
use shared::sealing::columns;
use shared::testing::*;
use sqlx::PgPool;
use uuid::Uuid;

fn harness(pool: PgPool) -> Harness {
    Harness::new(pool, "users", users::routes(), &[])
}

/// Writes what each function would for `who`, with `tag` in every text.
async fn fill(h: &Harness, who: Uuid, tag: &str) {
    let keys = &h.state.keyring;
    let db = &h.admin;
    let exec = |sql: &'static str| sqlx::query(sql);
    exec(
        "INSERT INTO emotion_logs (id, user_id, emotion, intensity, note, tags, recorded_at)
          VALUES ($1, $2, 'sad', 4, $3, '{밤}', now())",
    )
    .bind(Uuid::now_v7())
    .bind(who)
    .bind(keys.seal(columns::EMOTION_NOTE, who, &format!("{tag} 메모")))
    .execute(db)
    .await
    .unwrap();
    let conversation = Uuid::now_v7();
    exec("INSERT INTO conversations (id, user_id, title) VALUES ($1, $2, $3)")
        .bind(conversation)
        .bind(who)
        .bind(keys.seal(columns::CONVERSATION_TITLE, who, &format!("{tag} 제목")))
        .execute(db)
        .await
        .unwrap();
    for (role, text) in [("user", "말"), ("assistant", "대답")] {
        exec("INSERT INTO chat_messages (id, conversation_id, role, content) VALUES ($1, $2, $3, $4)")
            .bind(Uuid::now_v7())
            .bind(conversation)
            .bind(role)
            .bind(keys.seal(columns::CHAT_MESSAGE, who, &format!("{tag} {text}")))
            .execute(db)
            .await
            .unwrap();
    }
    exec("INSERT INTO safety_events (id, user_id, conversation_id, sources) VALUES ($1, $2, $3, '{lexicon}')")
        .bind(Uuid::now_v7())
        .bind(who)
        .bind(conversation)
        .execute(db)
        .await
        .unwrap();
    let challenge = Uuid::now_v7();
    exec("INSERT INTO challenges (id, user_id, title, target_days, start_date) VALUES ($1, $2, $3, 7, current_date)")
        .bind(challenge)
        .bind(who)
        .bind(format!("{tag} 챌린지"))
        .execute(db)
        .await
        .unwrap();
    exec("INSERT INTO challenge_check_ins (challenge_id, day) VALUES ($1, current_date)")
        .bind(challenge)
        .execute(db)
        .await
        .unwrap();
    exec("INSERT INTO notifications (id, user_id, kind, title, body) VALUES ($1, $2, 'system', $3, '본문')")
        .bind(Uuid::now_v7())
        .bind(who)
        .bind(format!("{tag} 알림"))
        .execute(db)
        .await
        .unwrap();
    let post = Uuid::now_v7();
    exec("INSERT INTO posts (id, author_id, title, content, category, is_anonymous) VALUES ($1, $2, $3, '내용', 'daily', true)")
        .bind(post)
        .bind(who)
        .bind(format!("{tag} 익명 글"))
        .execute(db)
        .await
        .unwrap();
    exec("INSERT INTO comments (id, post_id, author_id, content, is_anonymous) VALUES ($1, $2, $3, $4, true)")
        .bind(Uuid::now_v7())
        .bind(post)
        .bind(who)
        .bind(format!("{tag} 댓글"))
        .execute(db)
        .await
        .unwrap();
    exec("INSERT INTO post_likes (post_id, user_id) VALUES ($1, $2)")
        .bind(post)
        .bind(who)
        .execute(db)
        .await
        .unwrap();
    exec(
        "INSERT INTO files (id, user_id, kind, content_type, size, object, status, original_name)
          VALUES ($1, $2, 'attachment', 'image/png', 10, $3, 'ready', $4)",
    )
    .bind(Uuid::now_v7())
    .bind(who)
    .bind(format!("files/{}", Uuid::now_v7()))
    .bind(format!("{tag}.png"))
    .execute(db)
    .await
    .unwrap();
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn the_export_holds_everything_of_mine_and_nothing_of_anyone_elses(pool: PgPool) {
    let h = harness(pool);
    let (me, token) = h.person().await;
    let (other, _) = h.person().await;
    fill(&h, me, "나의").await;
    fill(&h, other, "남의").await;

    let answer = h.call("GET", "/me/export", Some(&token), Value::Null).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(
        answer.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    assert!(
        answer.headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"mindpause-export-")
    );
    assert_eq!(answer.headers["cache-control"], "no-store");
    assert_eq!(answer.headers["ratelimit-limit"], "3");

    let doc = &answer.body;
    assert_eq!(doc["format"], "mindpause-export/1");
    assert_eq!(doc["profile"]["id"], me.to_string());
    assert_eq!(doc["account"]["status"], "active");
    assert!(doc["account"]["created_at"].is_string());
    assert!(doc["account"].get("suspension_reason").is_some());
    assert!(doc["sessions"][0].get("revoked_reason").is_some());
    let text = doc.to_string();
    assert!(!text.contains("남의"), "someone else's data: {text}");
    assert!(!text.contains(&other.to_string()));
    assert_eq!(doc["emotion_logs"][0]["note"], "나의 메모");
    assert_eq!(doc["emotion_logs"][0]["tags"][0], "밤");
    let conversation = &doc["conversations"][0];
    assert_eq!(conversation["title"], "나의 제목");
    let messages: Vec<&str> = conversation["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(messages, ["나의 말", "나의 대답"]);
    assert_eq!(doc["safety_events"][0]["sources"][0], "lexicon");
    assert_eq!(doc["challenges"][0]["title"], "나의 챌린지");
    assert_eq!(
        doc["challenges"][0]["check_ins"].as_array().unwrap().len(),
        1
    );
    assert_eq!(doc["notifications"][0]["title"], "나의 알림");
    assert_eq!(doc["posts"][0]["title"], "나의 익명 글");
    assert_eq!(doc["posts"][0]["is_anonymous"], true);
    assert_eq!(doc["comments"][0]["content"], "나의 댓글");
    assert_eq!(doc["likes"].as_array().unwrap().len(), 1);
    assert_eq!(doc["files"][0]["name"], "나의.png");
    assert!(
        doc["files"][0]["url"]
            .as_str()
            .unwrap()
            .contains("signature=")
    );
    assert_eq!(doc["sessions"].as_array().unwrap().len(), 1);
    for section in [
        "sign_in_methods",
        "sessions",
        "emotion_logs",
        "conversations",
        "safety_events",
        "challenges",
        "notifications",
        "posts",
        "comments",
        "likes",
        "files",
    ] {
        assert!(doc[section].is_array(), "{section}");
    }
}

/// 300 logs of `me` with notes of 2,000 characters (about 1.8 MB of JSON), and the answer
/// to their export (its body not read yet).
async fn long_journal_export(h: &Harness, me: Uuid, token: &str) -> axum::response::Response {
    let note = h
        .state
        .keyring
        .seal(columns::EMOTION_NOTE, me, &"가".repeat(2000));
    sqlx::query(
        "INSERT INTO emotion_logs (id, user_id, emotion, intensity, note, recorded_at)
         SELECT gen_random_uuid(), $1, 'calm', 3, $2, now() - i * interval '1 hour'
         FROM generate_series(1, 300) AS i",
    )
    .bind(me)
    .bind(note)
    .execute(&h.admin)
    .await
    .unwrap();
    tower::ServiceExt::oneshot(h.app.clone(), get_with_token(&h.path("/me/export"), token))
        .await
        .unwrap()
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_long_journal_streams_in_chunks(pool: PgPool) {
    let h = harness(pool);
    let (me, token) = h.person().await;
    let response = long_journal_export(&h, me, &token).await;
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let (mut frames, mut bytes) = (0, Vec::new());
    while let Some(frame) = http_body_util::BodyExt::frame(&mut body).await {
        frames += 1;
        bytes.extend_from_slice(frame.unwrap().data_ref().unwrap());
    }
    assert!(frames > 10, "{frames} frames");
    let doc: Value = serde_json::from_slice(&bytes).unwrap();
    let logs = doc["emotion_logs"].as_array().unwrap();
    assert_eq!(logs.len(), 300);
    assert_eq!(logs[0]["note"].as_str().unwrap().chars().count(), 2000);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn three_exports_an_hour(pool: PgPool) {
    let h = harness(pool);
    let (_, token) = h.person().await;
    for _ in 0..3 {
        assert_eq!(
            h.call("GET", "/me/export", Some(&token), Value::Null)
                .await
                .status,
            200
        );
    }
    let refused = h.call("GET", "/me/export", Some(&token), Value::Null).await;
    assert_error(&refused, 429, "RATE_LIMITED");
    assert!(refused.headers.contains_key("retry-after"));
    assert_error(
        &h.call("GET", "/me/export", None, Value::Null).await,
        401,
        "UNAUTHORIZED",
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_client_that_leaves_mid_export_frees_its_connection(pool: PgPool) {
    let h = harness(pool);
    let (me, token) = h.person().await;
    let response = long_journal_export(&h, me, &token).await;
    let mut body = response.into_body();
    http_body_util::BodyExt::frame(&mut body)
        .await
        .unwrap()
        .unwrap();
    assert!(
        h.state.db.size() > h.state.db.num_idle() as u32,
        "the export holds a connection"
    );
    drop(body);
    for _ in 0..100 {
        if h.state.db.size() == h.state.db.num_idle() as u32 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the export kept its connection after the client left");
}
