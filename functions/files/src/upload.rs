//! `POST /upload/profile` and `POST /upload/attachment`: one multipart field `file`, read
//! with its limit counted as it arrives (413 the moment it is crossed), judged by its bytes
//! (415), its pixel count read from the header before anything decodes it (413), its
//! metadata removed, stored under a generated name.

use axum::extract::State;
use axum::extract::multipart::{Multipart, MultipartError, MultipartRejection};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use serde::Serialize;
use serde_json::json;
use shared::domain::files::{self, File, FileRow, Kind, NewFile, Status};
use shared::envelope::Envelope;
use shared::events::image::ImageEvent;
use shared::http::{AuthUser, PerUser};
use shared::media;
use shared::{ApiError, ApiResult, AppState, ErrorCode, Reply};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::FileUpload;

/// What a kind of upload accepts.
pub struct Rules {
    pub kind: Kind,
    pub max_bytes: usize,
    pub accepts: &'static [media::Kind],
    /// Width × height an image may declare: a decoder would need 4 bytes for each, and a
    /// small file can declare billions (a decompression bomb).
    pub max_pixels: u64,
}

pub const PROFILE: Rules = Rules {
    kind: Kind::Profile,
    max_bytes: 5 * 1024 * 1024,
    accepts: &[media::Kind::Jpeg, media::Kind::Png, media::Kind::Webp],
    max_pixels: 40_000_000,
};

/// Attachment images are not decoded here, but whoever opens one decodes it: the same
/// bound on pixels protects them.
pub const ATTACHMENT: Rules = Rules {
    kind: Kind::Attachment,
    max_bytes: 10 * 1024 * 1024,
    accepts: &[
        media::Kind::Jpeg,
        media::Kind::Png,
        media::Kind::Webp,
        media::Kind::Gif,
        media::Kind::Pdf,
    ],
    max_pixels: 40_000_000,
};

/// The form of an upload: one part named `file`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// `202`: the picture is stored; the image worker is making its copies.
#[derive(Debug, Serialize, ToSchema)]
pub struct Processing {
    pub file: File,
    /// `processing`.
    pub status: Status,
}

/// Upload a profile picture (multipart field `file`: JPEG, PNG or WebP, ≤ 5 MiB, ≤ 40
/// megapixels). The image worker makes 64, 256 and 512 px WebP copies and shows the picture
/// on the profile; `GET /files/{id}` tells when it is `ready` (or `failed`).
#[utoipa::path(post, path = "/upload/profile", tag = "files", security(("bearer" = [])),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 202, description = "Stored; processing", body = Envelope<Processing>),
        (status = 413, description = "PAYLOAD_TOO_LARGE: over 5 MiB or 40 megapixels, or over your storage quota (`details.reason: \"storage quota\"`)"),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE: not JPEG, PNG or WebP by its bytes"),
        (status = 422, description = "VALIDATION_ERROR: no `file` field, or a damaged image"),
        (status = 429, description = "RATE_LIMITED: RATE_LIMIT_FILE_UPLOAD per user"),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn profile(
    State(state): State<AppState>,
    limit: PerUser<FileUpload>,
    user: AuthUser,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> (PerUser<FileUpload>, Response) {
    let expected = body_length(&headers);
    let response = match store(&state, user.id, &PROFILE, expected, multipart).await {
        Ok(row) => match ask_for_copies(&state, &row).await {
            Ok(()) => (
                StatusCode::ACCEPTED,
                Reply::ok(Processing {
                    file: row.to_file(&state.links, chrono::Utc::now()),
                    status: Status::Processing,
                }),
            )
                .into_response(),
            Err(e) => e.into_response(),
        },
        Err(e) => e.into_response(),
    };
    (limit, response)
}

/// Upload an attachment (multipart field `file`: JPEG, PNG, WebP, GIF or PDF, ≤ 10 MiB).
#[utoipa::path(post, path = "/upload/attachment", tag = "files", security(("bearer" = [])),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses(
        (status = 201, description = "Stored", body = Envelope<File>),
        (status = 413, description = "PAYLOAD_TOO_LARGE: over 10 MiB, an image over 40 megapixels, or over your storage quota (`details.reason: \"storage quota\"`)"),
        (status = 415, description = "UNSUPPORTED_MEDIA_TYPE: not an accepted type by its bytes"),
        (status = 422, description = "VALIDATION_ERROR: no `file` field, or a damaged file"),
        (status = 429, description = "RATE_LIMITED: RATE_LIMIT_FILE_UPLOAD per user"),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn attachment(
    State(state): State<AppState>,
    limit: PerUser<FileUpload>,
    user: AuthUser,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> (PerUser<FileUpload>, Response) {
    let expected = body_length(&headers);
    let response = match store(&state, user.id, &ATTACHMENT, expected, multipart).await {
        Ok(row) => Reply::created(row.to_file(&state.links, chrono::Utc::now())).into_response(),
        Err(e) => e.into_response(),
    };
    (limit, response)
}

/// Reads, judges, cleans and stores the upload, then records it.
async fn store(
    state: &AppState,
    user: Uuid,
    rules: &Rules,
    expected: usize,
    multipart: Result<Multipart, MultipartRejection>,
) -> ApiResult<FileRow> {
    let multipart = multipart.map_err(|_| {
        ApiError::with_details(
            ErrorCode::UnsupportedMediaType,
            json!({ "expected": "multipart/form-data with a field named file" }),
        )
    })?;
    let (data, name) = read_file(multipart, rules.max_bytes, expected).await?;
    let (kind, data) = judge(rules, data)?;
    let id = Uuid::now_v7();
    let object = files::object_name(id);
    let size = data.len() as i64;
    // Checked before storing, not locked: uploads racing each other may pass the quota by
    // what they carry (at most the upload limit's worth).
    let used = files::bytes_of(&state.db, user).await?;
    let quota = state.settings.storage.quota_bytes;
    if used + size > quota {
        return Err(ApiError::with_details(
            ErrorCode::PayloadTooLarge,
            json!({ "reason": "storage quota", "quota_bytes": quota, "used_bytes": used }),
        ));
    }
    let store = state.storage.store().await?;
    store.put(&object, data, kind.content_type()).await?;
    let recorded = files::record(
        &state.db,
        NewFile {
            id,
            user_id: user,
            kind: rules.kind,
            content_type: kind.content_type(),
            size,
            object: &object,
            status: match rules.kind {
                Kind::Profile => Status::Processing,
                Kind::Attachment => Status::Ready,
            },
            original_name: name.as_deref(),
        },
    )
    .await;
    if recorded.is_err() {
        // Unrecorded, the object would belong to no one.
        if let Err(e) = store.delete(&object).await {
            tracing::warn!(error = %shared::error::ErrorChain(&e), "an unrecorded upload stays in storage");
        }
    }
    let row = recorded?;
    tracing::info!(file_id = %row.id, kind = ?rules.kind, size, "file stored");
    Ok(row)
}

/// The bytes of the multipart field `file` (other fields are skipped), refused with 413 as
/// soon as they pass `max` bytes; its client-side name, cleaned.
async fn read_file(
    mut multipart: Multipart,
    max: usize,
    expected: usize,
) -> ApiResult<(BytesMut, Option<String>)> {
    while let Some(mut field) = multipart.next_field().await.map_err(malformed)? {
        if field.name() != Some("file") {
            continue;
        }
        let name = field.file_name().and_then(files::clean_name);
        // Sized once from the body's length (bounded by the limit): growing by doubling
        // would hold up to twice the file.
        let mut data = BytesMut::with_capacity(expected.min(max + 1));
        while let Some(chunk) = field.chunk().await.map_err(malformed)? {
            if data.len() + chunk.len() > max {
                return Err(too_large(json!({ "max_bytes": max })));
            }
            data.extend_from_slice(&chunk);
        }
        if data.is_empty() {
            return Err(ApiError::field("file", "is empty"));
        }
        return Ok((data, name));
    }
    Err(ApiError::field("file", "required"))
}

/// What the bytes are (415 if not accepted), whether an image's declared size is
/// acceptable (413) and its structure holds (422); the bytes without metadata.
fn judge(rules: &Rules, mut data: BytesMut) -> ApiResult<(media::Kind, Bytes)> {
    let unsupported = || {
        ApiError::with_details(
            ErrorCode::UnsupportedMediaType,
            json!({ "accepted": rules.accepts.iter().map(|k| k.content_type()).collect::<Vec<_>>() }),
        )
    };
    let kind = media::Kind::sniff(&data)
        .filter(|k| rules.accepts.contains(k))
        .ok_or_else(unsupported)?;
    if kind.is_image() {
        let pixels =
            media::pixels(&data).ok_or_else(|| ApiError::field("file", "is a damaged image"))?;
        if pixels > rules.max_pixels {
            return Err(too_large(json!({ "max_pixels": rules.max_pixels })));
        }
    } else if !media::is_pdf(&data) {
        return Err(unsupported());
    }
    // In place: the upload is never held twice.
    let kept = media::strip_metadata(kind, &mut data)
        .map_err(|_| ApiError::field("file", "is a damaged image"))?;
    data.truncate(kept);
    Ok((kind, data.freeze()))
}

/// The body's declared length (a chunked body declares none).
fn body_length(headers: &HeaderMap) -> usize {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn too_large(details: serde_json::Value) -> ApiError {
    ApiError::with_details(ErrorCode::PayloadTooLarge, details)
}

/// A body that ends early or breaks the multipart format; over the route's limit, 413.
fn malformed(e: MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        too_large(json!({}))
    } else {
        ApiError::bad_request("malformed multipart body")
    }
}

/// Tells the image worker about a new picture. Without the event nothing would finish it:
/// when it cannot be published the upload is undone and the client may try again.
async fn ask_for_copies(state: &AppState, row: &FileRow) -> ApiResult<()> {
    let event = ImageEvent::Profile {
        file_id: row.id,
        bucket: state.settings.storage.bucket.clone().unwrap_or_default(),
        object: row.object.clone(),
    };
    let topic = &state.settings.pubsub.topic_image_resize;
    if let Err(e) = state.events.publish(topic, &event).await {
        files::delete_own(&state.db, row.id, row.user_id).await?;
        return Err(e);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn judged(rules: &Rules, data: &[u8]) -> Result<media::Kind, u16> {
        judge(rules, BytesMut::from(data))
            .map(|(k, _)| k)
            .map_err(|e| e.error_code().status().as_u16())
    }

    /// A PNG header declaring `w` × `h` (nothing after it).
    fn png_header(w: u32, h: u32) -> Vec<u8> {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        png.extend_from_slice(&w.to_be_bytes());
        png.extend_from_slice(&h.to_be_bytes());
        png.extend_from_slice(&[8, 6, 0, 0, 0, 0, 0, 0, 0]);
        png
    }

    #[test]
    fn a_type_is_what_the_bytes_say_and_what_the_kind_accepts() {
        assert_eq!(judged(&PROFILE, b"GIF89a\x01\0\x01\0\0\0\0;"), Err(415));
        assert_eq!(judged(&PROFILE, b"%PDF-1.4\n%%EOF"), Err(415));
        assert_eq!(judged(&PROFILE, b"<svg onload=alert(1)>"), Err(415));
        assert_eq!(
            judged(&ATTACHMENT, b"%PDF-1.4\n1 0 obj\n%%EOF\n"),
            Ok(media::Kind::Pdf)
        );
        assert_eq!(
            judged(&ATTACHMENT, b"%PDF-1.4\n<script>"),
            Err(415),
            "no trailer"
        );
    }

    #[test]
    fn a_header_declaring_too_many_pixels_is_refused_unread() {
        assert_eq!(judged(&PROFILE, &png_header(20_000, 20_000)), Err(413));
        assert_eq!(judged(&ATTACHMENT, &png_header(20_000, 20_000)), Err(413));
        // Within bounds, the header alone is a damaged PNG (no IEND).
        assert_eq!(judged(&PROFILE, &png_header(100, 100)), Err(422));
    }
}
