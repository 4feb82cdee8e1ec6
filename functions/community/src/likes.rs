//! Liking a post, idempotently both ways (`shared::domain::community::likes`). A post's
//! author hears of a like once per person, in the like's own statement.

use axum::extract::State;
use shared::domain::notifications::Localized;
use shared::envelope::Envelope;
use shared::http::{AuthUser, ResourceId};
use shared::{ApiError, ApiResult, AppState, Reply};

use shared::domain::community::LikeState;
use shared::domain::community::likes;

/// Like a post (again: nothing changes).
#[utoipa::path(post, path = "/posts/{id}/like", tag = "community", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, description = "`liked: true` and the count", body = Envelope<LikeState>), (status = 404, description = "NOT_FOUND")))]
#[tracing::instrument(skip_all, fields(post_id = %id))]
pub async fn like(
    State(state): State<AppState>,
    user: AuthUser,
    ResourceId(id): ResourceId,
) -> ApiResult<Reply<LikeState>> {
    let title = Localized {
        ko: "누군가 회원님의 글을 좋아해요",
        en: "Someone liked your post",
    };
    let like_count = likes::like(&state.db, user.id, id, title).await?;
    Ok(Reply::ok(LikeState {
        liked: true,
        like_count: like_count.ok_or_else(ApiError::not_found)?,
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
