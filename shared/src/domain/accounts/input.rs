//! What people type: email, nickname and password, parsed (parse, don't validate).

use unicode_normalization::UnicodeNormalization;

/// A trimmed, lower-cased, plausible email address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let email = raw.trim().to_lowercase();
        let (local, domain) = email.rsplit_once('@').ok_or("invalid email")?;
        let valid = !local.is_empty()
            && local.len() <= 64
            && email.len() <= 254
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && !email.chars().any(|c| c.is_whitespace() || c.is_control())
            && !local.contains('@')
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
        if valid {
            Ok(Self(email))
        } else {
            Err("invalid email")
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// 2..=20 characters: letters (Hangul included), digits, `_`, `-` and single inner spaces.
/// NFC-normalized, so that the same Hangul typed on different keyboards is the same name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nickname(String);

impl Nickname {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let nickname: String = raw.trim().nfc().collect();
        let length = nickname.chars().count();
        if !(2..=20).contains(&length) {
            return Err("must be 2 to 20 characters");
        }
        if nickname.contains("  ") {
            return Err("may not contain consecutive spaces");
        }
        let allowed = |c: char| c.is_alphanumeric() || c == '_' || c == '-' || c == ' ';
        if !nickname.chars().all(allowed) {
            return Err("may contain only letters, digits, _, - and spaces");
        }
        Ok(Self(nickname))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// 8..=128 characters, not a single repeated character.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

impl Password {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let length = raw.chars().count();
        if length < 8 {
            return Err("must be at least 8 characters");
        }
        if length > 128 {
            return Err("must be at most 128 characters");
        }
        let mut chars = raw.chars();
        let first = chars.next();
        if chars.all(|c| Some(c) == first) {
            return Err("must not be one repeated character");
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalized_and_checked() {
        assert_eq!(
            Email::parse("  Alice@Example.COM ").unwrap().as_str(),
            "alice@example.com"
        );
        assert!(Email::parse("하늘@예시.한국").is_ok());
        for bad in [
            "",
            "alice",
            "@example.com",
            "alice@",
            "alice@example",
            "a b@example.com",
            "alice@exa_mple.com",
            "alice@.example.com",
            "alice@example..com",
            "a@b@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(65))).is_err());
    }

    #[test]
    fn nicknames() {
        assert_eq!(
            Nickname::parse(" 마음 쉼표_1 ").unwrap().as_str(),
            "마음 쉼표_1"
        );
        assert!(Nickname::parse("ab").is_ok());
        assert!(Nickname::parse("a-b").is_ok());
        // Decomposed Hangul (NFD) becomes the composed form.
        let nfd = "\u{1112}\u{1161}\u{1102}\u{1173}\u{11af}";
        assert_eq!(Nickname::parse(nfd).unwrap().as_str(), "하늘");
        for bad in [
            "a",
            "   a  ",
            &"가".repeat(21),
            "a  b",
            "no!",
            "<script>",
            "a\tb",
            "😀😀",
        ] {
            assert!(Nickname::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords() {
        assert!(Password::parse("correct horse").is_ok());
        assert!(Password::parse("비밀번호는길게").is_err()); // 7 characters
        assert!(Password::parse("비밀번호는길게요").is_ok());
        for bad in ["short", "aaaaaaaaaaaa", "        ", &"x".repeat(129)] {
            assert!(Password::parse(bad).is_err(), "{bad:?}");
        }
        assert!(Password::parse(&"xy".repeat(64)).is_ok());
        assert_eq!(
            format!("{:?}", Password::parse("secret-words").unwrap()),
            "Password(***)"
        );
    }
}
