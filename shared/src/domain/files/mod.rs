//! Files: the one owner of `files` and `storage_garbage`.
//!
//! The files function records an upload ([`record`]); the image worker finishes a profile
//! picture ([`finish`], [`fail`]) and takes out the garbage ([`garbage`], [`collected`]).
//! Removing a row, by whatever path (a person deleting a file, a replaced picture, a
//! deleted account's cascade), queues its objects in `storage_garbage` in the same
//! transaction (a trigger), so storage is cleaned after the commit and never blocks it.

mod links;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::{FromRow, PgConnection, PgExecutor};
use utoipa::ToSchema;
use uuid::Uuid;

pub use links::FileLinks;

use crate::error::ApiError;

/// The long side, in pixels, of a profile picture's resized copies (WebP).
pub const VARIANTS: [u32; 3] = [64, 256, 512];
/// The copy a profile shows (`user.profile_image_url`).
pub const PROFILE_VARIANT: u32 = 256;
/// The variant name of the uploaded bytes themselves.
pub const ORIGINAL: &str = "original";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
#[schema(as = FileKind)]
pub enum Kind {
    Profile,
    Attachment,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
#[schema(as = FileStatus)]
pub enum Status {
    /// A profile picture the image worker has not finished yet.
    Processing,
    Ready,
    /// The image could not be decoded; nothing will come of it.
    Failed,
}

/// A `files` row.
#[derive(Debug, Clone, FromRow)]
pub struct FileRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: Kind,
    pub content_type: String,
    pub size: i64,
    pub object: String,
    pub variants: Json<BTreeMap<String, String>>,
    pub status: Status,
    pub original_name: Option<String>,
    pub created_at: DateTime<Utc>,
}

macro_rules! columns {
    () => {
        "id, user_id, kind, content_type, size, object, variants, status, original_name, created_at"
    };
}

/// `file` of the API.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct File {
    pub id: Uuid,
    pub kind: Kind,
    pub content_type: String,
    /// Bytes stored (metadata removed).
    pub size: i64,
    pub status: Status,
    /// A signed link to the stored bytes, valid for at least an hour.
    pub url: String,
    /// Signed links to a profile picture's resized WebP copies by long side (`"64"`,
    /// `"256"`, `"512"`), once `status` is `ready`; empty otherwise.
    pub variants: BTreeMap<String, String>,
    /// The name the file had on the person's device, cleaned (never used as a path).
    pub name: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl FileRow {
    pub fn to_file(&self, links: &FileLinks, now: DateTime<Utc>) -> File {
        File {
            id: self.id,
            kind: self.kind,
            content_type: self.content_type.clone(),
            size: self.size,
            status: self.status,
            url: links.link(self.id, ORIGINAL, now),
            variants: self
                .variants
                .keys()
                .map(|size| (size.clone(), links.link(self.id, size, now)))
                .collect(),
            name: self.original_name.clone(),
            created_at: self.created_at,
        }
    }

    /// The object holding `variant` (`original` or a size), if the file has it.
    pub fn object_of(&self, variant: &str) -> Option<&str> {
        if variant == ORIGINAL {
            Some(&self.object)
        } else {
            self.variants.get(variant).map(String::as_str)
        }
    }
}

/// Where the bytes of file `id` live; a name of ours, never a client's.
pub fn object_name(id: Uuid) -> String {
    format!("files/{id}/original")
}

/// Where the `size` copy of file `id` lives.
pub fn variant_name(id: Uuid, size: u32) -> String {
    format!("files/{id}/{size}.webp")
}

/// A client's file name as something safe to keep and show: its last path component,
/// without control or reserved characters, at most 255 characters; `None` when nothing is
/// left.
pub fn clean_name(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '<' | '>' | ':' | '"' | '|' | '?' | '*'))
        .take(255)
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    (!cleaned.is_empty()).then(|| cleaned.to_owned())
}

/// What an upload stored.
pub struct NewFile<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub kind: Kind,
    pub content_type: &'a str,
    pub size: i64,
    pub object: &'a str,
    pub status: Status,
    pub original_name: Option<&'a str>,
}

pub async fn record(db: impl PgExecutor<'_>, new: NewFile<'_>) -> Result<FileRow, ApiError> {
    Ok(sqlx::query_as(concat!(
        "INSERT INTO files (id, user_id, kind, content_type, size, object, status, original_name)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         RETURNING ",
        columns!()
    ))
    .bind(new.id)
    .bind(new.user_id)
    .bind(new.kind)
    .bind(new.content_type)
    .bind(new.size)
    .bind(new.object)
    .bind(new.status)
    .bind(new.original_name)
    .fetch_one(db)
    .await?)
}

/// `user`'s file `id`, or `None` (someone else's is no one's).
pub async fn own(
    db: impl PgExecutor<'_>,
    id: Uuid,
    user: Uuid,
) -> Result<Option<FileRow>, ApiError> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM files WHERE id = $1 AND user_id = $2"
    ))
    .bind(id)
    .bind(user)
    .fetch_optional(db)
    .await?)
}

/// File `id`, whoever's: only for a signed link, which already proves who may see it.
pub async fn find(db: impl PgExecutor<'_>, id: Uuid) -> Result<Option<FileRow>, sqlx::Error> {
    sqlx::query_as(concat!("SELECT ", columns!(), " FROM files WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

/// Deletes `user`'s file `id` (its objects queued as garbage; a profile showing it shows
/// none); `false` when there is no such file of theirs.
pub async fn delete_own(db: impl PgExecutor<'_>, id: Uuid, user: Uuid) -> Result<bool, ApiError> {
    let deleted = sqlx::query("DELETE FROM files WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user)
        .execute(db)
        .await?
        .rows_affected();
    Ok(deleted == 1)
}

/// Deletes file `id` whatever it is (a picture replaced by a newer one).
pub async fn discard(db: &mut PgConnection, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM files WHERE id = $1")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// Locks file `id` for the caller's transaction; `None` when it is gone.
pub async fn lock(db: &mut PgConnection, id: Uuid) -> Result<Option<FileRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        "SELECT ",
        columns!(),
        " FROM files WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(db)
    .await
}

/// A processing picture is ready with these copies (size → object).
pub async fn finish(
    db: &mut PgConnection,
    id: Uuid,
    variants: &BTreeMap<String, String>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE files SET status = 'ready', variants = $2 WHERE id = $1 AND status = 'processing'",
    )
    .bind(id)
    .bind(Json(variants))
    .execute(db)
    .await?;
    Ok(())
}

/// A processing picture could not be made into anything.
pub async fn fail(db: impl PgExecutor<'_>, id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE files SET status = 'failed' WHERE id = $1 AND status = 'processing'")
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}

/// What `user`'s files take in all, in bytes.
pub async fn bytes_of(db: impl PgExecutor<'_>, user: Uuid) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COALESCE(sum(size), 0)::bigint FROM files WHERE user_id = $1")
        .bind(user)
        .fetch_one(db)
        .await
}

/// Up to `limit` objects waiting to be deleted from storage, oldest first.
pub async fn garbage(db: impl PgExecutor<'_>, limit: i64) -> Result<Vec<String>, sqlx::Error> {
    sqlx::query_scalar("SELECT object FROM storage_garbage ORDER BY queued_at, object LIMIT $1")
        .bind(limit)
        .fetch_all(db)
        .await
}

/// These objects are gone from storage.
pub async fn collected(db: impl PgExecutor<'_>, objects: &[String]) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM storage_garbage WHERE object = ANY($1)")
        .bind(objects)
        .execute(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_name_keeps_its_last_component_and_loses_what_is_not_text() {
        assert_eq!(clean_name("../../etc/passwd").as_deref(), Some("passwd"));
        assert_eq!(
            clean_name("C:\\Users\\me\\사진.jpg").as_deref(),
            Some("사진.jpg")
        );
        assert_eq!(clean_name("a\u{0}b\r\n<c>.png").as_deref(), Some("abc.png"));
        assert_eq!(clean_name(".hidden").as_deref(), Some("hidden"));
        assert_eq!(clean_name("dir/"), None);
        assert_eq!(clean_name(" .. "), None);
        assert_eq!(clean_name(&"가".repeat(300)).unwrap().chars().count(), 255);
    }
}
