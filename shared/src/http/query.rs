//! `Query<T>` whose rejections are the envelope: 422 naming the parameter for a value that
//! does not fit (`limit=abc`), 400 for a query string that does not parse at all.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, FieldErrors};

#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let raw = parts.uri.query().unwrap_or("");
        parse(raw).map(Query)
    }
}

pub fn parse<T: DeserializeOwned>(raw: &str) -> Result<T, ApiError> {
    let pairs = form_urlencoded::parse(raw.as_bytes());
    let deserializer = serde_urlencoded::Deserializer::new(pairs);
    serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        let (field, problem) = super::json::describe(&path, &e.inner().to_string());
        if field == "body" {
            return ApiError::bad_request("malformed query string");
        }
        ApiError::validation(FieldErrors::from([(field, vec![problem])]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Params {
        limit: Option<u32>,
        emotion: Option<String>,
    }

    #[test]
    fn names_the_parameter() {
        let e = parse::<Params>("limit=abc")
            .unwrap_err()
            .body(crate::locale::Lang::En);
        assert_eq!(e["error"]["code"], "VALIDATION_ERROR");
        assert!(e["error"]["details"]["fields"]["limit"].is_array());
        let ok: Params = parse("limit=5&emotion=happy&unknown=1").unwrap();
        assert_eq!(ok.limit, Some(5));
    }
}
