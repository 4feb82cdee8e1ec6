//! `Json<T>` whose rejections are the envelope: 415 for a wrong content type, 413 over the
//! body limit, 400 for malformed JSON, 422 naming the field for a well-formed body that does
//! not fit the type (missing, unknown or mistyped fields).

use axum::extract::{FromRequest, Request};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{ApiError, ErrorCode, FieldErrors};

#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(&request) {
            return Err(ApiError::code(ErrorCode::UnsupportedMediaType));
        }
        parse(&read(request, state).await?).map(Json)
    }
}

/// `Option<Json<T>>`: no body is `None` — no content type, or an empty body whatever the
/// content type says (HTTP clients that send `Content-Type: application/json` on every
/// request) — and so is a JSON `null` (what the document's optional body allows); any other
/// body is parsed as above.
impl<T, S> axum::extract::OptionalFromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Option<Self>, ApiError> {
        if !request.headers().contains_key(header::CONTENT_TYPE) {
            return Ok(None);
        }
        let json = is_json(&request);
        let bytes = read(request, state).await?;
        if bytes.is_empty() {
            return Ok(None);
        }
        if !json {
            return Err(ApiError::code(ErrorCode::UnsupportedMediaType));
        }
        parse::<Option<T>>(&bytes).map(|body| body.map(Json))
    }
}

/// The whole body, within the body limit.
async fn read<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| match rejection.status().as_u16() {
            413 => ApiError::code(ErrorCode::PayloadTooLarge),
            _ => ApiError::bad_request("could not read the body"),
        })
}

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

fn is_json(request: &Request) -> bool {
    let Some(content_type) = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Deserializes `bytes`, reporting where a well-formed document does not fit `T`.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Syntax first, so that a malformed body is always 400 whatever the type expects.
    let value: Value =
        serde_json::from_slice(bytes).map_err(|_| ApiError::bad_request("malformed JSON"))?;
    // Every body of the API is an object; serde would also read a struct from an array
    // (`[]` as a body whose fields are all optional).
    if value.is_array() {
        return Err(ApiError::field(
            "body",
            "invalid type: array, expected an object",
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let (field, problem) = describe(&path, &e.inner().to_string());
        ApiError::validation(FieldErrors::from([(field, vec![problem])]))
    })
}

/// Turns serde's message into a field name and a short stable problem.
pub(crate) fn describe(path: &str, message: &str) -> (String, String) {
    let join = |name: &str| {
        if path.is_empty() || path == "." {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    let quoted = |m: &str| m.split('`').nth(1).map(str::to_owned);
    if let Some(name) = message.strip_prefix("missing field ").and_then(quoted) {
        return (join(&name), "required".into());
    }
    if let Some(name) = message.strip_prefix("unknown field ").and_then(quoted) {
        // serde_path_to_error already put the unknown key at the end of the path.
        let field = if path == name || path.ends_with(&format!(".{name}")) {
            path.to_owned()
        } else {
            join(&name)
        };
        return (field, "unknown field".into());
    }
    let field = if path.is_empty() || path == "." {
        "body".to_owned()
    } else {
        path.to_owned()
    };
    (
        field,
        without_value(message.split(" at line ").next().unwrap_or(message)),
    )
}

/// serde's own words without the value that did not fit, which may be anything a person
/// typed (a journal note in the wrong field): "invalid type: string, expected i64".
fn without_value(message: &str) -> String {
    for kind in ["invalid type: ", "invalid value: ", "unknown variant "] {
        let Some(rest) = message.strip_prefix(kind) else {
            continue;
        };
        // The expectation comes last and from our types; the value may hold anything.
        let (value, expected) = match rest.rsplit_once(", expected ") {
            Some((value, expected)) => (value, Some(expected)),
            None => (rest, None),
        };
        let what = value.split(['"', '`']).next().unwrap_or("").trim();
        let mut problem = kind.trim_end().trim_end_matches(':').to_owned();
        if !what.is_empty() {
            problem = format!("{problem}: {what}");
        }
        if let Some(expected) = expected {
            problem = format!("{problem}, expected {expected}");
        }
        return problem;
    }
    message.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        email: String,
        tags: Option<Vec<String>>,
    }

    fn fields(raw: &str) -> Value {
        match parse::<Body>(raw.as_bytes()) {
            Err(e) => e.body(crate::locale::Lang::En)["error"].clone(),
            Ok(_) => panic!("accepted {raw}"),
        }
    }

    #[test]
    fn names_the_field() {
        assert_eq!(fields("{}")["details"]["fields"]["email"][0], "required");
        assert_eq!(
            fields(r#"{"email":"a","x":1}"#)["details"]["fields"]["x"][0],
            "unknown field"
        );
        let e = fields(r#"{"email":"a","tags":["ok", 5]}"#);
        assert_eq!(e["code"], "VALIDATION_ERROR");
        assert!(
            e["details"]["fields"]["tags[1]"][0]
                .as_str()
                .unwrap()
                .starts_with("invalid type")
        );
        assert!(fields("[]")["details"]["fields"]["body"].is_array());
    }

    #[test]
    fn an_array_is_not_a_body_even_when_every_field_is_optional() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Optional {
            title: Option<String>,
        }
        let e = parse::<Optional>(b"[]").unwrap_err();
        let body = e.body(crate::locale::Lang::En);
        assert_eq!(
            body["error"]["details"]["fields"]["body"][0],
            "invalid type: array, expected an object"
        );
        assert!(parse::<Optional>(b"{}").is_ok());
        // An optional body (`Option<Json<T>>`) may be `null`; an array is no body either.
        assert!(parse::<Option<Optional>>(b"null").unwrap().is_none());
        assert!(parse::<Option<Optional>>(b"[]").is_err());
    }

    #[test]
    fn problems_never_repeat_the_value() {
        assert_eq!(
            without_value("invalid type: string \"비밀, expected 일기\", expected i64"),
            "invalid type: string, expected i64"
        );
        assert_eq!(
            without_value("invalid value: integer `7`, expected a day of the week"),
            "invalid value: integer, expected a day of the week"
        );
        assert_eq!(
            without_value("unknown variant `슬픔`, expected one of `happy`, `sad`"),
            "unknown variant, expected one of `happy`, `sad`"
        );
        assert_eq!(
            without_value("invalid length 3, expected 2"),
            "invalid length 3, expected 2"
        );
        let e = fields(r#"{"email": 5}"#);
        assert_eq!(
            e["details"]["fields"]["email"][0],
            "invalid type: integer, expected a string"
        );
    }

    /// What `Option<Json<Body>>` makes of a request with this content type and body.
    async fn optional(content_type: Option<&str>, body: &str) -> Result<Option<String>, String> {
        use axum::extract::OptionalFromRequest;
        let mut request = axum::http::Request::builder().method("DELETE").uri("/");
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        let request = request
            .body(axum::body::Body::from(body.to_owned()))
            .unwrap();
        match <Json<Body> as OptionalFromRequest<()>>::from_request(request, &()).await {
            Ok(body) => Ok(body.map(|Json(b)| b.email)),
            Err(e) => Err(e.body(crate::locale::Lang::En)["error"]["code"].to_string()),
        }
    }

    #[tokio::test]
    async fn an_optional_body_may_be_missing_empty_or_null() {
        assert_eq!(optional(None, "").await, Ok(None));
        assert_eq!(optional(Some("application/json"), "").await, Ok(None));
        assert_eq!(optional(Some("application/json"), "null").await, Ok(None));
        assert_eq!(optional(Some("text/plain"), "").await, Ok(None));
        assert_eq!(
            optional(Some("application/json"), r#"{"email":"a"}"#).await,
            Ok(Some("a".to_owned()))
        );
        assert_eq!(
            optional(Some("text/plain"), r#"{"email":"a"}"#).await,
            Err("\"UNSUPPORTED_MEDIA_TYPE\"".to_owned())
        );
        assert_eq!(
            optional(Some("application/json"), "{").await,
            Err("\"BAD_REQUEST\"".to_owned())
        );
    }

    #[test]
    fn malformed_json_is_a_bad_request() {
        for raw in ["{", "", "{\"email\": }", "nul"] {
            assert_eq!(fields(raw)["code"], "BAD_REQUEST", "{raw}");
        }
    }
}
