//! Uploads: what is accepted, what is refused (and when), what is stored.

mod common;

use common::*;
use serde_json::Value;

fn object_of(h: &Harness, file: &Value) -> String {
    let _ = h;
    format!("files/{}/original", file["id"].as_str().unwrap())
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_profile_picture_is_stored_without_metadata_and_processed_later(pool: sqlx::PgPool) {
    let h = harness(pool);
    let (_, token) = h.person().await;
    let photo = fixture("photo.jpg");
    assert!(!secrets(&photo).is_empty(), "the fixture carries metadata");
    let a = upload(&h, &token, "profile", "../../DCIM/내 사진.jpg", &photo).await;
    assert_eq!(a.status, 202, "{}", a.body);
    let data = &a.body["data"];
    assert_eq!(data["status"], "processing");
    let file = &data["file"];
    assert_eq!(file["kind"], "profile");
    assert_eq!(file["status"], "processing");
    assert_eq!(file["content_type"], "image/jpeg");
    assert_eq!(file["name"], "내 사진.jpg");
    assert_eq!(file["variants"], serde_json::json!({}));
    let stored = stored(&h, &object_of(&h, file)).await.expect("stored");
    assert_eq!(secrets(&stored), Vec::<&str>::new(), "metadata gone");
    assert_eq!(file["size"], stored.len());
    assert!(stored.len() < photo.len());
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn an_attachment_is_judged_by_its_bytes_whatever_the_client_says(pool: sqlx::PgPool) {
    let h = harness(pool);
    let (_, token) = h.person().await;
    let pdf = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<<>>\n%%EOF\n";
    for (name, data, expected) in [
        ("photo.jpg", fixture("photo.jpg"), "image/jpeg"),
        ("a.html", fixture("picture.png"), "image/png"),
        ("b.exe", fixture("picture.webp"), "image/webp"),
        ("c", fixture("animation.gif"), "image/gif"),
        ("report.pdf", pdf.to_vec(), "application/pdf"),
    ] {
        let (content_type, body) = form("file", name, "text/html", &data);
        let a = send_body(&h, &token, "attachment", &content_type, body).await;
        assert_eq!(a.status, 201, "{name}: {}", a.body);
        assert_eq!(a.body["data"]["content_type"], expected, "{name}");
        assert_eq!(a.body["data"]["status"], "ready");
        let stored = stored(&h, &object_of(&h, &a.body["data"])).await.unwrap();
        assert_eq!(secrets(&stored), Vec::<&str>::new(), "{name}");
    }
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn the_size_limits_hold_to_the_byte(pool: sqlx::PgPool) {
    let h = harness(pool);
    let (_, token) = h.person().await;
    const MIB: usize = 1024 * 1024;
    let a = upload(&h, &token, "profile", "max.jpg", &jpeg_of_size(5 * MIB)).await;
    assert_eq!(a.status, 202, "exactly 5 MiB: {}", a.body);
    let a = upload(
        &h,
        &token,
        "profile",
        "over.jpg",
        &jpeg_of_size(5 * MIB + 1),
    )
    .await;
    let e = assert_error(&a, 413, "PAYLOAD_TOO_LARGE");
    assert_eq!(e["details"]["max_bytes"], 5 * MIB);
    let a = upload(&h, &token, "attachment", "max.jpg", &jpeg_of_size(10 * MIB)).await;
    assert_eq!(a.status, 201, "exactly 10 MiB: {}", a.body);
    let a = upload(
        &h,
        &token,
        "attachment",
        "over.jpg",
        &jpeg_of_size(10 * MIB + 1),
    )
    .await;
    assert_error(&a, 413, "PAYLOAD_TOO_LARGE");
    // A body far over the route's limit is cut off by the body limit, the same way.
    let a = upload(&h, &token, "attachment", "huge.bin", &vec![0u8; 12 * MIB]).await;
    assert_error(&a, 413, "PAYLOAD_TOO_LARGE");
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM files")
        .fetch_one(&h.admin)
        .await
        .unwrap();
    assert_eq!(count, 2, "nothing recorded of the refused ones");
}

/// What one person's files take in all is bounded (`STORAGE_QUOTA_MB`); deleting frees it.
#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_person_s_files_stay_within_their_quota(pool: sqlx::PgPool) {
    let h = harness_with(pool, &[("STORAGE_QUOTA_MB", "1")]);
    let (_, token) = h.person().await;
    let (_, other) = h.person().await;
    const KIB: usize = 1024;
    // A PDF is stored as it comes (a picture loses its metadata, and with it its size).
    let pdf = |size: usize| {
        let mut data = b"%PDF-1.4\n".to_vec();
        data.resize(size - 6, b' ');
        data.extend_from_slice(b"%%EOF\n");
        data
    };
    let first = upload(&h, &token, "attachment", "a.pdf", &pdf(600 * KIB)).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let second = upload(&h, &token, "attachment", "b.pdf", &pdf(600 * KIB)).await;
    let e = assert_error(&second, 413, "PAYLOAD_TOO_LARGE");
    assert_eq!(e["details"]["reason"], "storage quota");
    assert_eq!(e["details"]["quota_bytes"], 1024 * KIB);
    let theirs = upload(&h, &other, "attachment", "c.pdf", &pdf(600 * KIB)).await;
    assert_eq!(theirs.status, 201, "another person's quota is their own");
    let id = first.body["data"]["id"].as_str().unwrap();
    let deleted = h
        .call("DELETE", &format!("/{id}"), Some(&token), Value::Null)
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    let again = upload(&h, &token, "attachment", "b.pdf", &pdf(600 * KIB)).await;
    assert_eq!(again.status, 201, "deleting frees the room: {}", again.body);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn types_that_lie_are_refused(pool: sqlx::PgPool) {
    let h = harness(pool);
    let (_, token) = h.person().await;
    for (what, name, data) in [
        (
            "profile",
            "photo.jpg",
            b"<html><script>alert(1)</script></html>".to_vec(),
        ),
        ("profile", "anim.gif", fixture("animation.gif")),
        ("profile", "doc.pdf", b"%PDF-1.4\n%%EOF\n".to_vec()),
        (
            "attachment",
            "fake.pdf",
            b"%PDF-1.4\n<script>app.alert(1)</script>".to_vec(),
        ),
        (
            "attachment",
            "x.svg",
            b"<svg xmlns='http://www.w3.org/2000/svg'/>".to_vec(),
        ),
        ("attachment", "run.exe", b"MZ\x90\0\x03\0\0\0".to_vec()),
    ] {
        let (content_type, body) = form("file", name, "image/jpeg", &data);
        let a = send_body(&h, &token, what, &content_type, body).await;
        let e = assert_error(&a, 415, "UNSUPPORTED_MEDIA_TYPE");
        assert!(e["details"]["accepted"].is_array(), "{name}");
    }
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_decompression_bomb_is_refused_from_its_header(pool: sqlx::PgPool) {
    let h = harness(pool);
    let (_, token) = h.person().await;
    // A real PNG header declaring 20000 × 20000 (400 megapixels) in a few bytes.
    let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    png.extend_from_slice(&20_000u32.to_be_bytes());
    png.extend_from_slice(&20_000u32.to_be_bytes());
    png.extend_from_slice(&[8, 2, 0, 0, 0, 0x3c, 0x56, 0x8a, 0x64]);
    png.extend_from_slice(b"\0\0\0\0IEND\xae\x42\x60\x82");
    for what in ["profile", "attachment"] {
        let a = upload(&h, &token, what, "bomb.png", &png).await;
        let e = assert_error(&a, 413, "PAYLOAD_TOO_LARGE");
        assert_eq!(e["details"]["max_pixels"], 40_000_000);
    }
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_damaged_picture_or_a_missing_field_is_a_validation_error(pool: sqlx::PgPool) {
    let h = harness(pool);
    let (_, token) = h.person().await;
    let photo = fixture("photo.jpg");
    let a = upload(
        &h,
        &token,
        "profile",
        "cut.jpg",
        &photo[..photo.len() - 100],
    )
    .await;
    let e = assert_error(&a, 422, "VALIDATION_ERROR");
    assert!(e["details"]["fields"]["file"].is_array(), "{e}");

    let (content_type, body) = form("picture", "a.jpg", "image/jpeg", &photo);
    let a = send_body(&h, &token, "profile", &content_type, body).await;
    let e = assert_error(&a, 422, "VALIDATION_ERROR");
    assert!(e["details"]["fields"]["file"].is_array(), "{e}");

    let a = send_body(&h, &token, "profile", "application/json", b"{}".to_vec()).await;
    assert_error(&a, 415, "UNSUPPORTED_MEDIA_TYPE");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn uploads_are_counted_per_person_with_their_headers(pool: sqlx::PgPool) {
    let h = harness_with(pool, &[("RATE_LIMIT_FILE_UPLOAD", "2/hour")]);
    let (_, token) = h.person().await;
    let photo = fixture("picture.png");
    for left in ["1", "0"] {
        let a = upload(&h, &token, "attachment", "p.png", &photo).await;
        assert_eq!(a.status, 201);
        assert_eq!(a.headers["ratelimit-remaining"], left);
    }
    let a = upload(&h, &token, "attachment", "p.png", &photo).await;
    assert_error(&a, 429, "RATE_LIMITED");
    let (_, other) = h.person().await;
    assert_eq!(
        upload(&h, &other, "attachment", "p.png", &photo)
            .await
            .status,
        201
    );

    let a = upload(&h, "not-a-token", "attachment", "p.png", &photo).await;
    assert_eq!(a.status, 401);
}
