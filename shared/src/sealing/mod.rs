//! Encryption at rest of what people write for themselves: journal notes, chat messages and
//! the conversation titles made from them (health information: PIPA Art. 23, GDPR Art. 9).
//!
//! AES-256-GCM from `ring` (already in every build through rustls): a random 96-bit nonce
//! per value, the key's id beside it, and the owner bound as associated data, with the
//! column — a value copied to another person's row, or into another column, does not open.
//! Several keys at once (`DATA_ENCRYPTION_KEYS`): the first seals, all of them open, and
//! [`rekey`] moves old values to the first key.
//!
//! A stored value is one `BYTEA`:
//! - `[1][key id: u16 BE][nonce: 12][ciphertext][tag: 16]` — sealed;
//! - `[0][UTF-8 text]` — written before encryption (the migration's conversion), opened as
//!   is and sealed by `rekey`.

use std::fmt;

use base64::Engine;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use uuid::Uuid;

use crate::config::{ConfigError, Settings};

const SEALED: u8 = 1;
const PLAIN: u8 = 0;
/// Version, key id.
const HEADER_LEN: usize = 3;
const TAG_LEN: usize = 16;
const VAR: &str = "DATA_ENCRYPTION_KEYS";

/// The development keyring (id 0, a key everyone can read here): production refuses it.
pub const DEV_DATA_KEYS: &str = "0:ZGV2LWRhdGEta2V5LW5vdC1mb3ItcHJvZHVjdGlvbiE=";

/// Where a value lives (`table.column`): part of what it is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column(pub &'static str);

/// Every sealed column, named once: the owners seal and open them (emotions, chat), the
/// export opens them, and `migrate rekey` moves them to a new key. What is sealed is a rule
/// of the house, like what is deleted with an account (docs/decisions.md, "Privacy").
pub mod columns {
    use super::Column;

    pub const EMOTION_NOTE: Column = Column("emotion_logs.note");
    /// A title may be the first line of the first message.
    pub const CONVERSATION_TITLE: Column = Column("conversations.title");
    pub const CHAT_MESSAGE: Column = Column("chat_messages.content");
}

impl Column {
    fn label(self) -> &'static [u8] {
        self.0.as_bytes()
    }
}

/// A value that does not open: a foreign or unknown key, or a changed byte.
#[derive(Debug, thiserror::Error)]
#[error("a sealed value does not open ({0})")]
pub struct SealError(&'static str);

impl From<SealError> for crate::ApiError {
    fn from(e: SealError) -> Self {
        crate::ApiError::internal(e)
    }
}

/// The keys: the first seals; every one opens.
pub struct Keyring {
    sealing: u16,
    keys: Vec<(u16, LessSafeKey)>,
    random: SystemRandom,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<u16> = self.keys.iter().map(|(id, _)| *id).collect();
        f.debug_struct("Keyring")
            .field("sealing", &self.sealing)
            .field("ids", &ids)
            .finish()
    }
}

impl Keyring {
    /// `id:base64-of-32-bytes` pairs separated by commas, the sealing key first.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut keys: Vec<(u16, LessSafeKey)> = Vec::new();
        for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (id, key) = pair
                .split_once(':')
                .ok_or("expected id:base64key pairs separated by commas")?;
            let id: u16 = id
                .trim()
                .parse()
                .map_err(|_| "a key id must be a number from 0 to 65535")?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(key.trim())
                .map_err(|_| format!("key {id} is not base64"))?;
            let key = UnboundKey::new(&AES_256_GCM, &bytes)
                .map_err(|_| format!("key {id} must be 32 bytes (256 bits)"))?;
            if keys.iter().any(|(known, _)| *known == id) {
                return Err(format!("key id {id} appears twice"));
            }
            keys.push((id, LessSafeKey::new(key)));
        }
        let sealing = keys.first().ok_or("no key")?.0;
        Ok(Self {
            sealing,
            keys,
            random: SystemRandom::new(),
        })
    }

    /// The keyring of `DATA_ENCRYPTION_KEYS`, or the development one (refused in production).
    pub fn from_settings(settings: &Settings) -> Result<Self, ConfigError> {
        let spec = match &settings.data_encryption_keys {
            Some(spec) => spec.expose(),
            None if settings.is_production() => {
                return Err(ConfigError::new(VAR, "is required in production"));
            }
            None => DEV_DATA_KEYS,
        };
        let ring = Self::parse(spec).map_err(|why| ConfigError::new(VAR, why))?;
        if settings.is_production() && spec.contains(DEV_DATA_KEYS.split(':').nth(1).unwrap_or(""))
        {
            return Err(ConfigError::new(
                VAR,
                "holds the development key; set real keys in production",
            ));
        }
        Ok(ring)
    }

    /// The id of the key that seals.
    pub fn sealing_id(&self) -> u16 {
        self.sealing
    }

    /// `text` sealed for `owner` in `column`, with the sealing key.
    pub fn seal(&self, column: Column, owner: Uuid, text: &str) -> Vec<u8> {
        let (id, key) = &self.keys[0];
        let mut nonce = [0u8; NONCE_LEN];
        self.random
            .fill(&mut nonce)
            .expect("the system's random source is available");
        let mut out = Vec::with_capacity(HEADER_LEN + NONCE_LEN + text.len() + TAG_LEN);
        out.push(SEALED);
        out.extend_from_slice(&id.to_be_bytes());
        out.extend_from_slice(&nonce);
        let header: [u8; HEADER_LEN] = [SEALED, id.to_be_bytes()[0], id.to_be_bytes()[1]];
        let mut body = text.as_bytes().to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(associated(column, owner, header)),
            &mut body,
        )
        .expect("a value under 4 GiB seals");
        out.extend_from_slice(&body);
        out
    }

    /// The text of a stored value of `owner` in `column`.
    pub fn open(&self, column: Column, owner: Uuid, stored: &[u8]) -> Result<String, SealError> {
        match stored.first() {
            Some(&PLAIN) => String::from_utf8(stored[1..].to_vec())
                .map_err(|_| SealError("the plain value is not UTF-8")),
            Some(&SEALED) if stored.len() >= HEADER_LEN + NONCE_LEN + TAG_LEN => {
                let id = u16::from_be_bytes([stored[1], stored[2]]);
                let (_, key) = self
                    .keys
                    .iter()
                    .find(|(known, _)| *known == id)
                    .ok_or(SealError("unknown key"))?;
                let header: [u8; HEADER_LEN] = [SEALED, stored[1], stored[2]];
                let nonce: [u8; NONCE_LEN] = stored[HEADER_LEN..HEADER_LEN + NONCE_LEN]
                    .try_into()
                    .map_err(|_| SealError("short"))?;
                let mut body = stored[HEADER_LEN + NONCE_LEN..].to_vec();
                let text = key
                    .open_in_place(
                        Nonce::assume_unique_for_key(nonce),
                        Aad::from(associated(column, owner, header)),
                        &mut body,
                    )
                    .map_err(|_| SealError("authentication failed"))?;
                let len = text.len();
                body.truncate(len);
                String::from_utf8(body).map_err(|_| SealError("the opened value is not UTF-8"))
            }
            _ => Err(SealError("not a stored value")),
        }
    }

    /// [`Keyring::open`] of an optional value.
    pub fn open_opt(
        &self,
        column: Column,
        owner: Uuid,
        stored: Option<&[u8]>,
    ) -> Result<Option<String>, SealError> {
        stored.map(|s| self.open(column, owner, s)).transpose()
    }

    /// The first bytes of every value the sealing key sealed: what `rekey` leaves alone.
    pub fn current_prefix(&self) -> [u8; HEADER_LEN] {
        let id = self.sealing.to_be_bytes();
        [SEALED, id[0], id[1]]
    }
}

/// What a value is bound to: its column, its owner and its header (version and key id).
fn associated(column: Column, owner: Uuid, header: [u8; HEADER_LEN]) -> Vec<u8> {
    let mut aad = Vec::with_capacity(column.label().len() + 1 + 16 + HEADER_LEN);
    aad.extend_from_slice(column.label());
    aad.push(0);
    aad.extend_from_slice(owner.as_bytes());
    aad.extend_from_slice(&header);
    aad
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOTE: Column = columns::EMOTION_NOTE;
    const MESSAGE: Column = columns::CHAT_MESSAGE;

    const K1: &str = "1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
    const K2: &str = "2:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";

    fn ring(spec: &str) -> Keyring {
        Keyring::parse(spec).unwrap()
    }

    #[test]
    fn a_sealed_note_opens_for_its_owner_only() {
        let keys = ring(K1);
        let (me, you) = (Uuid::now_v7(), Uuid::now_v7());
        let sealed = keys.seal(NOTE, me, "오늘은 조금 나았다");
        assert_eq!(keys.open(NOTE, me, &sealed).unwrap(), "오늘은 조금 나았다");
        assert!(keys.open(NOTE, you, &sealed).is_err());
        assert!(keys.open(MESSAGE, me, &sealed).is_err());
        assert!(!sealed.windows(3).any(|w| w == "오".as_bytes()));
    }

    #[test]
    fn every_value_has_its_own_nonce() {
        let keys = ring(K1);
        let me = Uuid::now_v7();
        let a = keys.seal(MESSAGE, me, "같은 말");
        let b = keys.seal(MESSAGE, me, "같은 말");
        assert_ne!(a, b);
        assert_eq!(a.len(), 1 + 2 + 12 + "같은 말".len() + 16);
    }

    #[test]
    fn a_changed_byte_or_key_id_does_not_open() {
        let keys = ring(&format!("{K1},{K2}"));
        let me = Uuid::now_v7();
        let sealed = keys.seal(MESSAGE, me, "hello");
        for i in 0..sealed.len() {
            let mut bent = sealed.clone();
            bent[i] ^= 0x01;
            assert!(keys.open(MESSAGE, me, &bent).is_err(), "byte {i}");
        }
        assert!(keys.open(MESSAGE, me, &sealed[..20]).is_err());
        assert!(keys.open(MESSAGE, me, &[]).is_err());
    }

    #[test]
    fn old_keys_open_and_the_first_seals() {
        let old = ring(K1);
        let me = Uuid::now_v7();
        let sealed = old.seal(NOTE, me, "before rotation");
        let rotated = ring(&format!("{K2},{K1}"));
        assert_eq!(rotated.open(NOTE, me, &sealed).unwrap(), "before rotation");
        assert_eq!(rotated.current_prefix(), [1, 0, 2]);
        assert_eq!(rotated.seal(NOTE, me, "x")[..3], rotated.current_prefix());
        assert!(ring(K2).open(NOTE, me, &sealed).is_err());
    }

    #[test]
    fn values_from_before_encryption_open_as_they_are() {
        let keys = ring(K1);
        let mut stored = vec![0u8];
        stored.extend_from_slice("예전 메모".as_bytes());
        assert_eq!(keys.open(NOTE, Uuid::nil(), &stored).unwrap(), "예전 메모");
    }

    #[test]
    fn bad_keyrings_are_refused_with_a_reason() {
        for bad in [
            "",
            "1",
            "x:AQEB",
            "1:not base64!",
            "1:AQEB",
            &format!("{K1},{}", K1),
        ] {
            assert!(Keyring::parse(bad).is_err(), "{bad:?}");
        }
        assert!(!format!("{:?}", ring(K1)).contains("AQEB"));
        assert_eq!(ring(DEV_DATA_KEYS).sealing_id(), 0);
    }
}

#[cfg(test)]
mod settings_tests {
    use super::*;
    use crate::functions::Kind;

    fn settings(extra: &[(&str, &str)]) -> Settings {
        let mut vars = vec![("DATABASE_URL", "postgres://x@localhost/x")];
        vars.extend_from_slice(extra);
        Settings::from_vars(Kind::Job, vars).unwrap()
    }

    #[test]
    fn production_needs_real_keys_and_development_has_its_own() {
        assert_eq!(
            Keyring::from_settings(&settings(&[])).unwrap().sealing_id(),
            0
        );
        let production = [("APP_ENV", "production")];
        let missing = Keyring::from_settings(&settings(&production)).unwrap_err();
        assert_eq!(missing.var, VAR);
        let dev = [("APP_ENV", "production"), (VAR, DEV_DATA_KEYS)];
        assert!(Keyring::from_settings(&settings(&dev)).is_err());
        let bad = [(VAR, "1:short")];
        assert!(Keyring::from_settings(&settings(&bad)).is_err());
        let real = [
            ("APP_ENV", "production"),
            (VAR, "3:AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM="),
        ];
        assert_eq!(
            Keyring::from_settings(&settings(&real))
                .unwrap()
                .sealing_id(),
            3
        );
    }
}
