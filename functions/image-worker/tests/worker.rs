//! The image worker against the storage emulator: a picture's copies and the profile that
//! shows it, one effect per message, a newer picture winning whatever the order, corrupt
//! pictures acked as failed, removed files' and deleted accounts' objects swept away.

use std::io::Cursor;

use base64::Engine;
use bytes::Bytes;
use image::{DynamicImage, ImageBuffer, ImageFormat, Rgb};
use serde_json::{Value, json};
use shared::AppState;
use shared::cache::Cache;
use shared::domain::files;
use shared::testing::*;
use sqlx::PgPool;
use uuid::Uuid;

struct World {
    app: axum::Router,
    state: AppState,
    admin: PgPool,
}

fn world_on(pool: PgPool, emulator: &str) -> World {
    let bucket = std::env::var("STORAGE_BUCKET").expect("STORAGE_BUCKET (scripts/test.sh)");
    let settings = settings(&[
        ("STORAGE_BUCKET", bucket.as_str()),
        ("STORAGE_EMULATOR_HOST", emulator),
    ]);
    let state = state(
        as_function(&pool, "image-worker"),
        Cache::memory(),
        settings,
    );
    let routes = image_worker::routes(&state).unwrap();
    World {
        app: shared::runtime::app(state.clone(), routes, shared::openapi::base("image-worker")),
        state,
        admin: pool,
    }
}

fn world(pool: PgPool) -> World {
    let emulator = std::env::var("STORAGE_EMULATOR_HOST")
        .expect("STORAGE_EMULATOR_HOST is unset: run the tests with ./scripts/test.sh");
    world_on(pool, &emulator)
}

fn jpeg(width: u32, height: u32) -> Vec<u8> {
    let picture = ImageBuffer::from_fn(width, height, |x, y| {
        Rgb([(x % 256) as u8, (y % 256) as u8, 120])
    });
    let mut out = Vec::new();
    DynamicImage::ImageRgb8(picture)
        .write_to(&mut Cursor::new(&mut out), ImageFormat::Jpeg)
        .unwrap();
    out
}

impl World {
    async fn person(&self) -> Uuid {
        let id = Uuid::now_v7();
        sqlx::query("INSERT INTO users (id, email, nickname) VALUES ($1, $2, $3)")
            .bind(id)
            .bind(format!("{id}@example.com"))
            .bind(format!("n-{}", &id.simple().to_string()[..12]))
            .execute(&self.admin)
            .await
            .unwrap();
        id
    }

    /// A stored, recorded upload of `kind` (as the files function leaves it).
    async fn upload(&self, user: Uuid, kind: &str, data: Vec<u8>) -> Uuid {
        let id = Uuid::now_v7();
        let object = files::object_name(id);
        let store = self.state.storage.store().await.unwrap();
        let size = data.len() as i64;
        store
            .put(&object, Bytes::from(data), "image/jpeg")
            .await
            .unwrap();
        let status = if kind == "profile" {
            "processing"
        } else {
            "ready"
        };
        sqlx::query(
            "INSERT INTO files (id, user_id, kind, content_type, size, object, status)
             VALUES ($1, $2, $3, 'image/jpeg', $4, $5, $6)",
        )
        .bind(id)
        .bind(user)
        .bind(kind)
        .bind(size)
        .bind(&object)
        .bind(status)
        .execute(&self.admin)
        .await
        .unwrap();
        id
    }

    async fn push(&self, message_id: &str, payload: Value) -> Answer {
        let body = json!({
            "message": {
                "data": base64::engine::general_purpose::STANDARD.encode(payload.to_string()),
                "messageId": message_id, "message_id": message_id,
            },
            "subscription": "projects/p/subscriptions/image-resize-push",
        });
        send(
            &self.app,
            post_json("/push/image-resize", &body.to_string()),
        )
        .await
    }

    async fn finish(&self, file: Uuid) -> Answer {
        let payload = json!({
            "version": 1, "kind": "profile", "file_id": file, "bucket": "b",
            "object": files::object_name(file),
        });
        self.push(&Uuid::now_v7().to_string(), payload).await
    }

    async fn status(&self, file: Uuid) -> Option<String> {
        sqlx::query_scalar("SELECT status FROM files WHERE id = $1")
            .bind(file)
            .fetch_optional(&self.admin)
            .await
            .unwrap()
    }

    async fn shown(&self, user: Uuid) -> Option<Uuid> {
        sqlx::query_scalar("SELECT profile_image_id FROM users WHERE id = $1")
            .bind(user)
            .fetch_one(&self.admin)
            .await
            .unwrap()
    }

    async fn exists(&self, object: &str) -> bool {
        let store = self.state.storage.store().await.unwrap();
        store.get(object).await.unwrap().is_some()
    }

    /// Every object file `id` has or had.
    fn objects(id: Uuid) -> Vec<String> {
        let mut all = vec![files::object_name(id)];
        all.extend(files::VARIANTS.iter().map(|&s| files::variant_name(id, s)));
        all
    }
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_picture_gets_its_copies_and_shows_on_the_profile(pool: PgPool) {
    let w = world(pool);
    let user = w.person().await;
    let picture = w.upload(user, "profile", jpeg(1600, 900)).await;
    let a = w.finish(picture).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(w.status(picture).await.as_deref(), Some("ready"));
    assert_eq!(w.shown(user).await, Some(picture));
    let store = w.state.storage.store().await.unwrap();
    for size in files::VARIANTS {
        let webp = store
            .get(&files::variant_name(picture, size))
            .await
            .unwrap()
            .expect("the copy is stored");
        let copy = image::load_from_memory_with_format(&webp, ImageFormat::WebP).unwrap();
        assert_eq!(copy.width(), size, "the long side");
        assert_eq!(copy.height(), size * 9 / 16, "the aspect");
    }
    let variants: Value = sqlx::query_scalar("SELECT variants FROM files WHERE id = $1")
        .bind(picture)
        .fetch_one(&w.admin)
        .await
        .unwrap();
    assert_eq!(
        variants,
        json!({
            "64": files::variant_name(picture, 64),
            "256": files::variant_name(picture, 256),
            "512": files::variant_name(picture, 512),
        })
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_redelivery_has_one_effect(pool: PgPool) {
    let w = world(pool);
    let user = w.person().await;
    let first = w.upload(user, "profile", jpeg(300, 300)).await;
    let payload =
        json!({ "version": 1, "kind": "profile", "file_id": first, "bucket": "b", "object": "o" });
    assert_eq!(
        w.push("m-1", payload.clone()).await.body["data"]["status"],
        "processed"
    );
    assert_eq!(
        w.push("m-1", payload.clone()).await.body["data"]["status"],
        "duplicate"
    );
    // Pub/Sub may also deliver a copy under another id: the picture is done, nothing moves.
    let second = w.upload(user, "profile", jpeg(200, 200)).await;
    assert_eq!(w.finish(second).await.status, 200);
    assert_eq!(w.push("m-2", payload).await.status, 200);
    assert_eq!(
        w.shown(user).await,
        Some(second),
        "the redelivery did not bring back the first"
    );
    assert_eq!(w.status(first).await, None, "the replaced picture is gone");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn the_newest_picture_wins_in_any_order_and_the_others_leave_no_object(pool: PgPool) {
    let w = world(pool);
    let user = w.person().await;
    let oldest = w.upload(user, "profile", jpeg(100, 100)).await;
    let middle = w.upload(user, "profile", jpeg(100, 100)).await;
    let newest = w.upload(user, "profile", jpeg(100, 100)).await;
    for picture in [middle, newest, oldest] {
        assert_eq!(w.finish(picture).await.status, 200);
    }
    assert_eq!(w.shown(user).await, Some(newest));
    assert_eq!(w.status(newest).await.as_deref(), Some("ready"));
    for gone in [oldest, middle] {
        assert_eq!(w.status(gone).await, None);
        for object in World::objects(gone) {
            assert!(!w.exists(&object).await, "{object} swept");
        }
    }
    for object in World::objects(newest) {
        assert!(w.exists(&object).await, "{object} kept");
    }
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM storage_garbage")
        .fetch_one(&w.admin)
        .await
        .unwrap();
    assert_eq!(left, 0);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_corrupt_picture_is_acked_and_marked_failed(pool: PgPool) {
    let w = world(pool);
    let user = w.person().await;
    let mut corrupt = jpeg(400, 400);
    corrupt.truncate(300);
    let picture = w.upload(user, "profile", corrupt).await;
    let logs = LogCapture::start();
    let a = w.finish(picture).await;
    assert_eq!(a.status, 200, "acked: no retry would help");
    assert_eq!(w.status(picture).await.as_deref(), Some("failed"));
    assert_eq!(w.shown(user).await, None);
    assert!(
        !logs.text().contains(&user.to_string()),
        "no person in the log"
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_deleted_account_leaves_no_object_behind(pool: PgPool) {
    let w = world(pool);
    let user = w.person().await;
    let picture = w.upload(user, "profile", jpeg(640, 480)).await;
    assert_eq!(w.finish(picture).await.status, 200);
    let attachment = w.upload(user, "attachment", jpeg(10, 10)).await;
    let mut conn = w.admin.acquire().await.unwrap();
    let _ = shared::domain::accounts::delete(&mut conn, user)
        .await
        .unwrap();
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM storage_garbage")
        .fetch_one(&w.admin)
        .await
        .unwrap();
    assert_eq!(
        queued, 5,
        "four objects of the picture, one of the attachment"
    );
    let a = w
        .push("sweep-1", json!({ "version": 1, "kind": "sweep" }))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    for object in World::objects(picture)
        .into_iter()
        .chain([files::object_name(attachment)])
    {
        assert!(!w.exists(&object).await, "{object}");
    }
    let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM storage_garbage")
        .fetch_one(&w.admin)
        .await
        .unwrap();
    assert_eq!(queued, 0);
}

/// A delivery that stored copies and then failed (its transaction never committed) leaves
/// them unlisted in the row; when the file is deleted before the redelivery, the
/// redelivery removes them.
#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn copies_of_a_failed_delivery_go_when_the_file_is_gone(pool: PgPool) {
    let w = world(pool);
    let user = w.person().await;
    let picture = w.upload(user, "profile", jpeg(100, 100)).await;
    let store = w.state.storage.store().await.unwrap();
    for size in files::VARIANTS {
        store
            .put(
                &files::variant_name(picture, size),
                Bytes::from_static(b"webp"),
                "image/webp",
            )
            .await
            .unwrap();
    }
    sqlx::query("DELETE FROM files WHERE id = $1")
        .bind(picture)
        .execute(&w.admin)
        .await
        .unwrap();
    assert_eq!(w.finish(picture).await.status, 200);
    for size in files::VARIANTS {
        let copy = files::variant_name(picture, size);
        assert!(!w.exists(&copy).await, "{copy}");
    }
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn an_unreachable_store_asks_for_a_retry(pool: PgPool) {
    let w = world(pool.clone());
    let user = w.person().await;
    let picture = w.upload(user, "profile", jpeg(100, 100)).await;
    let down = world_on(pool, "http://127.0.0.1:9");
    let a = down.finish(picture).await;
    assert_error(&a, 503, "SERVICE_UNAVAILABLE");
    assert_eq!(w.status(picture).await.as_deref(), Some("processing"));
    assert_eq!(
        w.finish(picture).await.status,
        200,
        "the redelivery succeeds"
    );
    assert_eq!(w.shown(user).await, Some(picture));
}
