//! Object-level authorization across the whole API: every operation with an id in its path,
//! read from the merged OpenAPI document, is called by someone who does not own the object.
//! A private object is 404 and untouched, a public one's author-only change is 403 and
//! untouched, an admin route is 403 for everyone else. A new route without a row in
//! [`ROWS`] fails the test, as does a row without a route.

mod common;

use std::collections::BTreeSet;

use common::{LocalServer, call, client, ready, register, upload_picture};
use serde_json::{Value, json};

/// Whose object a path's id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Object {
    Log,
    Conversation,
    Challenge,
    Notification,
    File,
    Post,
    Comment,
    User,
    /// Not an object (`/auth/{provider}`): the row only marks the route as known.
    None,
}

/// What someone who is not the owner gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// 404 NOT_FOUND, the object untouched.
    NotFound,
    /// A public object that only its author changes: 403 FORBIDDEN, untouched.
    AuthorOnly,
    /// An admin route: 403 FORBIDDEN for anyone else, the target untouched.
    AdminOnly,
    /// Open to every signed-in person (the community's reading, comments and likes).
    Public,
    /// The file's signed link with another file's id: 404.
    SignedLink,
    /// Nothing to check.
    NotAnObject,
}

use Expect::*;
use Object as O;

/// Every operation with an id in its path: method, path, the object, the expectation, and
/// a valid body (an invalid one would be refused before the owner is checked).
const ROWS: &[(&str, &str, Object, Expect, &str)] = &[
    ("GET", "/api/v1/emotions/{id}", O::Log, NotFound, ""),
    (
        "PATCH",
        "/api/v1/emotions/{id}",
        O::Log,
        NotFound,
        r#"{"intensity":5}"#,
    ),
    ("DELETE", "/api/v1/emotions/{id}", O::Log, NotFound, ""),
    (
        "GET",
        "/api/v1/chat/conversations/{id}",
        O::Conversation,
        NotFound,
        "",
    ),
    (
        "DELETE",
        "/api/v1/chat/conversations/{id}",
        O::Conversation,
        NotFound,
        "",
    ),
    (
        "POST",
        "/api/v1/chat/conversations/{id}/messages",
        O::Conversation,
        NotFound,
        r#"{"content":"안녕"}"#,
    ),
    (
        "PATCH",
        "/api/v1/challenges/{id}",
        O::Challenge,
        NotFound,
        r#"{"check_in":true}"#,
    ),
    (
        "DELETE",
        "/api/v1/challenges/{id}",
        O::Challenge,
        NotFound,
        "",
    ),
    (
        "PATCH",
        "/api/v1/notifications/{id}/read",
        O::Notification,
        NotFound,
        "",
    ),
    (
        "DELETE",
        "/api/v1/notifications/{id}",
        O::Notification,
        NotFound,
        "",
    ),
    ("GET", "/api/v1/files/{id}", O::File, NotFound, ""),
    ("DELETE", "/api/v1/files/{id}", O::File, NotFound, ""),
    (
        "GET",
        "/api/v1/files/{id}/content/{variant}",
        O::File,
        SignedLink,
        "",
    ),
    ("GET", "/api/v1/community/posts/{id}", O::Post, Public, ""),
    (
        "PATCH",
        "/api/v1/community/posts/{id}",
        O::Post,
        AuthorOnly,
        r#"{"title":"남의 글 고치기"}"#,
    ),
    (
        "DELETE",
        "/api/v1/community/posts/{id}",
        O::Post,
        AuthorOnly,
        "",
    ),
    (
        "GET",
        "/api/v1/community/posts/{id}/comments",
        O::Post,
        Public,
        "",
    ),
    (
        "POST",
        "/api/v1/community/posts/{id}/comments",
        O::Post,
        Public,
        r#"{"content":"좋은 글이에요"}"#,
    ),
    (
        "POST",
        "/api/v1/community/posts/{id}/like",
        O::Post,
        Public,
        "",
    ),
    (
        "DELETE",
        "/api/v1/community/posts/{id}/like",
        O::Post,
        Public,
        "",
    ),
    (
        "PATCH",
        "/api/v1/community/comments/{id}",
        O::Comment,
        AuthorOnly,
        r#"{"content":"남의 댓글 고치기"}"#,
    ),
    (
        "DELETE",
        "/api/v1/community/comments/{id}",
        O::Comment,
        AuthorOnly,
        "",
    ),
    (
        "PATCH",
        "/api/v1/admin/users/{id}/suspend",
        O::User,
        AdminOnly,
        r#"{"suspended":true,"reason":"확인"}"#,
    ),
    (
        "DELETE",
        "/api/v1/admin/posts/{id}",
        O::Post,
        AdminOnly,
        r#"{"reason":"광고"}"#,
    ),
    (
        "DELETE",
        "/api/v1/admin/comments/{id}",
        O::Comment,
        AdminOnly,
        r#"{"reason":"광고"}"#,
    ),
    ("GET", "/api/v1/auth/{provider}", O::None, NotAnObject, ""),
    (
        "GET",
        "/api/v1/auth/{provider}/callback",
        O::None,
        NotAnObject,
        "",
    ),
];

/// The owner's objects, one of each.
struct World {
    owner: String,
    owner_id: String,
    stranger: String,
    log: String,
    conversation: String,
    challenge: String,
    notification: String,
    file: String,
    /// The stranger's own file's signed link.
    strangers_link: String,
    post: String,
    comment: String,
}

impl World {
    fn id(&self, object: Object) -> &str {
        match object {
            O::Log => &self.log,
            O::Conversation => &self.conversation,
            O::Challenge => &self.challenge,
            O::Notification => &self.notification,
            O::File => &self.file,
            O::Post => &self.post,
            O::Comment => &self.comment,
            O::User => &self.owner_id,
            O::None => "google",
        }
    }
}

async fn ok(server: &LocalServer, method: &str, path: &str, token: &str, body: Value) -> Value {
    let (status, answer) = call(server, method, path, token, body).await;
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {answer}"
    );
    answer
}

/// A file of `token`'s, once the image worker has made it ready: its id and link.
async fn ready_file(server: &LocalServer, token: &str) -> (String, String) {
    let id = upload_picture(server, token).await;
    let file = ready(server, token, &id).await;
    let link = file["url"].as_str().unwrap().to_owned();
    (id, link)
}

async fn world(server: &LocalServer) -> World {
    let (owner_id, owner) = register(server, "owner@example.com", "owner").await;
    let (_, stranger) = register(server, "stranger@example.com", "stranger").await;
    let data = |v: Value| v["data"]["id"].as_str().unwrap().to_owned();
    let body =
        json!({ "emotion": "sad", "intensity": 2, "note": "아무에게도 보여 주고 싶지 않은 밤" });
    let log = data(ok(server, "POST", "/api/v1/emotions", &owner, body).await);
    let conversation = data(
        ok(
            server,
            "POST",
            "/api/v1/chat/conversations",
            &owner,
            json!({}),
        )
        .await,
    );
    let path = format!("/api/v1/chat/conversations/{conversation}/messages");
    ok(
        server,
        "POST",
        &path,
        &owner,
        json!({ "content": "오늘은 조금 지쳤어" }),
    )
    .await;
    let body = json!({ "title": "물 2L", "target_days": 30 });
    let challenge = data(ok(server, "POST", "/api/v1/challenges", &owner, body).await);
    let body = json!({ "title": "오늘의 글", "content": "내용", "category": "daily" });
    let post = data(ok(server, "POST", "/api/v1/community/posts", &owner, body).await);
    let path = format!("/api/v1/community/posts/{post}/comments");
    let comment = data(
        ok(
            server,
            "POST",
            &path,
            &owner,
            json!({ "content": "제 댓글" }),
        )
        .await,
    );
    // The stranger's like tells the owner: a notification of the owner's.
    let like = format!("/api/v1/community/posts/{post}/like");
    ok(server, "POST", &like, &stranger, Value::Null).await;
    let listed = ok(server, "GET", "/api/v1/notifications", &owner, Value::Null).await;
    let notification = listed["data"]["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (file, _) = ready_file(server, &owner).await;
    let (_, strangers_link) = ready_file(server, &stranger).await;
    World {
        owner,
        owner_id,
        stranger,
        log,
        conversation,
        challenge,
        notification,
        file,
        strangers_link,
        post,
        comment,
    }
}

/// The object as its owner sees it (what a refused request must leave as it was).
async fn snapshot(server: &LocalServer, w: &World, object: Object) -> Value {
    let get = |path: String| async move {
        ok(server, "GET", &path, &w.owner, Value::Null).await["data"].clone()
    };
    let item = |list: Value, id: &str| {
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["id"] == id)
            .cloned()
            .unwrap_or(Value::Null)
    };
    match object {
        O::Log => get(format!("/api/v1/emotions/{}", w.log)).await,
        O::Conversation => get(format!("/api/v1/chat/conversations/{}", w.conversation)).await,
        O::Challenge => item(get("/api/v1/challenges".into()).await, &w.challenge),
        O::Notification => item(get("/api/v1/notifications".into()).await, &w.notification),
        O::File => without_links(get(format!("/api/v1/files/{}", w.file)).await),
        O::Post => get(format!("/api/v1/community/posts/{}", w.post)).await,
        O::Comment => {
            let path = format!("/api/v1/community/posts/{}/comments?limit=100", w.post);
            item(get(path).await, &w.comment)
        }
        O::User => get("/api/v1/users/me".into()).await,
        O::None => Value::Null,
    }
}

/// `value` without its signed links (each answer signs them anew, with a later expiry).
fn without_links(value: Value) -> Value {
    match value {
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .filter(|(_, v)| !v.as_str().is_some_and(|s| s.contains("signature=")))
                .map(|(k, v)| (k, without_links(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_links).collect()),
        other => other,
    }
}

fn body(text: &str) -> Value {
    if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(text).unwrap()
    }
}

#[tokio::test]
async fn nobody_reaches_another_persons_objects_through_any_route() {
    let store = std::env::temp_dir().join(format!("mindpause-bola-{}", uuid::Uuid::now_v7()));
    let store = store.display().to_string();
    let server = LocalServer::start(&[
        ("RATE_LIMIT_GENERAL", "100000/minute"),
        ("STORAGE_DIR", &store),
    ])
    .await;

    // Every operation of the merged document with an id in its path has a row, and back.
    let (status, doc) = server.get("/openapi.json").await;
    assert_eq!(status, 200);
    let mut routes = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.contains('{') {
            continue;
        }
        for method in ["get", "put", "post", "patch", "delete"] {
            if item.get(method).is_some() {
                routes.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let rows: BTreeSet<(String, String)> = ROWS
        .iter()
        .map(|(m, p, ..)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    let missing: Vec<_> = routes.difference(&rows).collect();
    let stale: Vec<_> = rows.difference(&routes).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "routes without a row: {missing:?}; rows without a route: {stale:?}"
    );

    let w = world(&server).await;
    for &(method, template, object, expect, text) in ROWS {
        if expect == NotAnObject {
            continue;
        }
        let path = template
            .replace("{id}", w.id(object))
            .replace("{variant}", "original");
        let before = snapshot(&server, &w, object).await;
        let (status, answer) = match expect {
            SignedLink => {
                let mine = w.strangers_link.split("/content/").next().unwrap();
                let theirs = mine.rsplit_once('/').unwrap().0;
                let link = w
                    .strangers_link
                    .replace(mine, &format!("{theirs}/{}", w.file));
                let response = client().get(&link).send().await.unwrap();
                (response.status().as_u16(), Value::Null)
            }
            _ => call(&server, method, &path, &w.stranger, body(text)).await,
        };
        let what = format!("{method} {template} by a stranger");
        match expect {
            NotFound | SignedLink => {
                assert_eq!(status, 404, "{what}: {answer}");
            }
            AuthorOnly | AdminOnly => {
                assert_eq!(status, 403, "{what}: {answer}");
                assert_eq!(answer["error"]["code"], "FORBIDDEN", "{what}");
            }
            Public => assert!((200..300).contains(&status), "{what}: {status} {answer}"),
            NotAnObject => unreachable!(),
        }
        if expect != Public {
            assert_eq!(
                snapshot(&server, &w, object).await,
                before,
                "{what} changed it"
            );
            assert_ne!(before, Value::Null, "{what}: the owner's object is there");
        }
    }

    // The same requests by the owner succeed (the ids reached their handlers), deletions
    // last and in reverse (a comment before its post).
    let owners: Vec<_> = ROWS
        .iter()
        .filter(|(_, _, _, expect, _)| matches!(expect, NotFound | AuthorOnly))
        .collect();
    let (keep, delete): (Vec<_>, Vec<_>) = owners.into_iter().partition(|r| r.0 != "DELETE");
    for &&(method, template, object, _, text) in keep.iter().chain(delete.iter().rev()) {
        let path = template.replace("{id}", w.id(object));
        ok(&server, method, &path, &w.owner, body(text)).await;
    }
    let _ = std::fs::remove_dir_all(&store);
}
