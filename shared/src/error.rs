//! The one error type. Every failure a client can see becomes API.md's envelope with a
//! stable code; internals keep their cause, are logged once with the request id (the whole
//! chain, at the edge) and never returned. A leaf: integrations convert their own errors
//! into it (`db`, `cache`).

use std::collections::BTreeMap;
use std::fmt;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::envelope::timestamp;
use crate::locale::Lang;

/// Any cause, kept for the log.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Displays an error and each of its sources: `outer: inner: innermost`.
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// What one counted request learned from a rate limit: the numbers behind the
/// `RateLimit-*` headers (and `Retry-After` when refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateInfo {
    pub limit: u64,
    pub remaining: u64,
    /// Seconds until the window resets (at least 1).
    pub reset_secs: u64,
    pub allowed: bool,
}

impl RateInfo {
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        headers.insert("ratelimit-limit", HeaderValue::from(self.limit));
        headers.insert("ratelimit-remaining", HeaderValue::from(self.remaining));
        headers.insert("ratelimit-reset", HeaderValue::from(self.reset_secs));
    }

    /// `Ok` when allowed, else 429 RATE_LIMITED carrying the headers.
    pub fn check(self) -> Result<Self, ApiError> {
        if self.allowed {
            Ok(self)
        } else {
            Err(ApiError::rate_limited(self))
        }
    }
}

/// The enum and its list of every code (for the OpenAPI document's error envelope) from one
/// list of names, so that neither can miss a code.
macro_rules! error_codes {
    ($($code:ident,)*) => {
        /// The stable, machine-readable codes of API.md.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum ErrorCode {
            $($code,)*
        }

        impl ErrorCode {
            pub const ALL: &[ErrorCode] = &[$(ErrorCode::$code,)*];
        }
    };
}

error_codes! {
    BadRequest,
    InvalidToken,
    Unauthorized,
    TokenExpired,
    InvalidCredentials,
    TokenReused,
    Forbidden,
    AccountSuspended,
    NotFound,
    MethodNotAllowed,
    EmailTaken,
    NicknameTaken,
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationError,
    RateLimited,
    AiUnavailable,
    ServiceUnavailable,
    InternalError,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "BAD_REQUEST",
            Self::InvalidToken => "INVALID_TOKEN",
            Self::Unauthorized => "UNAUTHORIZED",
            Self::TokenExpired => "TOKEN_EXPIRED",
            Self::InvalidCredentials => "INVALID_CREDENTIALS",
            Self::TokenReused => "TOKEN_REUSED",
            Self::Forbidden => "FORBIDDEN",
            Self::AccountSuspended => "ACCOUNT_SUSPENDED",
            Self::NotFound => "NOT_FOUND",
            Self::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            Self::EmailTaken => "EMAIL_TAKEN",
            Self::NicknameTaken => "NICKNAME_TAKEN",
            Self::Conflict => "CONFLICT",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            Self::ValidationError => "VALIDATION_ERROR",
            Self::RateLimited => "RATE_LIMITED",
            Self::AiUnavailable => "AI_UNAVAILABLE",
            Self::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            Self::InternalError => "INTERNAL_ERROR",
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Self::BadRequest | Self::InvalidToken => StatusCode::BAD_REQUEST,
            Self::Unauthorized
            | Self::TokenExpired
            | Self::InvalidCredentials
            | Self::TokenReused => StatusCode::UNAUTHORIZED,
            Self::Forbidden | Self::AccountSuspended => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::EmailTaken | Self::NicknameTaken | Self::Conflict => StatusCode::CONFLICT,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::ValidationError => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::AiUnavailable | Self::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The default human-readable message, in Korean or English.
    pub fn message(self, lang: Lang) -> &'static str {
        let (ko, en) = match self {
            Self::BadRequest => ("잘못된 요청입니다.", "The request is malformed."),
            Self::InvalidToken => (
                "유효하지 않거나 만료된 토큰입니다.",
                "The token is invalid, used or expired.",
            ),
            Self::Unauthorized => ("로그인이 필요합니다.", "Authentication is required."),
            Self::TokenExpired => (
                "로그인이 만료되었습니다. 다시 시도해 주세요.",
                "The access token has expired.",
            ),
            Self::InvalidCredentials => (
                "이메일 또는 비밀번호가 올바르지 않습니다.",
                "Incorrect email or password.",
            ),
            Self::TokenReused => (
                "보안을 위해 로그아웃되었습니다. 다시 로그인해 주세요.",
                "This refresh token was already used; the session has been revoked.",
            ),
            Self::Forbidden => ("권한이 없습니다.", "You are not allowed to do this."),
            Self::AccountSuspended => ("이용이 정지된 계정입니다.", "This account is suspended."),
            Self::NotFound => ("요청한 리소스를 찾을 수 없습니다.", "Not found."),
            Self::MethodNotAllowed => (
                "허용되지 않은 메서드입니다.",
                "This method is not allowed here.",
            ),
            Self::EmailTaken => (
                "이미 사용 중인 이메일입니다.",
                "This email is already in use.",
            ),
            Self::NicknameTaken => (
                "이미 사용 중인 닉네임입니다.",
                "This nickname is already in use.",
            ),
            Self::Conflict => (
                "요청이 현재 상태와 충돌합니다.",
                "The request conflicts with the current state.",
            ),
            Self::PayloadTooLarge => ("요청 크기가 너무 큽니다.", "The payload is too large."),
            Self::UnsupportedMediaType => (
                "지원하지 않는 형식입니다.",
                "This media type is not supported.",
            ),
            Self::ValidationError => ("입력값이 올바르지 않습니다.", "Some fields are invalid."),
            Self::RateLimited => (
                "요청이 너무 많습니다. 잠시 후 다시 시도해 주세요.",
                "Too many requests. Please try again later.",
            ),
            Self::AiUnavailable => (
                "AI 응답을 가져오지 못했습니다. 메시지는 저장되었습니다. 잠시 후 다시 시도해 주세요.",
                "The AI companion is unavailable right now. Your message was saved.",
            ),
            Self::ServiceUnavailable => (
                "서비스를 일시적으로 사용할 수 없습니다.",
                "The service is temporarily unavailable.",
            ),
            Self::InternalError => (
                "서버 오류가 발생했습니다.",
                "Something went wrong on our side.",
            ),
        };
        match lang {
            Lang::Ko => ko,
            Lang::En => en,
        }
    }
}

/// Field-level problems: `{"field": ["problem", ...]}`. Problems are short, stable English
/// phrases (`"required"`, `"must be at most 200 characters"`) the frontend can map.
pub type FieldErrors = BTreeMap<String, Vec<String>>;

/// Collects every field problem of a request before answering 422 once with all of them.
///
/// ```ignore
/// let mut f = Fields::default();
/// let email = f.check("email", Email::parse(&body.email));
/// let nickname = f.check("nickname", Nickname::parse(&body.nickname));
/// let (email, nickname) = f.finish((email, nickname))?;
/// ```
#[derive(Debug, Default)]
pub struct Fields(FieldErrors);

impl Fields {
    /// The parsed value, or `None` with the problem recorded under `name`.
    pub fn check<T>(&mut self, name: &str, parsed: Result<T, &str>) -> Option<T> {
        parsed.map_err(|problem| self.add(name, problem)).ok()
    }

    pub fn add(&mut self, name: &str, problem: &str) {
        self.0
            .entry(name.to_owned())
            .or_default()
            .push(problem.to_owned());
    }

    /// The checked values (an `Option` from [`Fields::check`], a tuple of them, or `()`),
    /// when nothing was recorded; else 422 VALIDATION_ERROR with every field.
    pub fn finish<V: Checked>(self, values: V) -> Result<V::Valid, ApiError> {
        if !self.0.is_empty() {
            return Err(ApiError::validation(self.0));
        }
        // Every `None` recorded a problem, so none is left here.
        values
            .valid()
            .ok_or_else(|| ApiError::internal("a checked field is missing without a problem"))
    }
}

/// Values gathered by [`Fields::check`]: all present once no problem was recorded.
pub trait Checked {
    type Valid;
    fn valid(self) -> Option<Self::Valid>;
}

impl Checked for () {
    type Valid = ();
    fn valid(self) -> Option<()> {
        Some(())
    }
}

impl<T> Checked for Option<T> {
    type Valid = T;
    fn valid(self) -> Option<T> {
        self
    }
}

macro_rules! checked_tuple {
    ($($name:ident),+) => {
        impl<$($name),+> Checked for ($(Option<$name>,)+) {
            type Valid = ($($name,)+);
            #[allow(non_snake_case)]
            fn valid(self) -> Option<Self::Valid> {
                let ($($name,)+) = self;
                Some(($($name?,)+))
            }
        }
    };
}
checked_tuple!(A, B);
checked_tuple!(A, B, C);
checked_tuple!(A, B, C, D);
checked_tuple!(A, B, C, D, E);

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A client-facing failure with its code and optional `details`.
    #[error("{code:?}")]
    Client {
        code: ErrorCode,
        details: Option<Value>,
        /// The limit that refused the request (429): `Retry-After` and `RateLimit-*` headers.
        rate: Option<RateInfo>,
    },
    /// Anything we did not expect: logged with its cause, answered with 500 INTERNAL_ERROR.
    #[error("internal error")]
    Internal(#[source] BoxError),
    /// A dependency (database, Redis) is unreachable: 503 SERVICE_UNAVAILABLE.
    #[error("dependency unavailable")]
    Unavailable(#[source] BoxError),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn code(code: ErrorCode) -> Self {
        Self::Client {
            code,
            details: None,
            rate: None,
        }
    }

    pub fn with_details(code: ErrorCode, details: Value) -> Self {
        Self::Client {
            code,
            details: Some(details),
            rate: None,
        }
    }

    pub fn not_found() -> Self {
        Self::code(ErrorCode::NotFound)
    }
    pub fn unauthorized() -> Self {
        Self::code(ErrorCode::Unauthorized)
    }
    pub fn forbidden() -> Self {
        Self::code(ErrorCode::Forbidden)
    }
    pub fn conflict() -> Self {
        Self::code(ErrorCode::Conflict)
    }
    pub fn bad_request(reason: &str) -> Self {
        Self::with_details(ErrorCode::BadRequest, json!({ "reason": reason }))
    }

    /// 422 with `details.fields`.
    pub fn validation(fields: FieldErrors) -> Self {
        Self::with_details(ErrorCode::ValidationError, json!({ "fields": fields }))
    }

    /// 422 for one field.
    pub fn field(name: &str, problem: impl Into<String>) -> Self {
        Self::validation(FieldErrors::from([(name.to_owned(), vec![problem.into()])]))
    }

    pub fn rate_limited(info: RateInfo) -> Self {
        Self::Client {
            code: ErrorCode::RateLimited,
            details: None,
            rate: Some(info),
        }
    }

    /// 500, keeping the cause (an error, or a message) for the log.
    pub fn internal(cause: impl Into<BoxError>) -> Self {
        Self::Internal(cause.into())
    }

    /// 503, keeping the cause for the log.
    pub fn unavailable(cause: impl Into<BoxError>) -> Self {
        Self::Unavailable(cause.into())
    }

    pub fn error_code(&self) -> ErrorCode {
        match self {
            Self::Client { code, .. } => *code,
            Self::Internal(_) => ErrorCode::InternalError,
            Self::Unavailable(_) => ErrorCode::ServiceUnavailable,
        }
    }

    /// The envelope body for this error in `lang`.
    pub fn body(&self, lang: Lang) -> Value {
        let code = self.error_code();
        let mut error = json!({ "code": code.as_str(), "message": code.message(lang) });
        if let Self::Client {
            details: Some(details),
            ..
        } = self
        {
            error["details"] = details.clone();
        }
        json!({ "success": false, "error": error, "timestamp": timestamp() })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match &self {
            Self::Internal(_) => tracing::error!(error = %ErrorChain(&self), "request failed"),
            Self::Unavailable(_) => tracing::warn!(error = %ErrorChain(&self), "request failed"),
            Self::Client { .. } => {}
        }
        let status = self.error_code().status();
        let mut response = (status, axum::Json(self.body(Lang::current()))).into_response();
        if let Self::Client {
            rate: Some(info), ..
        } = self
        {
            let headers = response.headers_mut();
            headers.insert(header::RETRY_AFTER, HeaderValue::from(info.reset_secs));
            info.write_headers(headers);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_both_languages_and_a_client_error_status_or_5xx() {
        for code in ErrorCode::ALL {
            assert!(!code.message(Lang::Ko).is_empty());
            assert!(code.message(Lang::En).is_ascii(), "{code:?}");
            assert_eq!(
                code.as_str(),
                format!("{code:?}")
                    .chars()
                    .enumerate()
                    .flat_map(|(i, c)| {
                        let sep = (i > 0 && c.is_uppercase()).then_some('_');
                        sep.into_iter().chain(c.to_uppercase())
                    })
                    .collect::<String>()
            );
        }
    }

    #[test]
    fn internal_details_never_reach_the_body() {
        let body = ApiError::internal("relation users does not exist at /srv/x.rs").body(Lang::En);
        let text = body.to_string();
        assert!(!text.contains("relation"));
        assert_eq!(body["error"]["code"], "INTERNAL_ERROR");
        assert_eq!(body["success"], false);
    }

    #[test]
    fn the_cause_is_kept_for_the_log() {
        let io = std::io::Error::other("connection reset");
        let e = ApiError::unavailable(io);
        assert_eq!(
            ErrorChain(&e).to_string(),
            "dependency unavailable: connection reset"
        );
    }

    #[test]
    fn finish_returns_the_checked_values_or_every_problem() {
        let mut f = Fields::default();
        let a = f.check("a", Ok::<_, &str>(1));
        let b = f.check("b", Ok::<_, &str>("two"));
        assert_eq!(f.finish((a, b)).unwrap(), (1, "two"));

        let mut f = Fields::default();
        let a = f.check("a", Err::<i32, _>("bad"));
        let b = f.check("b", Err::<i32, _>("worse"));
        let e = f.finish((a, b)).unwrap_err();
        let body = e.body(Lang::En);
        assert_eq!(body["error"]["details"]["fields"]["a"][0], "bad");
        assert_eq!(body["error"]["details"]["fields"]["b"][0], "worse");
    }
}
