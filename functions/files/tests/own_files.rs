//! A person's own files, and the signed links that open them.

mod common;

use common::*;
use serde_json::{Value, json};

async fn attachment(h: &Harness, token: &str) -> Value {
    let a = upload(h, token, "attachment", "p.png", &fixture("picture.png")).await;
    assert_eq!(a.status, 201, "{}", a.body);
    a.body["data"].clone()
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn someone_elses_file_is_not_found_and_untouched(pool: sqlx::PgPool) {
    let h = harness(pool);
    let (_, owner) = h.person().await;
    let (_, stranger) = h.person().await;
    let file = attachment(&h, &owner).await;
    let path = format!("/{}", file["id"].as_str().unwrap());
    for method in ["GET", "DELETE"] {
        let a = h.call(method, &path, Some(&stranger), Value::Null).await;
        assert_error(&a, 404, "NOT_FOUND");
    }
    let a = h.call("GET", &path, Some(&owner), Value::Null).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["data"]["id"], file["id"]);
    let a = h
        .call("GET", "/not-a-uuid", Some(&owner), Value::Null)
        .await;
    assert_error(&a, 404, "NOT_FOUND");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_link_opens_the_file_until_it_is_altered_or_the_file_deleted(pool: sqlx::PgPool) {
    let h = harness(pool);
    let (_, token) = h.person().await;
    let file = attachment(&h, &token).await;
    let link = file["url"].as_str().unwrap();
    let id = file["id"].as_str().unwrap();
    let (status, headers, bytes) = open(&h, link).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "image/png");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("sandbox")
    );
    assert_eq!(
        bytes,
        stored(&h, &format!("files/{id}/original")).await.unwrap()
    );

    let altered = [
        link.replace("signature=", "signature=A"),
        link.replace("/original?", "/256?"),
        link.replace("expires=", "expires=9"),
        link.split('?').next().unwrap().to_owned(),
    ];
    for other in altered {
        assert_eq!(open(&h, &other).await.0, 404, "{other}");
    }

    let a = h
        .call("DELETE", &format!("/{id}"), Some(&token), Value::Null)
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["data"], json!(null));
    assert_eq!(open(&h, link).await.0, 404, "deleted");
    let queued: Vec<String> = sqlx::query_scalar("SELECT object FROM storage_garbage")
        .fetch_all(&h.admin)
        .await
        .unwrap();
    assert_eq!(
        queued,
        [format!("files/{id}/original")],
        "the object waits for the worker"
    );
    let a = h
        .call("DELETE", &format!("/{id}"), Some(&token), Value::Null)
        .await;
    assert_error(&a, 404, "NOT_FOUND");
}
