//! Removing community content: a soft delete through the content's owner (gone for
//! everyone, counts corrected), the author told why (`system` notification), and the audit
//! record — all in one transaction.

use axum::extract::State;
use serde::Deserialize;
use serde_json::json;
use shared::domain::community::{self, Removed};
use shared::domain::notifications::{self, Kind, Localized};
use shared::envelope::Envelope;
use shared::http::{Json, ResourceId};
use shared::{ApiError, ApiResult, AppState, Fields, Reply};
use sqlx::PgConnection;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::Admin;
use crate::audit::{self, Action};

/// `{reason?}` (at most 500 characters): told to the author and recorded.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Removal {
    #[serde(default)]
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

fn reason(body: Option<Json<Removal>>) -> ApiResult<Option<String>> {
    let mut f = Fields::default();
    let reason = f.check("reason", crate::reason(body.unwrap_or_default().0.reason));
    f.finish(reason)
}

/// What a moderator removes.
#[derive(Clone, Copy)]
enum Target {
    Post,
    Comment,
}

/// The removal, the author told, the record: one transaction.
async fn remove(
    state: &AppState,
    admin: &Admin,
    target: Target,
    id: Uuid,
    body: Option<Json<Removal>>,
) -> ApiResult<Reply<()>> {
    let reason = reason(body)?;
    let mut tx = state.db.begin().await?;
    let removed = match target {
        Target::Post => community::posts::remove(&mut tx, id).await?,
        Target::Comment => community::comments::remove(&mut tx, id).await?,
    }
    .ok_or_else(ApiError::not_found)?;
    tell(&mut tx, &removed, target, id, reason.as_deref()).await?;
    let action = match target {
        Target::Post => Action::DeletePost,
        Target::Comment => Action::DeleteComment,
    };
    audit::record(&mut tx, admin.id, action, id, reason.as_deref()).await?;
    tx.commit().await?;
    Ok(Reply::empty())
}

/// Tells the author (if their account is still there) why their post or comment went.
async fn tell(
    db: &mut PgConnection,
    removed: &Removed,
    target: Target,
    id: Uuid,
    reason: Option<&str>,
) -> ApiResult<()> {
    let Some(author) = removed.author_id else {
        return Ok(());
    };
    let (ko, en, data) = match target {
        Target::Post => (
            "운영 정책에 따라 회원님의 글이 삭제되었어요",
            "A moderator removed your post",
            json!({ "post_id": id }),
        ),
        Target::Comment => (
            "운영 정책에 따라 회원님의 댓글이 삭제되었어요",
            "A moderator removed your comment",
            json!({ "comment_id": id }),
        ),
    };
    let body_ko = format!(
        "'{}': {}",
        removed.title,
        reason.unwrap_or("커뮤니티 가이드라인에 맞지 않는 내용이었어요.")
    );
    let body_en = format!(
        "'{}': {}",
        removed.title,
        reason.unwrap_or("It did not follow the community guidelines.")
    );
    notifications::notify(
        db,
        author,
        Kind::System,
        Localized { ko, en },
        Localized {
            ko: &body_ko,
            en: &body_en,
        },
        &data,
    )
    .await?;
    Ok(())
}

/// Remove a post.
#[utoipa::path(delete, path = "/posts/{id}", tag = "admin", security(("bearer" = [])), params(("id" = Uuid, Path)), request_body(content = Option<Removal>),
    responses((status = 200, description = "Removed", body = Envelope<Option<bool>>),
              (status = 403, description = "FORBIDDEN: not an admin"), (status = 404, description = "NOT_FOUND (or already removed)"),
              (status = 422, description = "VALIDATION_ERROR")))]
#[tracing::instrument(skip_all, fields(admin_id = %admin.id, post_id = %id))]
pub async fn delete_post(
    State(state): State<AppState>,
    admin: Admin,
    ResourceId(id): ResourceId,
    body: Option<Json<Removal>>,
) -> ApiResult<Reply<()>> {
    remove(&state, &admin, Target::Post, id, body).await
}

/// Remove a comment (its post's count drops).
#[utoipa::path(delete, path = "/comments/{id}", tag = "admin", security(("bearer" = [])), params(("id" = Uuid, Path)), request_body(content = Option<Removal>),
    responses((status = 200, description = "Removed", body = Envelope<Option<bool>>),
              (status = 403, description = "FORBIDDEN: not an admin"), (status = 404, description = "NOT_FOUND (or already removed)"),
              (status = 422, description = "VALIDATION_ERROR")))]
#[tracing::instrument(skip_all, fields(admin_id = %admin.id, comment_id = %id))]
pub async fn delete_comment(
    State(state): State<AppState>,
    admin: Admin,
    ResourceId(id): ResourceId,
    body: Option<Json<Removal>>,
) -> ApiResult<Reply<()>> {
    remove(&state, &admin, Target::Comment, id, body).await
}
