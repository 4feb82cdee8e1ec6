//! Pictures through the local server, as a person uses them: upload → the image worker
//! (in-process events) makes the copies → the profile shows a link that opens a WebP; a new
//! picture replaces the old one, whose objects go; deleting the account removes the rest.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

/// Objects under `dir` (the development store).
fn objects(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let Ok(files) = std::fs::read_dir(dir.join("files")) else {
        return found;
    };
    for file in files.flatten() {
        for object in std::fs::read_dir(file.path()).unwrap().flatten() {
            found.push(object.path().display().to_string());
        }
    }
    found.sort();
    found
}

async fn eventually_no_objects(dir: &Path, of: &str) {
    for _ in 0..200 {
        if !objects(dir).iter().any(|o| o.contains(of)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("objects of {of} are still stored: {:?}", objects(dir));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_picture_from_upload_to_account_deletion() {
    let dir = std::env::temp_dir().join(format!("mindpause-files-{}", uuid::Uuid::now_v7()));
    let dir_text = dir.display().to_string();
    let server = LocalServer::start(&[("STORAGE_DIR", &dir_text)]).await;
    let (status, body) = {
        let response = client()
            .post(server.url("/api/v1/auth/register"))
            .json(&json!({ "email": "pic@example.com", "password": "correct horse battery", "nickname": "사진" }))
            .send()
            .await
            .unwrap();
        (
            response.status().as_u16(),
            response.json::<Value>().await.unwrap(),
        )
    };
    assert_eq!(status, 201, "{body}");
    let token = body["data"]["tokens"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let first = upload_picture(&server, &token).await;
    let file = ready(&server, &token, &first).await;
    assert_eq!(file["variants"].as_object().unwrap().len(), 3);
    let (_, me) = call(&server, "GET", "/api/v1/users/me", &token, Value::Null).await;
    let link = me["data"]["profile_image_url"]
        .as_str()
        .expect("a picture is shown");
    assert!(
        link.contains(&format!("/api/v1/files/{first}/content/256?")),
        "{link}"
    );
    let picture = client()
        .get(link.replace("localhost", "127.0.0.1"))
        .send()
        .await
        .unwrap();
    assert_eq!(picture.status(), 200);
    assert_eq!(picture.headers()["content-type"], "image/webp");
    let bytes = picture.bytes().await.unwrap();
    assert_eq!(&bytes[..4], b"RIFF");
    assert_eq!(&bytes[8..12], b"WEBP");
    assert_eq!(objects(&dir).len(), 4, "the original and three copies");

    let second = upload_picture(&server, &token).await;
    ready(&server, &token, &second).await;
    let (status, _) = call(
        &server,
        "GET",
        &format!("/api/v1/files/{first}"),
        &token,
        Value::Null,
    )
    .await;
    assert_eq!(status, 404, "the replaced picture is gone");
    eventually_no_objects(&dir, &first).await;
    let (_, me) = call(&server, "GET", "/api/v1/users/me", &token, Value::Null).await;
    assert!(
        me["data"]["profile_image_url"]
            .as_str()
            .unwrap()
            .contains(&second)
    );

    let (status, body) = call(
        &server,
        "DELETE",
        "/api/v1/users/me",
        &token,
        json!({ "password": "correct horse battery" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    eventually_no_objects(&dir, &second).await;
    assert!(objects(&dir).is_empty());

    assert!(server.stop().await.success());
    let _ = std::fs::remove_dir_all(dir);
}
