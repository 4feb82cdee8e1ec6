//! Notes at rest: sealed for their writer, unreadable in another's row, and notes written
//! before encryption still shown.

mod common;

use common::*;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

async fn stored_note(h: &Harness, id: &str) -> Vec<u8> {
    sqlx::query_scalar("SELECT note FROM emotion_logs WHERE id = $1")
        .bind(Uuid::parse_str(id).unwrap())
        .fetch_one(&h.admin)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn notes_are_stored_sealed_and_shown_to_their_writer(pool: PgPool) {
    let h = harness(pool);
    let (me, token) = person(&h, "Asia/Seoul").await;
    let note = "오늘 밤은 유난히 잠이 오지 않는다";
    let created = h
        .call(
            "POST",
            "",
            Some(&token),
            json!({ "emotion": "anxious", "intensity": 4, "note": note }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.body["data"]["id"].as_str().unwrap().to_owned();

    let stored = stored_note(&h, &id).await;
    assert_eq!(stored[0], 1, "sealed");
    let seen = "잠이".as_bytes();
    assert!(!stored.windows(seen.len()).any(|w| w == seen));
    assert_eq!(
        h.state.keyring.open(emotions::NOTE, me, &stored).unwrap(),
        note
    );

    // Changing the note seals the new one with a nonce of its own.
    let patched = h
        .call(
            "PATCH",
            &format!("/{id}"),
            Some(&token),
            json!({ "note": note }),
        )
        .await;
    assert_eq!(patched.body["data"]["note"], note);
    assert_ne!(stored_note(&h, &id).await, stored);

    for answer in [
        h.call("GET", &format!("/{id}"), Some(&token), Value::Null)
            .await,
        h.call("GET", "?limit=20", Some(&token), Value::Null).await,
    ] {
        assert_eq!(answer.status, 200);
        assert!(answer.body.to_string().contains(note));
    }
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_note_copied_into_someone_elses_row_does_not_open(pool: PgPool) {
    let h = harness(pool);
    let (_, mine) = person(&h, "Asia/Seoul").await;
    let (other, theirs) = person(&h, "Asia/Seoul").await;
    let secret = "아무에게도 말하지 못한 일";
    let created = h
        .call(
            "POST",
            "",
            Some(&mine),
            json!({ "emotion": "sad", "intensity": 5, "note": secret }),
        )
        .await;
    let id = Uuid::parse_str(created.body["data"]["id"].as_str().unwrap()).unwrap();
    // Someone with the database but not the keys moves the note into another person's log.
    let copy = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO emotion_logs (id, user_id, emotion, intensity, note, tags, recorded_at)
         SELECT $2, $3, emotion, intensity, note, tags, recorded_at FROM emotion_logs WHERE id = $1",
    )
    .bind(id)
    .bind(copy)
    .bind(other)
    .execute(&h.admin)
    .await
    .unwrap();
    let answer = h
        .call("GET", &format!("/{copy}"), Some(&theirs), Value::Null)
        .await;
    assert_error(&answer, 500, "INTERNAL_ERROR");
    assert!(!answer.body.to_string().contains(secret));
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn notes_from_before_encryption_are_shown_as_they_were(pool: PgPool) {
    let h = harness(pool);
    let (me, token) = person(&h, "Asia/Seoul").await;
    sqlx::query(
        "INSERT INTO emotion_logs (id, user_id, emotion, intensity, note, recorded_at)
         VALUES ($1, $2, 'calm', 2, '\\x00'::bytea || convert_to('예전에 쓴 메모', 'UTF8'), now())",
    )
    .bind(Uuid::now_v7())
    .bind(me)
    .execute(&h.admin)
    .await
    .unwrap();
    let listed = h.call("GET", "", Some(&token), Value::Null).await;
    assert_eq!(listed.body["data"]["items"][0]["note"], "예전에 쓴 메모");
}
