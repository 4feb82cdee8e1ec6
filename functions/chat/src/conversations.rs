//! Conversations: create, list by recent activity, read with paging backwards, delete.

use axum::extract::State;
use serde::Deserialize;
use shared::envelope::Envelope;
use shared::http::{AuthUser, Json, Query, ResourceId};
use shared::pagination::{Keyset, Page, PageParams};
use shared::{ApiError, ApiResult, AppState, Reply};
use utoipa::IntoParams;
use uuid::Uuid;

use crate::model::{
    Conversation, ConversationDetail, ConversationRow, CreateConversation, MessageRow, TITLE,
    conversation_columns,
};

const LIST_SCOPE: &str = "conversations";

/// Start a conversation.
#[utoipa::path(post, path = "/conversations", tag = "chat", security(("bearer" = [])), request_body = CreateConversation,
    responses((status = 201, description = "The conversation", body = Envelope<Conversation>), (status = 422, description = "VALIDATION_ERROR")))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    Json(body): Json<CreateConversation>,
) -> ApiResult<Reply<Conversation>> {
    let title =
        crate::model::title(body.title).map_err(|problem| ApiError::field("title", problem))?;
    let shown = title.as_deref().unwrap_or("새 대화");
    let row: ConversationRow = sqlx::query_as(concat!(
        "INSERT INTO conversations (id, user_id, title, title_from_message) VALUES ($1, $2, $3, $4) RETURNING ",
        conversation_columns!()
    ))
    .bind(Uuid::now_v7())
    .bind(user.id)
    .bind(state.keyring.seal(TITLE, user.id, shown))
    .bind(title.is_none())
    .fetch_one(&state.db)
    .await?;
    Ok(Reply::created(row.open(&state.keyring, user.id)?))
}

/// Your conversations, most recent activity first.
#[utoipa::path(get, path = "/conversations", tag = "chat", security(("bearer" = [])), params(PageParams),
    responses((status = 200, description = "A page of conversations", body = Envelope<Page<Conversation>>)))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(page): Query<PageParams>,
) -> ApiResult<Reply<Page<Conversation>>> {
    let limit = page.limit()?;
    let after: Option<Keyset> = page.position(&state.cursors, LIST_SCOPE)?;
    let rows: Vec<ConversationRow> = sqlx::query_as(concat!(
        "SELECT ",
        conversation_columns!(),
        " FROM conversations
         WHERE user_id = $1 AND ($2::timestamptz IS NULL OR (last_message_at, id) < ($2, $3))
         ORDER BY last_message_at DESC, id DESC LIMIT $4"
    ))
    .bind(user.id)
    .bind(after.map(|p| p.at))
    .bind(after.map(|p| p.id))
    .bind(i64::from(limit) + 1)
    .fetch_all(&state.db)
    .await?;
    let page = Page::from_rows(rows, limit, &state.cursors, LIST_SCOPE, |c| Keyset {
        at: c.last_message_at,
        id: c.id,
    });
    Ok(Reply::ok(
        page.try_map(|row| row.open(&state.keyring, user.id))?,
    ))
}

/// The user's conversation, or 404 (someone else's too).
async fn owned(state: &AppState, user: &AuthUser, id: Uuid) -> ApiResult<Conversation> {
    let row: ConversationRow = sqlx::query_as(concat!(
        "SELECT ",
        conversation_columns!(),
        " FROM conversations WHERE id = $1 AND user_id = $2"
    ))
    .bind(id)
    .bind(user.id)
    .fetch_optional(&state.db)
    .await?
    .ok_or_else(ApiError::not_found)?;
    Ok(row.open(&state.keyring, user.id)?)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessagesParams {
    /// `next_cursor` of the previous answer: messages older than those.
    before: Option<String>,
    /// 1..=100, default 50.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
}

/// A conversation with its newest messages (oldest to newest); older ones with `before`.
#[utoipa::path(get, path = "/conversations/{id}", tag = "chat", security(("bearer" = [])), params(("id" = Uuid, Path), MessagesParams),
    responses((status = 200, description = "The conversation and messages", body = Envelope<ConversationDetail>), (status = 404, description = "NOT_FOUND")))]
#[tracing::instrument(skip_all, fields(user_id = %user.id, conversation_id = %id))]
pub async fn get(
    State(state): State<AppState>,
    user: AuthUser,
    ResourceId(id): ResourceId,
    Query(params): Query<MessagesParams>,
) -> ApiResult<Reply<ConversationDetail>> {
    let page = PageParams {
        limit: Some(params.limit.unwrap_or(50)),
        cursor: params.before,
    };
    let limit = page.limit()?;
    // A cursor belongs to one conversation's messages.
    let scope = format!("messages:{id}");
    let before: Option<Keyset> = page.position(&state.cursors, &scope)?;
    let conversation = owned(&state, &user, id).await?;
    let rows: Vec<MessageRow> = sqlx::query_as(
        "SELECT id, role, content, provider, created_at FROM chat_messages
         WHERE conversation_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
         ORDER BY created_at DESC, id DESC LIMIT $4",
    )
    .bind(id)
    .bind(before.map(|p| p.at))
    .bind(before.map(|p| p.id))
    .bind(i64::from(limit) + 1)
    .fetch_all(&state.db)
    .await?;
    let page = Page::from_rows(rows, limit, &state.cursors, &scope, |m| Keyset {
        at: m.created_at,
        id: m.id,
    });
    let page = page.try_map(|row| row.open(&state.keyring, user.id))?;
    let mut messages = page.items;
    messages.reverse();
    Ok(Reply::ok(ConversationDetail {
        conversation,
        messages,
        next_cursor: page.next_cursor,
    }))
}

/// Delete a conversation and its messages.
#[utoipa::path(delete, path = "/conversations/{id}", tag = "chat", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, description = "Deleted", body = Envelope<Option<bool>>), (status = 404, description = "NOT_FOUND")))]
#[tracing::instrument(skip_all, fields(user_id = %user.id, conversation_id = %id))]
pub async fn delete(
    State(state): State<AppState>,
    user: AuthUser,
    ResourceId(id): ResourceId,
) -> ApiResult<Reply<()>> {
    let deleted = sqlx::query("DELETE FROM conversations WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user.id)
        .execute(&state.db)
        .await?
        .rows_affected();
    if deleted == 0 {
        return Err(ApiError::not_found());
    }
    Ok(Reply::empty())
}
