//! `migrate rekey`: values from before encryption get sealed, values under an old key move to
//! the new one, a second run has nothing to do, a run cut short resumes, and writers running
//! meanwhile lose nothing.

use std::time::Duration;

use migrate::rekey;
use shared::sealing::{Column, Keyring, columns};
use sqlx::PgPool;
use uuid::Uuid;

const OLD: &str = "1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
const NEW: &str = "2:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";
const NOTE: Column = columns::EMOTION_NOTE;
const TITLE: Column = columns::CONVERSATION_TITLE;
const CONTENT: Column = columns::CHAT_MESSAGE;
const LONG: Duration = Duration::from_secs(60);

fn keys(spec: &str) -> Keyring {
    Keyring::parse(spec).unwrap()
}

async fn person(db: &PgPool) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query("INSERT INTO users (id, email, nickname) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(format!("{}@example.com", id.simple()))
        .bind(&id.simple().to_string()[12..])
        .execute(db)
        .await
        .unwrap();
    id
}

fn plain(text: &str) -> Vec<u8> {
    [&[0u8][..], text.as_bytes()].concat()
}

async fn note(db: &PgPool, owner: Uuid, stored: Option<Vec<u8>>) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO emotion_logs (id, user_id, emotion, intensity, note, recorded_at)
         VALUES ($1, $2, 'calm', 3, $3, now())",
    )
    .bind(id)
    .bind(owner)
    .bind(stored)
    .execute(db)
    .await
    .unwrap();
    id
}

/// A conversation of `owner` titled `title` with `messages`, stored as given.
async fn conversation(db: &PgPool, owner: Uuid, title: Vec<u8>, messages: &[Vec<u8>]) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query("INSERT INTO conversations (id, user_id, title) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(owner)
        .bind(title)
        .execute(db)
        .await
        .unwrap();
    for content in messages {
        sqlx::query(
            "INSERT INTO chat_messages (id, conversation_id, role, content) VALUES ($1, $2, 'user', $3)",
        )
        .bind(Uuid::now_v7())
        .bind(id)
        .bind(content)
        .execute(db)
        .await
        .unwrap();
    }
    id
}

/// Every stored value with its owner, column by column.
async fn everything(db: &PgPool) -> Vec<(Column, Uuid, Vec<u8>)> {
    let mut all = Vec::new();
    for (column, sql) in [
        (
            NOTE,
            "SELECT user_id, note FROM emotion_logs WHERE note IS NOT NULL",
        ),
        (TITLE, "SELECT user_id, title FROM conversations"),
        (
            CONTENT,
            "SELECT c.user_id, m.content FROM chat_messages m JOIN conversations c ON c.id = m.conversation_id",
        ),
    ] {
        let rows: Vec<(Uuid, Vec<u8>)> = sqlx::query_as(sql).fetch_all(db).await.unwrap();
        all.extend(
            rows.into_iter()
                .map(|(owner, value)| (column, owner, value)),
        );
    }
    all
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn old_and_plain_values_move_to_the_new_key_once(db: PgPool) {
    let old = keys(OLD);
    let (me, you) = (person(&db).await, person(&db).await);
    note(&db, me, Some(plain("암호화 전의 메모"))).await;
    note(&db, me, Some(old.seal(NOTE, me, "옛 키로 봉인한 메모"))).await;
    note(&db, you, None).await;
    conversation(
        &db,
        you,
        old.seal(TITLE, you, "잠 못 드는 밤"),
        &[
            plain("누구에게 말할 수 있을까"),
            old.seal(CONTENT, you, "고마워"),
        ],
    )
    .await;

    let rotated = keys(&format!("{NEW},{OLD}"));
    let run = rekey::run(&db, &rotated, 2, LONG).await.unwrap();
    assert!(run.finished, "{run:?}");
    assert_eq!(run.sealing_key, 2);
    let resealed: Vec<(&str, u64)> = run.columns.iter().map(|c| (c.column, c.resealed)).collect();
    assert_eq!(
        resealed,
        [
            ("emotion_logs.note", 2),
            ("conversations.title", 1),
            ("chat_messages.content", 2)
        ]
    );

    // Only the new key is needed now, and every value reads as it did.
    let new_only = keys(NEW);
    let mut texts: Vec<String> = everything(&db)
        .await
        .into_iter()
        .map(|(column, owner, value)| {
            assert_eq!(value[..3], [1, 0, 2]);
            new_only.open(column, owner, &value).unwrap()
        })
        .collect();
    texts.sort();
    let mut expected = [
        "암호화 전의 메모",
        "옛 키로 봉인한 메모",
        "잠 못 드는 밤",
        "누구에게 말할 수 있을까",
        "고마워",
    ];
    expected.sort();
    assert_eq!(texts, expected);

    let before = everything(&db).await;
    let again = rekey::run(&db, &rotated, 2, LONG).await.unwrap();
    assert!(again.finished);
    assert!(again.columns.iter().all(|c| c.resealed == 0), "{again:?}");
    assert_eq!(everything(&db).await, before, "nothing rewritten");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_run_cut_short_resumes_where_work_is_left(db: PgPool) {
    let me = person(&db).await;
    for i in 0..25 {
        note(&db, me, Some(plain(&format!("메모 {i}")))).await;
    }
    let keys = keys(NEW);
    let cut = rekey::run(&db, &keys, 10, Duration::ZERO).await.unwrap();
    assert!(!cut.finished);
    let resumed = rekey::run(&db, &keys, 10, LONG).await.unwrap();
    assert!(resumed.finished);
    assert_eq!(resumed.columns[0].resealed, 25);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_value_no_key_opens_is_reported_and_left_alone(db: PgPool) {
    let me = person(&db).await;
    let foreign = keys("9:CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=");
    let lost = foreign.seal(NOTE, me, "모르는 키");
    let id = note(&db, me, Some(lost.clone())).await;
    note(&db, me, Some(plain("읽히는 메모"))).await;
    let run = rekey::run(&db, &keys(NEW), 100, LONG).await.unwrap();
    assert_eq!((run.columns[0].resealed, run.columns[0].unreadable), (1, 1));
    let kept: Vec<u8> = sqlx::query_scalar("SELECT note FROM emotion_logs WHERE id = $1")
        .bind(id)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(kept, lost);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn writers_during_a_run_lose_nothing(db: PgPool) {
    let old = keys(OLD);
    let me = person(&db).await;
    let mut ids = Vec::new();
    for i in 0..400 {
        ids.push(note(&db, me, Some(old.seal(NOTE, me, &format!("처음 {i}")))).await);
    }
    // The service after the rotation: it seals with the new key while the job runs.
    let writer = {
        let (db, ids) = (db.clone(), ids.clone());
        tokio::spawn(async move {
            let service = keys(&format!("{NEW},{OLD}"));
            for (i, id) in ids.iter().enumerate().step_by(3) {
                sqlx::query("UPDATE emotion_logs SET note = $2 WHERE id = $1")
                    .bind(id)
                    .bind(service.seal(NOTE, me, &format!("고친 {i}")))
                    .execute(&db)
                    .await
                    .unwrap();
            }
        })
    };
    let run = rekey::run(&db, &keys(&format!("{NEW},{OLD}")), 7, LONG)
        .await
        .unwrap();
    writer.await.unwrap();
    assert!(run.finished);

    let new_only = keys(NEW);
    for (i, id) in ids.iter().enumerate() {
        let stored: Vec<u8> = sqlx::query_scalar("SELECT note FROM emotion_logs WHERE id = $1")
            .bind(id)
            .fetch_one(&db)
            .await
            .unwrap();
        let expected = if i % 3 == 0 {
            format!("고친 {i}")
        } else {
            format!("처음 {i}")
        };
        assert_eq!(new_only.open(NOTE, me, &stored).unwrap(), expected);
    }
}
