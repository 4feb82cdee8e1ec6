//! The response language: Korean by default, English when `Accept-Language` prefers it.
//! Set per request by a middleware as a task-local so that any error, wherever it is
//! rendered, speaks the client's language.

use axum::extract::Request;
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::Response;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Ko,
    En,
}

tokio::task_local! {
    static LANG: Lang;
}

impl Lang {
    /// The language of the request being served (Korean outside a request).
    pub fn current() -> Self {
        LANG.try_with(|l| *l).unwrap_or_default()
    }

    /// The first of `ko`/`en` in `Accept-Language`, by quality; Korean when neither appears.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let Some(value) = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
        else {
            return Self::Ko;
        };
        let mut best: Option<(f32, Lang)> = None;
        for part in value.split(',') {
            let mut pieces = part.split(';');
            let tag = pieces.next().unwrap_or("").trim().to_ascii_lowercase();
            let quality = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            let lang = match tag.split('-').next() {
                Some("ko") => Lang::Ko,
                Some("en") => Lang::En,
                _ => continue,
            };
            if quality > 0.0 && best.is_none_or(|(q, _)| quality > q) {
                best = Some((quality, lang));
            }
        }
        best.map_or(Self::Ko, |(_, l)| l)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Ko => "ko",
            Lang::En => "en",
        }
    }
}

pub async fn middleware(request: Request, next: Next) -> Response {
    let lang = Lang::from_headers(request.headers());
    LANG.scope(lang, next.run(request)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lang(value: &str) -> Lang {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_LANGUAGE, value.parse().unwrap());
        Lang::from_headers(&h)
    }

    #[test]
    fn picks_the_preferred_supported_language() {
        assert_eq!(lang("en"), Lang::En);
        assert_eq!(lang("en-US,en;q=0.9"), Lang::En);
        assert_eq!(lang("ko-KR,ko;q=0.9,en;q=0.8"), Lang::Ko);
        assert_eq!(lang("fr, en;q=0.5"), Lang::En);
        assert_eq!(lang("en;q=0.2, ko;q=0.8"), Lang::Ko);
        assert_eq!(lang("de"), Lang::Ko);
        assert_eq!(Lang::from_headers(&HeaderMap::new()), Lang::Ko);
    }
}
