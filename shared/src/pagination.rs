//! Keyset pagination with opaque, tamper-evident cursors: `base64url(json).base64url(mac)`,
//! where the MAC binds the cursor to the list it came from.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, Fields};

type HmacSha256 = Hmac<Sha256>;

pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;
const LIMIT_PROBLEM: &str = "must be between 1 and 100";

#[derive(Clone)]
pub struct CursorCodec {
    key: Vec<u8>,
}

impl CursorCodec {
    /// Derives the cursor key from a server secret, so no separate secret is needed.
    pub fn new(server_secret: &str) -> Self {
        let mut mac = HmacSha256::new_from_slice(server_secret.as_bytes()).expect("any key length");
        mac.update(b"mindpause/cursor/v1");
        Self {
            key: mac.finalize().into_bytes().to_vec(),
        }
    }

    fn mac(&self, scope: &str, payload: &[u8]) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("any key length");
        mac.update(scope.as_bytes());
        mac.update(&[0]);
        mac.update(payload);
        mac
    }

    /// An opaque cursor for `position` in the list named `scope` (e.g. `emotions`).
    pub fn encode<T: Serialize>(&self, scope: &str, position: &T) -> String {
        let payload = serde_json::to_vec(position).expect("cursor positions serialize");
        let tag = self.mac(scope, &payload).finalize().into_bytes();
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(&tag[..16])
        )
    }

    /// 400 BAD_REQUEST for anything that is not a cursor we issued for this list.
    pub fn decode<T: DeserializeOwned>(&self, scope: &str, cursor: &str) -> Result<T, ApiError> {
        let bad = || ApiError::bad_request("invalid cursor");
        let (payload, tag) = cursor.split_once('.').ok_or_else(bad)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| bad())?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| bad())?;
        self.mac(scope, &payload)
            .verify_truncated_left(&tag)
            .map_err(|_| bad())?;
        if tag.len() != 16 {
            return Err(bad());
        }
        serde_json::from_slice(&payload).map_err(|_| bad())
    }
}

/// `?limit&cursor` as every list takes them.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// 1..=100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageParams {
    /// The page size, or 422 naming `limit`.
    pub fn limit(&self) -> Result<u32, ApiError> {
        match self.limit {
            None => Ok(DEFAULT_LIMIT),
            Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
            Some(_) => Err(ApiError::field("limit", LIMIT_PROBLEM)),
        }
    }

    /// The page size, or the problem recorded under `limit` among a list's other parameters
    /// (one 422 names them all).
    pub fn check_limit(&self, fields: &mut Fields) -> Option<u32> {
        fields.check("limit", self.limit().map_err(|_| LIMIT_PROBLEM))
    }

    pub fn position<T: DeserializeOwned>(
        &self,
        codec: &CursorCodec,
        scope: &str,
    ) -> Result<Option<T>, ApiError> {
        self.cursor
            .as_deref()
            .map(|c| codec.decode(scope, c))
            .transpose()
    }
}

/// Where a page sorted by a time (newest first) ends: the time and the id that breaks ties.
/// Cursors carry it with one-letter names (`r` in the emotion list's older cursors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Keyset {
    #[serde(rename = "t", alias = "r")]
    pub at: chrono::DateTime<chrono::Utc>,
    #[serde(rename = "i")]
    pub id: uuid::Uuid,
}

/// `{items, next_cursor}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// From rows fetched with `LIMIT limit + 1`: the extra row only says there is more.
    pub fn from_rows<P: Serialize>(
        mut rows: Vec<T>,
        limit: u32,
        codec: &CursorCodec,
        scope: &str,
        position_of: impl Fn(&T) -> P,
    ) -> Self {
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next_cursor = more
            .then(|| {
                rows.last()
                    .map(|last| codec.encode(scope, &position_of(last)))
            })
            .flatten();
        Self {
            items: rows,
            next_cursor,
        }
    }

    /// The same page with each item converted (e.g. rows opened into what the API shows).
    pub fn try_map<U, E>(self, f: impl FnMut(T) -> Result<U, E>) -> Result<Page<U>, E> {
        Ok(Page {
            items: self.items.into_iter().map(f).collect::<Result<_, _>>()?,
            next_cursor: self.next_cursor,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[derive(Debug, Serialize, Deserialize, PartialEq)]
    struct Pos {
        at: String,
        id: u64,
    }

    #[test]
    fn round_trips_and_refuses_tampering() {
        let codec = CursorCodec::new("secret");
        let pos = Pos {
            at: "2025-01-15T10:30:00Z".into(),
            id: 7,
        };
        let cursor = codec.encode("emotions", &pos);
        assert_eq!(codec.decode::<Pos>("emotions", &cursor).unwrap(), pos);

        let (payload, tag) = cursor.split_once('.').unwrap();
        let forged_payload = URL_SAFE_NO_PAD.encode(br#"{"at":"2025-01-15T10:30:00Z","id":8}"#);
        let mut flipped_tag = URL_SAFE_NO_PAD.decode(tag).unwrap();
        flipped_tag[0] ^= 1;
        for bad in [
            format!("{forged_payload}.{tag}"),
            format!("{payload}.{}", URL_SAFE_NO_PAD.encode(&flipped_tag)),
            format!("{payload}.{}", &tag[..4]),
            payload.to_owned(),
            "".to_owned(),
            "%%%.###".to_owned(),
        ] {
            let err = codec.decode::<Pos>("emotions", &bad).unwrap_err();
            assert_eq!(err.error_code(), ErrorCode::BadRequest, "{bad}");
        }
        // A cursor of another list, or from another server secret, is refused too.
        assert!(codec.decode::<Pos>("chats", &cursor).is_err());
        assert!(
            CursorCodec::new("other")
                .decode::<Pos>("emotions", &cursor)
                .is_err()
        );
    }

    #[test]
    fn keysets_read_the_cursors_issued_before_they_had_names() {
        let codec = CursorCodec::new("s");
        let at = "2025-01-15T10:30:00Z".parse().unwrap();
        let id = uuid::Uuid::now_v7();
        for old in [
            serde_json::json!({ "r": at, "i": id }),
            serde_json::json!({ "t": at, "i": id }),
        ] {
            let cursor = codec.encode("emotions", &old);
            let keyset: Keyset = codec.decode("emotions", &cursor).unwrap();
            assert_eq!(keyset, Keyset { at, id });
        }
    }

    #[test]
    fn limit_bounds() {
        let p = |limit| PageParams {
            limit,
            cursor: None,
        };
        assert_eq!(p(None).limit().unwrap(), 20);
        assert_eq!(p(Some(100)).limit().unwrap(), 100);
        for bad in [0, 101] {
            assert_eq!(
                p(Some(bad)).limit().unwrap_err().error_code(),
                ErrorCode::ValidationError
            );
        }
    }

    #[test]
    fn next_cursor_only_when_there_is_more() {
        let codec = CursorCodec::new("s");
        let page = Page::from_rows(vec![1, 2, 3], 2, &codec, "n", |n| *n);
        assert_eq!(page.items, vec![1, 2]);
        assert_eq!(
            codec
                .decode::<i32>("n", &page.next_cursor.unwrap())
                .unwrap(),
            2
        );
        let page = Page::from_rows(vec![1, 2], 2, &codec, "n", |n| *n);
        assert!(page.next_cursor.is_none());
    }
}
