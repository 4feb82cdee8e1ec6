//! What people write is kept as plain text: markup is removed (by ammonia, which parses it as
//! a browser would), so nothing executable is stored or comes back, whatever the client does
//! with it.

use std::sync::LazyLock;

/// No tag is allowed; `script` and `style` lose their content too; comments go.
static CLEANER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(ammonia::Builder::empty);

/// Encodings peeled at most: `&lt;b&gt;` is a tag once decoded, so it is cleaned again.
const ROUNDS: usize = 4;

/// `input` without markup, its characters otherwise as typed (`1 < 2 & 3` stays so): the
/// text ammonia leaves, decoded; when decoding spells markup again (`&lt;script&gt;`), that
/// is removed in the next round. Control characters other than line breaks and tabs go
/// (PostgreSQL refuses NUL), and so do byte-order marks (invisible; blank as
/// `shared::text` counts it).
pub fn plain(input: &str) -> String {
    let mut text: String = input
        .replace("\r\n", "\n")
        .chars()
        .filter(|c| (!c.is_control() || matches!(c, '\n' | '\t')) && *c != '\u{feff}')
        .collect();
    for _ in 0..ROUNDS {
        if !text.contains(['<', '&']) {
            return text;
        }
        let cleaned = decode(&CLEANER.clean(&text).to_string());
        if cleaned == text {
            return text;
        }
        text = cleaned;
    }
    // Encoded deeper than anyone types by hand: no `<` survives.
    text.replace('<', "")
}

/// The entities html5ever's serializer writes in text (`&amp;` last, so `&amp;lt;` reads
/// `&lt;`).
fn decode(html: &str) -> String {
    html.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", "\u{a0}")
        .replace("&amp;", "&")
}

/// A title: plain, on one line (every run of whitespace is one space), trimmed.
pub fn one_line(input: &str) -> String {
    plain(input)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// A post's or comment's body: plain, trimmed at both ends, line breaks kept.
pub fn paragraphs(input: &str) -> String {
    plain(input).trim().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `text` holds something a browser would read as markup.
    fn has_tag(text: &str) -> bool {
        text.as_bytes().windows(2).any(|w| {
            w[0] == b'<' && (w[1].is_ascii_alphabetic() || matches!(w[1], b'/' | b'!' | b'?'))
        })
    }

    #[test]
    fn no_payload_keeps_a_tag() {
        let payloads = include_str!("../tests/fixtures/xss_payloads.txt");
        for payload in payloads.lines() {
            let text = plain(&format!("안녕 {payload} 하세요"));
            assert!(!has_tag(&text), "{payload} -> {text}");
            assert!(text.starts_with("안녕"), "{payload} -> {text}");
        }
    }

    #[test]
    fn plain_text_stays_as_typed() {
        for typed in [
            "오늘 하루도 수고했어요 :)",
            "1 < 2 && 3 > 2",
            "<3 고마워요",
            "A & B, \"quoted\" 'single'",
            "줄바꿈\n\n두 줄",
            "탭\t하나",
        ] {
            assert_eq!(plain(typed), typed);
        }
        assert_eq!(plain("나쁜\0문자\u{7}"), "나쁜문자");
        assert_eq!(plain("윈도우\r\n줄바꿈"), "윈도우\n줄바꿈");
        assert_eq!(plain("<b>굵게</b> 말고 그냥"), "굵게 말고 그냥");
        assert_eq!(one_line("  제목\n이 두 줄  "), "제목 이 두 줄");
        assert_eq!(paragraphs("  본문\n 둘째 줄 \n"), "본문\n 둘째 줄");
    }
}
