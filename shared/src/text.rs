//! Free text as people type it. Bounded as typed (what a form counts, and what the OpenAPI
//! document's `maxLength` states), stored without the white space and control characters
//! at its ends, and without control characters other than `\n` and tabs inside (PostgreSQL
//! refuses NUL in text; `\r\n` becomes `\n`, a lone `\r` goes like the other controls). "Blank" means the same here as in the document's pattern
//! [`NON_BLANK`], so a client validating against the document and this server agree on
//! every string.

/// The document's pattern for text that may not be blank: one character that is neither
/// white space, a control character nor a byte-order mark. ECMA-262's `\s` counts U+FEFF and
/// Python's does not: naming it makes the set the same in both, and in [`edge`].
pub const NON_BLANK: &str = r"[^\s\x00-\x1f\x7f-\x9f\ufeff]";

/// Characters dropped at both ends.
fn edge(c: char) -> bool {
    c.is_whitespace() || c.is_control() || c == '\u{feff}'
}

/// Characters dropped inside: controls other than line breaks and tabs.
fn inner(c: char) -> bool {
    c.is_control() && !matches!(c, '\n' | '\t')
}

/// At most `max` characters as typed, trimmed; blank is `"required"`.
pub fn required(value: &str, max: usize, too_long: &'static str) -> Result<String, &'static str> {
    if value.chars().count() > max {
        return Err(too_long);
    }
    match value.trim_matches(edge) {
        "" => Err("required"),
        text if text.contains(inner) => Ok(text.replace("\r\n", "\n").replace(inner, "")),
        text => Ok(text.to_owned()),
    }
}

/// At most `max` characters as typed, trimmed; blank is none.
pub fn optional(
    value: Option<String>,
    max: usize,
    too_long: &'static str,
) -> Result<Option<String>, &'static str> {
    let Some(value) = value else { return Ok(None) };
    match required(&value, max, too_long) {
        Ok(text) => Ok(Some(text)),
        Err("required") => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_as_typed_and_trimmed_of_space_and_controls() {
        assert_eq!(required("  hi\u{1c}\n", 6, "long"), Ok("hi".to_owned()));
        assert_eq!(required(" hi ", 3, "long"), Err("long"));
        assert_eq!(required("\u{3000}\u{1}\t", 5, "long"), Err("required"));
        assert_eq!(required("\u{feff} ", 5, "long"), Err("required"));
        assert_eq!(required("한글", 2, "long"), Ok("한글".to_owned()));
        assert_eq!(optional(Some(" \n".into()), 5, "long"), Ok(None));
        assert_eq!(optional(None, 5, "long"), Ok(None));
        assert_eq!(optional(Some("abcdef".into()), 5, "long"), Err("long"));
    }

    #[test]
    fn controls_inside_are_dropped_but_line_breaks_and_tabs_kept() {
        assert_eq!(
            required("나쁜\0문자\u{7}\r\n둘째\t줄", 20, "long"),
            Ok("나쁜문자\n둘째\t줄".to_owned())
        );
        assert_eq!(required("a\u{0}\u{0}", 5, "long"), Ok("a".to_owned()));
    }
}
