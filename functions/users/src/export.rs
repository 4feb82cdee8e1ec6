//! `GET /me/export`: everything the service holds about the person, as one JSON document
//! streamed from one consistent snapshot (docs/decisions.md, "Privacy").
//!
//! Each section is one statement whose rows PostgreSQL shapes as JSON, read as a stream and
//! written out in chunks of about 32 KiB, so memory stays flat whatever the person wrote; the
//! sealed text (notes, messages, titles) is opened here, as the functions that own it would.

use std::io;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use futures_util::TryStreamExt;
use serde_json::{Map, Value};
use shared::config::RateSpec;
use shared::domain::accounts;
use shared::domain::files::FileRow;
use shared::error::ErrorChain;
use shared::http::{AuthUser, PerUser, RouteLimit};
use shared::sealing::{Column, columns};
use shared::{ApiResult, AppState};
use sqlx::types::Json;
use sqlx::{PgConnection, Postgres, Transaction};
use tokio::sync::mpsc;
use uuid::Uuid;

/// The version of the document's shape.
pub const FORMAT: &str = "mindpause-export/1";
const CHUNK: usize = 32 * 1024;
/// How long a chunk may wait for the client to take it: the export holds a pooled connection
/// and its snapshot, which a client that stopped reading must not keep.
const STALLED: std::time::Duration = std::time::Duration::from_secs(15);

/// `RATE_LIMIT_EXPORT`: exports per person (each reads everything they have).
pub struct Export;

impl RouteLimit for Export {
    const NAME: &'static str = "export";
    const VAR: &'static str = "RATE_LIMIT_EXPORT";
    const DEFAULT: RateSpec = RateSpec::per_minutes(3, 60);
}

/// Everything we hold about you, as one JSON file (`profile`, `account` — your standing and
/// its dates —, `sign_in_methods`, `sessions`, `emotion_logs`, `conversations` with their
/// messages, `safety_events`, `challenges` with their check-ins, `notifications`, `posts`,
/// `comments` — anonymous ones too —, `likes`, and `files` with links valid for an hour).
#[utoipa::path(get, path = "/me/export", tag = "users", security(("bearer" = [])),
    responses(
        (status = 200, description = "application/json, streamed as an attachment: the document (not in the envelope)", body = Object),
        (status = 401, description = "UNAUTHORIZED"),
        (status = 429, description = "RATE_LIMITED (RATE_LIMIT_EXPORT, 3 an hour)"),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn export(
    State(state): State<AppState>,
    limit: PerUser<Export>,
    user: AuthUser,
) -> (PerUser<Export>, Response) {
    let response = match start(&state, user.id).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    };
    (limit, response)
}

/// Opens the snapshot and reads the profile before answering, so that a failure there is
/// an ordinary error; the rest streams.
async fn start(state: &AppState, user: Uuid) -> ApiResult<Response> {
    let mut tx = state.db.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    let profile = accounts::find(&mut tx, user)
        .await?
        .ok_or_else(shared::ApiError::not_found)?
        .to_user(&state.links);
    // What the profile does not show: the account's standing and its dates (a suspension's
    // reason included: it is about them).
    let account: Value = sqlx::query_scalar(
        "SELECT json_build_object('status', status, 'suspended_until', suspended_until,
                                  'suspension_reason', suspension_reason,
                                  'email_verified_at', email_verified_at,
                                  'last_active_at', last_active_at,
                                  'created_at', created_at, 'updated_at', updated_at)
         FROM users WHERE id = $1",
    )
    .bind(user)
    .fetch_one(&mut *tx)
    .await?;
    let now = Utc::now();
    let mut head = Map::new();
    head.insert("format".into(), FORMAT.into());
    head.insert("exported_at".into(), Value::String(now.to_rfc3339()));
    head.insert(
        "profile".into(),
        serde_json::to_value(profile).expect("a user serializes"),
    );
    head.insert("account".into(), account);
    let head = serde_json::to_vec(&Value::Object(head)).expect("JSON values serialize");

    let (sender, receiver) = mpsc::channel::<Result<Bytes, io::Error>>(4);
    let state = state.clone();
    tokio::spawn(async move {
        let mut out = Out {
            sender,
            buf: head[..head.len() - 1].to_vec(),
        };
        if let Err(e) = write_sections(&state, &mut tx, user, &mut out).await {
            match &e {
                Failure::Database(e) => {
                    tracing::error!(error = %ErrorChain(e), "the export stopped")
                }
                Failure::Sealed(e) => tracing::error!(error = %e, "the export stopped"),
                Failure::Gone => {}
            }
            // The body ends in error: the client sees a broken download, never a short file.
            let _ = out
                .sender
                .send(Err(io::Error::other("export failed")))
                .await;
        }
    });
    let body = Body::from_stream(futures_util::stream::unfold(receiver, |mut r| async {
        r.recv().await.map(|chunk| (chunk, r))
    }));
    let disposition = format!(
        "attachment; filename=\"mindpause-export-{}.json\"",
        now.format("%Y-%m-%d")
    );
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_str(&disposition).expect("an ASCII header"),
    );
    Ok(response)
}

enum Failure {
    Database(sqlx::Error),
    /// A stored value does not open (never the bytes in the log).
    Sealed(shared::sealing::SealError),
    /// The client went away or stopped reading.
    Gone,
}

impl From<sqlx::Error> for Failure {
    fn from(e: sqlx::Error) -> Self {
        Failure::Database(e)
    }
}

impl From<shared::sealing::SealError> for Failure {
    fn from(e: shared::sealing::SealError) -> Self {
        Failure::Sealed(e)
    }
}

struct Out {
    sender: mpsc::Sender<Result<Bytes, io::Error>>,
    buf: Vec<u8>,
}

impl Out {
    async fn write(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        self.buf.extend_from_slice(bytes);
        if self.buf.len() >= CHUNK {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), Failure> {
        let chunk = Bytes::from(std::mem::take(&mut self.buf));
        match tokio::time::timeout(STALLED, self.sender.send(Ok(chunk))).await {
            Ok(Ok(())) => Ok(()),
            // Gone, or not reading: either way the connection goes back to the pool.
            Ok(Err(_)) | Err(_) => Err(Failure::Gone),
        }
    }
}

/// A sealed value the row carries beside its JSON: where it goes and how it was sealed.
#[derive(Clone, Copy)]
enum Sealed {
    None,
    /// `field` of the row, from the second column.
    Field(&'static str, Column),
    /// The second column into `field`, and the third (an array) into `item` of each element
    /// of `list`, in order.
    Nested {
        field: &'static str,
        column: Column,
        list: &'static str,
        item: &'static str,
        item_column: Column,
    },
}

/// A section: its name, its statement (`$1` the person; columns: the JSON object, a sealed
/// value or NULL, an array of sealed values or NULL) and its sealed text.
struct Section {
    name: &'static str,
    sql: &'static str,
    sealed: Sealed,
}

const SECTIONS: &[Section] = &[
    Section {
        name: "sign_in_methods",
        sql: "SELECT json_build_object('provider', provider, 'email', email, 'linked_at', created_at),
                     NULL::bytea, NULL::bytea[]
              FROM user_identities WHERE user_id = $1 ORDER BY created_at, provider",
        sealed: Sealed::None,
    },
    Section {
        name: "sessions",
        sql: "SELECT json_build_object('id', id, 'created_at', created_at, 'last_used_at', last_used_at,
                                       'expires_at', expires_at, 'revoked_at', revoked_at,
                                       'revoked_reason', revoked_reason),
                     NULL::bytea, NULL::bytea[]
              FROM sessions WHERE user_id = $1 ORDER BY created_at, id",
        sealed: Sealed::None,
    },
    Section {
        name: "emotion_logs",
        sql: "SELECT json_build_object('id', id, 'emotion', emotion, 'intensity', intensity, 'tags', tags,
                                       'recorded_at', recorded_at, 'created_at', created_at,
                                       'updated_at', updated_at),
                     note, NULL::bytea[]
              FROM emotion_logs WHERE user_id = $1 ORDER BY recorded_at, id",
        sealed: Sealed::Field("note", columns::EMOTION_NOTE),
    },
    Section {
        name: "conversations",
        sql: "SELECT json_build_object('id', c.id, 'created_at', c.created_at, 'updated_at', c.updated_at,
                                       'last_message_at', c.last_message_at,
                                       'messages', COALESCE(json_agg(json_build_object(
                                           'id', m.id, 'role', m.role, 'provider', m.provider,
                                           'created_at', m.created_at) ORDER BY m.created_at, m.id)
                                           FILTER (WHERE m.id IS NOT NULL), '[]')),
                     c.title,
                     COALESCE(array_agg(m.content ORDER BY m.created_at, m.id)
                              FILTER (WHERE m.id IS NOT NULL), '{}')
              FROM conversations c LEFT JOIN chat_messages m ON m.conversation_id = c.id
              WHERE c.user_id = $1 GROUP BY c.id ORDER BY c.created_at, c.id",
        sealed: Sealed::Nested {
            field: "title",
            column: columns::CONVERSATION_TITLE,
            list: "messages",
            item: "content",
            item_column: columns::CHAT_MESSAGE,
        },
    },
    Section {
        name: "safety_events",
        sql: "SELECT json_build_object('created_at', created_at, 'conversation_id', conversation_id,
                                       'message_id', message_id, 'sources', sources),
                     NULL::bytea, NULL::bytea[]
              FROM safety_events WHERE user_id = $1 ORDER BY created_at, id",
        sealed: Sealed::None,
    },
    Section {
        name: "challenges",
        sql: "SELECT json_build_object('id', id, 'title', title, 'description', description,
                                       'target_days', target_days, 'start_date', start_date,
                                       'status', status, 'progress_days', progress_days,
                                       'created_at', created_at, 'updated_at', updated_at,
                                       'check_ins', COALESCE((SELECT json_agg(k.day ORDER BY k.day)
                                           FROM challenge_check_ins k WHERE k.challenge_id = c.id), '[]')),
                     NULL::bytea, NULL::bytea[]
              FROM challenges c WHERE user_id = $1 ORDER BY created_at, id",
        sealed: Sealed::None,
    },
    Section {
        name: "notifications",
        sql: "SELECT json_build_object('id', id, 'kind', kind, 'title', title, 'body', body, 'data', data,
                                       'read_at', read_at, 'created_at', created_at),
                     NULL::bytea, NULL::bytea[]
              FROM notifications WHERE user_id = $1 ORDER BY created_at, id",
        sealed: Sealed::None,
    },
    Section {
        name: "posts",
        sql: "SELECT json_build_object('id', id, 'title', title, 'content', content, 'category', category,
                                       'is_anonymous', is_anonymous, 'like_count', like_count,
                                       'comment_count', comment_count, 'created_at', created_at,
                                       'updated_at', updated_at, 'deleted_at', deleted_at),
                     NULL::bytea, NULL::bytea[]
              FROM posts WHERE author_id = $1 ORDER BY created_at, id",
        sealed: Sealed::None,
    },
    Section {
        name: "comments",
        sql: "SELECT json_build_object('id', id, 'post_id', post_id, 'content', content,
                                       'is_anonymous', is_anonymous, 'created_at', created_at,
                                       'updated_at', updated_at, 'deleted_at', deleted_at),
                     NULL::bytea, NULL::bytea[]
              FROM comments WHERE author_id = $1 ORDER BY created_at, id",
        sealed: Sealed::None,
    },
    Section {
        name: "likes",
        sql: "SELECT json_build_object('post_id', post_id, 'liked_at', liked_at, 'unliked_at', unliked_at),
                     NULL::bytea, NULL::bytea[]
              FROM post_likes WHERE user_id = $1 ORDER BY changed_at, post_id",
        sealed: Sealed::None,
    },
];

type Row = (
    Json<Map<String, Value>>,
    Option<Vec<u8>>,
    Option<Vec<Vec<u8>>>,
);

async fn write_sections(
    state: &AppState,
    tx: &mut Transaction<'static, Postgres>,
    user: Uuid,
    out: &mut Out,
) -> Result<(), Failure> {
    for section in SECTIONS {
        out.write(format!(",\"{}\":[", section.name).as_bytes())
            .await?;
        let mut rows = sqlx::query_as::<_, Row>(section.sql)
            .bind(user)
            .fetch(&mut **tx);
        let mut first = true;
        while let Some((Json(mut object), sealed, list)) = rows.try_next().await? {
            open(state, user, section.sealed, &mut object, sealed, list)?;
            if !first {
                out.write(b",").await?;
            }
            first = false;
            out.write(&serde_json::to_vec(&object).expect("JSON values serialize"))
                .await?;
        }
        drop(rows);
        out.write(b"]").await?;
    }
    files(state, tx, user, out).await?;
    out.write(b"}").await?;
    out.flush().await
}

/// Puts the opened text where the section says.
fn open(
    state: &AppState,
    user: Uuid,
    how: Sealed,
    object: &mut Map<String, Value>,
    sealed: Option<Vec<u8>>,
    list: Option<Vec<Vec<u8>>>,
) -> Result<(), Failure> {
    let keys = &state.keyring;
    match how {
        Sealed::None => {}
        Sealed::Field(field, column) => {
            let text = keys.open_opt(column, user, sealed.as_deref())?;
            object.insert(field.into(), text.map_or(Value::Null, Value::String));
        }
        Sealed::Nested {
            field,
            column,
            list: name,
            item,
            item_column,
        } => {
            let text = keys.open_opt(column, user, sealed.as_deref())?;
            object.insert(field.into(), text.map_or(Value::Null, Value::String));
            if let Some(Value::Array(elements)) = object.get_mut(name) {
                for (element, value) in elements.iter_mut().zip(list.unwrap_or_default()) {
                    if let Value::Object(element) = element {
                        let text = keys.open(item_column, user, &value)?;
                        element.insert(item.into(), Value::String(text));
                    }
                }
            }
        }
    }
    Ok(())
}

/// The person's files with links valid for an hour or more (as `GET /files/{id}` shows them).
async fn files(
    state: &AppState,
    db: &mut PgConnection,
    user: Uuid,
    out: &mut Out,
) -> Result<(), Failure> {
    let rows: Vec<FileRow> = sqlx::query_as(
        "SELECT id, user_id, kind, content_type, size, object, variants, status, original_name, created_at
         FROM files WHERE user_id = $1 ORDER BY created_at, id",
    )
    .bind(user)
    .fetch_all(db)
    .await?;
    let now = Utc::now();
    let files: Vec<_> = rows.iter().map(|f| f.to_file(&state.links, now)).collect();
    out.write(b",\"files\":").await?;
    out.write(&serde_json::to_vec(&files).expect("files serialize"))
        .await
}
