//! The base of every function's OpenAPI 3.1 document: info and the bearer scheme.

use utoipa::openapi::content::ContentBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ComponentsBuilder, InfoBuilder, OpenApi, OpenApiBuilder, Ref};

pub fn base(name: &str) -> OpenApi {
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title(format!("MindPause API — {name}"))
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "마음쉼표 backend. Every JSON response uses the envelope \
                     `{success, data, message, timestamp}` or `{success: false, error: {code, message, details}, timestamp}`.",
                ))
                .build(),
        )
        .components(Some(
            ComponentsBuilder::new()
                .security_scheme(
                    "bearer",
                    SecurityScheme::Http(
                        HttpBuilder::new()
                            .scheme(HttpAuthScheme::Bearer)
                            .bearer_format("JWT")
                            .build(),
                    ),
                )
                .build(),
        ))
        .build()
}

/// Completes every operation's responses with what the platform answers on its behalf, and
/// gives every error response the error envelope's schema, so that a client generated from
/// the document knows every status it may meet:
/// - every route: 429 (`RATE_LIMIT_GENERAL`), 500, 503 (database out, request timeout);
/// - a bearer route: 401 (no, bad or expired token), 403 (suspended account);
/// - a request body: 400 (malformed), 413 (too large), 415 (wrong type), 422 (invalid);
/// - query parameters: 422 (a value that does not parse); a cursor (`cursor`, `before`):
///   400 (not one we gave).
///
/// A path id that does not parse is 404 (as a missing row), documented by the handler.
pub fn complete(doc: &mut OpenApi) {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::path::ParameterIn;

    let components = doc.components.get_or_insert_with(Default::default);
    components
        .schemas
        .insert(ERROR_ENVELOPE.to_owned(), error_envelope().into());
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for operation in operations.into_iter().flatten() {
            let bearer = operation.security.as_ref().is_some_and(|s| !s.is_empty());
            let body = operation.request_body.is_some();
            let parameters: Vec<(ParameterIn, String)> = operation
                .parameters
                .iter()
                .flatten()
                .filter_map(|p| match p {
                    RefOr::T(p) => Some((p.parameter_in.clone(), p.name.clone())),
                    RefOr::Ref(_) => None,
                })
                .collect();
            let query = parameters.iter().any(|(at, _)| *at == ParameterIn::Query);
            let cursor = parameters
                .iter()
                .any(|(_, name)| name == "cursor" || name == "before");
            let statuses = [
                (400, body, "BAD_REQUEST: a malformed body"),
                (400, query, "BAD_REQUEST: a malformed query string"),
                (400, cursor, "BAD_REQUEST: a cursor this list did not give"),
                (401, bearer, "UNAUTHORIZED, TOKEN_EXPIRED or INVALID_TOKEN"),
                (403, bearer, "ACCOUNT_SUSPENDED"),
                (413, body, "PAYLOAD_TOO_LARGE"),
                (415, body, "UNSUPPORTED_MEDIA_TYPE"),
                (
                    422,
                    body || query,
                    "VALIDATION_ERROR: details.fields names each field",
                ),
                (429, true, "RATE_LIMITED (see Retry-After)"),
                (500, true, "INTERNAL_ERROR"),
                (503, true, "SERVICE_UNAVAILABLE: try again later"),
            ];
            let responses = &mut operation.responses.responses;
            for (status, applies, description) in statuses {
                if applies {
                    responses
                        .entry(status.to_string())
                        .or_insert_with(|| ResponseBuilder::new().description(description).into());
                }
            }
            for (status, response) in responses.iter_mut() {
                if let RefOr::T(response) = response
                    && status.starts_with(['4', '5'])
                    && response.content.is_empty()
                {
                    response.content.insert(
                        "application/json".to_owned(),
                        ContentBuilder::new()
                            .schema(Some(Ref::from_schema_name(ERROR_ENVELOPE)))
                            .build()
                            .into(),
                    );
                }
            }
        }
    }
}

const ERROR_ENVELOPE: &str = "ErrorEnvelope";

/// `{success: false, error: {code, message, details?}, timestamp}`.
fn error_envelope() -> Schema {
    let text = || ObjectBuilder::new().schema_type(Type::String);
    let error = ObjectBuilder::new()
        .property(
            "code",
            text().enum_values(Some(
                crate::error::ErrorCode::ALL.iter().map(|c| c.as_str()),
            )),
        )
        .required("code")
        .property("message", text())
        .required("message")
        .property(
            "details",
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .description(Some("What went wrong, e.g. `fields` of a VALIDATION_ERROR")),
        );
    ObjectBuilder::new()
        .property(
            "success",
            ObjectBuilder::new()
                .schema_type(Type::Boolean)
                .enum_values(Some([false])),
        )
        .required("success")
        .property("error", error)
        .required("error")
        .property(
            "timestamp",
            text().format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
        )
        .required("timestamp")
        .into()
}

/// A string with a fixed set of values, for parameters read as text and matched in the
/// handler (`#[param(schema_with = …)]` names a function returning this).
pub fn one_of(values: &[&str]) -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.iter().copied()))
        .into()
}

/// A local date (`2025-01-15`) or an RFC 3339 instant (`2025-01-15T10:30:00Z`).
pub fn date_or_instant() -> Schema {
    let format = |f| {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(f)))
    };
    // anyOf: where formats are only annotations (OpenAPI 3.1's default), both branches take
    // any string, and oneOf would then refuse every value.
    utoipa::openapi::schema::AnyOfBuilder::new()
        .item(format(KnownFormat::Date))
        .item(format(KnownFormat::DateTime))
        .into()
}

/// Merges a function's document into the all-in-one document of the local server. Two
/// functions may share a schema (the envelope, a page) but never give one name to two
/// different schemas: the merged document would silently keep one of them (it did, for
/// `Kind`, `Category`, `Stats` and `Status`).
pub fn merge(into: &mut OpenApi, from: OpenApi) {
    if let (Some(ours), Some(theirs)) = (&into.components, &from.components) {
        for (name, schema) in &theirs.schemas {
            let differs = ours.schemas.get(name).is_some_and(|existing| {
                serde_json::to_value(existing).ok() != serde_json::to_value(schema).ok()
            });
            assert!(
                !differs,
                "two different schemas are named {name}: rename one (`#[schema(as = …)]`)"
            );
        }
    }
    into.merge(from);
}

#[cfg(test)]
mod tests {
    use super::*;
    use utoipa::openapi::ComponentsBuilder;

    fn with_schema(name: &str, kind: Type) -> OpenApi {
        let mut doc = base("test");
        doc.components = Some(
            ComponentsBuilder::new()
                .schema(name, ObjectBuilder::new().schema_type(kind))
                .build(),
        );
        doc
    }

    #[test]
    fn a_schema_shared_alike_merges() {
        let mut doc = with_schema("Page", Type::Object);
        merge(&mut doc, with_schema("Page", Type::Object));
        assert!(doc.components.unwrap().schemas.contains_key("Page"));
    }

    #[test]
    #[should_panic(expected = "two different schemas are named Kind")]
    fn one_name_for_two_schemas_is_refused() {
        let mut doc = with_schema("Kind", Type::String);
        merge(&mut doc, with_schema("Kind", Type::Integer));
    }

    #[test]
    fn every_operation_lists_what_the_platform_answers_with_the_error_envelope() {
        let doc = serde_json::json!({
            "openapi": "3.1.0",
            "info": { "title": "t", "version": "1" },
            "paths": {
                "/things": {
                    "get": {
                        "security": [{ "bearer": [] }],
                        "parameters": [{ "name": "cursor", "in": "query", "required": false, "schema": { "type": "string" } }],
                        "responses": { "200": { "description": "ok" }, "404": { "description": "NOT_FOUND" } }
                    },
                    "post": {
                        "requestBody": { "content": { "application/json": { "schema": { "type": "object" } } } },
                        "responses": { "201": { "description": "made" } }
                    }
                }
            }
        });
        let mut doc: OpenApi = serde_json::from_value(doc).unwrap();
        complete(&mut doc);
        let doc = serde_json::to_value(&doc).unwrap();
        let statuses = |method: &str| -> Vec<String> {
            doc["paths"]["/things"][method]["responses"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect()
        };
        assert_eq!(
            statuses("get"),
            [
                "200", "400", "401", "403", "404", "422", "429", "500", "503"
            ]
        );
        assert_eq!(
            statuses("post"),
            ["201", "400", "413", "415", "422", "429", "500", "503"]
        );
        for method in ["get", "post"] {
            for (status, response) in doc["paths"]["/things"][method]["responses"]
                .as_object()
                .unwrap()
            {
                let schema = &response["content"]["application/json"]["schema"]["$ref"];
                if status.starts_with(['4', '5']) {
                    assert_eq!(
                        schema, "#/components/schemas/ErrorEnvelope",
                        "{method} {status}"
                    );
                } else {
                    assert!(schema.is_null());
                }
            }
        }
        let envelope = &doc["components"]["schemas"]["ErrorEnvelope"];
        assert_eq!(
            envelope["required"],
            serde_json::json!(["success", "error", "timestamp"])
        );
        let codes = envelope["properties"]["error"]["properties"]["code"]["enum"]
            .as_array()
            .unwrap();
        assert!(
            codes.contains(&"VALIDATION_ERROR".into())
                && codes.len() == crate::error::ErrorCode::ALL.len()
        );
    }
}
