//! The success envelope of API.md: `{success, data, message, timestamp}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// RFC 3339 in UTC with second precision, as API.md shows (`2025-01-15T10:30:00Z`).
pub fn timestamp() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A successful answer. `Ok(data)` is 200; `Created(data)` is 201.
#[derive(Debug, Serialize, ToSchema)]
pub struct Envelope<T> {
    pub success: bool,
    pub data: T,
    pub message: String,
    pub timestamp: String,
}

pub struct Reply<T> {
    status: StatusCode,
    data: T,
    message: &'static str,
}

impl<T: Serialize> Reply<T> {
    pub fn ok(data: T) -> Self {
        Self::with_status(StatusCode::OK, data)
    }
    pub fn created(data: T) -> Self {
        Self::with_status(StatusCode::CREATED, data)
    }
    fn with_status(status: StatusCode, data: T) -> Self {
        Self {
            status,
            data,
            message: "Success",
        }
    }
    pub fn message(mut self, message: &'static str) -> Self {
        self.message = message;
        self
    }
}

impl Reply<()> {
    /// `data: null`.
    pub fn empty() -> Self {
        Self::ok(())
    }
}

impl<T: Serialize> IntoResponse for Reply<T> {
    fn into_response(self) -> Response {
        let body = Envelope {
            success: true,
            data: self.data,
            message: self.message.to_owned(),
            timestamp: timestamp(),
        };
        (self.status, axum::Json(body)).into_response()
    }
}
