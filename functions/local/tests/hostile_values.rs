//! Values PostgreSQL cannot take are the client's mistake, never a 500: NUL inside text is
//! dropped like the other control characters (line breaks and tabs kept), a time zone or a
//! date PostgreSQL would refuse is 422 naming the field.

mod common;

use common::*;
use serde_json::{Value, json};

#[tokio::test]
async fn nul_in_text_and_dates_out_of_range_are_client_errors() {
    let server = LocalServer::start(&[]).await;
    let (_, token) = register(&server, "nul@example.com", "널문자").await;

    let (status, body) = call(
        &server,
        "POST",
        "/api/v1/challenges",
        &token,
        json!({ "title": "물\u{0}마시기", "description": "하루\u{0} 여덟 잔\n매일", "target_days": 7 }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["title"], "물마시기");
    assert_eq!(body["data"]["description"], "하루 여덟 잔\n매일");

    let (status, body) = call(
        &server,
        "POST",
        "/api/v1/emotions",
        &token,
        json!({ "emotion": "calm", "intensity": 3, "tags": ["산\u{0}책"] }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["tags"], json!(["산책"]));

    let (status, body) = call(
        &server,
        "PATCH",
        "/api/v1/users/me",
        &token,
        json!({ "bio": "조용히\u{0} 지내요" }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["bio"], "조용히 지내요");

    let (status, body) = call(
        &server,
        "PATCH",
        "/api/v1/users/me",
        &token,
        json!({ "timezone": "Asia/Seoul\u{0}" }),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["details"]["fields"]["timezone"].is_array());

    for (path, field) in [
        ("/api/v1/emotions/stats?tz=Asia/Seoul%00", "tz"),
        ("/api/v1/emotions?from=-5000-01-01", "from"),
        ("/api/v1/emotions/stats?to=%2B10000-01-01", "to"),
    ] {
        let (status, body) = call(&server, "GET", path, &token, Value::Null).await;
        assert_eq!(status, 422, "{path}: {body}");
        assert!(
            body["error"]["details"]["fields"][field].is_array(),
            "{path}: {body}"
        );
    }
}
