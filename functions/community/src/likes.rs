//! Liking a post, idempotently both ways (`shared::domain::community::likes`). A post's
//! author hears of a like once per person, in the like's transaction.

use axum::extract::State;
use serde_json::json;
use shared::domain::notifications::{self, Kind, Localized};
use shared::envelope::Envelope;
use shared::http::{AuthUser, ResourceId};
use shared::{ApiError, ApiResult, AppState, Reply};

use shared::domain::community::LikeState;
use shared::domain::community::likes::{self, Liked};

/// Like a post (again: nothing changes).
#[utoipa::path(post, path = "/posts/{id}/like", tag = "community", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, description = "`liked: true` and the count", body = Envelope<LikeState>), (status = 404, description = "NOT_FOUND")))]
#[tracing::instrument(skip_all, fields(post_id = %id))]
pub async fn like(
    State(state): State<AppState>,
    user: AuthUser,
    ResourceId(id): ResourceId,
) -> ApiResult<Reply<LikeState>> {
    let mut tx = state.db.begin().await?;
    let found = likes::like(&mut tx, user.id, id).await?;
    let Liked {
        author_id,
        title,
        like_count,
        added,
        liked_before,
    } = found.ok_or_else(ApiError::not_found)?;
    if !added {
        return Ok(Reply::ok(LikeState {
            liked: true,
            like_count,
        }));
    }
    if let Some(author) = author_id.filter(|a| !liked_before && *a != user.id) {
        notifications::notify(
            &mut tx,
            author,
            Kind::Like,
            Localized {
                ko: "누군가 회원님의 글을 좋아해요",
                en: "Someone liked your post",
            },
            Localized {
                ko: &title,
                en: &title,
            },
            &json!({ "post_id": id }),
        )
        .await?;
    }
    let like_count = likes::count(&mut tx, id).await?;
    tx.commit().await?;
    Ok(Reply::ok(LikeState {
        liked: true,
        like_count,
    }))
}

/// Take your like back (not liked: nothing changes).
#[utoipa::path(delete, path = "/posts/{id}/like", tag = "community", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, description = "`liked: false` and the count", body = Envelope<LikeState>), (status = 404, description = "NOT_FOUND")))]
#[tracing::instrument(skip_all, fields(post_id = %id))]
pub async fn unlike(
    State(state): State<AppState>,
    user: AuthUser,
    ResourceId(id): ResourceId,
) -> ApiResult<Reply<LikeState>> {
    let like_count = likes::unlike(&state.db, user.id, id).await?;
    Ok(Reply::ok(LikeState {
        liked: false,
        like_count: like_count.ok_or_else(ApiError::not_found)?,
    }))
}
