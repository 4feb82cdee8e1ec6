//! Links to files: `{FILES_URL}/{id}/content/{variant}?expires=…&signature=…`, signed with a
//! key derived from the server secret. A link is a capability that expires: whoever holds
//! it may fetch that one object until then (an `<img>` cannot send a bearer token), and the
//! files function answers it with a short-lived V4 signed URL of Cloud Storage.
//!
//! A link is the same for a whole hour (it expires one to two hours after it was made), so
//! browsers cache a picture instead of fetching it again on every screen.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

type HmacSha256 = Hmac<Sha256>;

const HOUR: i64 = 3600;

#[derive(Clone)]
pub struct FileLinks {
    key: Vec<u8>,
    base: String,
}

impl FileLinks {
    /// Derives the link key from a server secret (as cursors do, under another label).
    pub fn new(server_secret: &str, files_url: &str) -> Self {
        let mut mac = HmacSha256::new_from_slice(server_secret.as_bytes()).expect("any key length");
        mac.update(b"mindpause/file-link/v1");
        Self {
            key: mac.finalize().into_bytes().to_vec(),
            base: files_url.trim_end_matches('/').to_owned(),
        }
    }

    fn tag(&self, file: Uuid, variant: &str, expires: i64) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("any key length");
        mac.update(format!("{file}/{variant}/{expires}").as_bytes());
        mac
    }

    /// The link to `variant` (`original`, `64`, `256`, `512`) of `file`, as of `now`.
    pub fn link(&self, file: Uuid, variant: &str, now: DateTime<Utc>) -> String {
        let expires = (now.timestamp().div_euclid(HOUR) + 2) * HOUR;
        let tag = self.tag(file, variant, expires).finalize().into_bytes();
        format!(
            "{}/{file}/content/{variant}?expires={expires}&signature={}",
            self.base,
            URL_SAFE_NO_PAD.encode(&tag[..16])
        )
    }

    /// Whether a link's parts are ours and not expired at `now`.
    pub fn verify(
        &self,
        file: Uuid,
        variant: &str,
        expires: i64,
        signature: &str,
        now: DateTime<Utc>,
    ) -> bool {
        let Ok(tag) = URL_SAFE_NO_PAD.decode(signature) else {
            return false;
        };
        tag.len() == 16
            && now.timestamp() < expires
            && self
                .tag(file, variant, expires)
                .verify_truncated_left(&tag)
                .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(link: &str) -> (i64, String) {
        let query = link.split_once('?').unwrap().1;
        let mut expires = 0;
        let mut signature = String::new();
        for pair in query.split('&') {
            match pair.split_once('=').unwrap() {
                ("expires", v) => expires = v.parse().unwrap(),
                ("signature", v) => signature = v.to_owned(),
                _ => panic!("unexpected {pair}"),
            }
        }
        (expires, signature)
    }

    #[test]
    fn a_link_verifies_until_it_expires_and_only_for_its_file_and_variant() {
        let links = FileLinks::new(
            "a server secret of at least 32 chars",
            "https://api.x/files/",
        );
        let now: DateTime<Utc> = "2026-12-03T10:20:00Z".parse().unwrap();
        let file = Uuid::now_v7();
        let link = links.link(file, "256", now);
        assert!(link.starts_with(&format!("https://api.x/files/{file}/content/256?expires=")));
        let (expires, signature) = parts(&link);
        assert!(links.verify(file, "256", expires, &signature, now));
        let later = now + chrono::Duration::seconds(expires - now.timestamp());
        assert!(!links.verify(file, "256", expires, &signature, later));
        assert!(!links.verify(file, "512", expires, &signature, now));
        assert!(!links.verify(Uuid::now_v7(), "256", expires, &signature, now));
        assert!(!links.verify(file, "256", expires + HOUR, &signature, now));
        let other = FileLinks::new(
            "another server secret, 32 chars long",
            "https://api.x/files",
        );
        assert!(!other.verify(file, "256", expires, &signature, now));
    }

    #[test]
    fn a_link_stays_the_same_for_an_hour_and_lives_one_to_two() {
        let links = FileLinks::new("a server secret of at least 32 chars", "http://localhost");
        let file = Uuid::now_v7();
        let at = |t: &str| t.parse::<DateTime<Utc>>().unwrap();
        let first = links.link(file, "64", at("2026-12-03T10:00:00Z"));
        assert_eq!(first, links.link(file, "64", at("2026-12-03T10:59:59Z")));
        assert_ne!(first, links.link(file, "64", at("2026-12-03T11:00:00Z")));
        let (expires, _) = parts(&first);
        assert_eq!(expires, at("2026-12-03T12:00:00Z").timestamp());
    }
}
