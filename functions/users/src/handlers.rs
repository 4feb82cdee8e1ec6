use axum::extract::State;
use shared::domain::email::{self, EmailRequest, Template};
use shared::domain::users::{self, Nickname, Password, User, UserRow};
use shared::domain::{journal, passwords, sessions};
use shared::envelope::Envelope;
use shared::http::{AuthUser, Json};
use shared::{ApiError, ApiResult, AppState, Fields, Reply, user_columns};

use crate::{ChangePassword, DeleteMe, TokensPayload, UpdateMe};
use shared::http::Patch;

/// The signed-in user.
#[utoipa::path(get, path = "/me", tag = "users", security(("bearer" = [])),
    responses((status = 200, description = "The user", body = Envelope<User>), (status = 401, description = "UNAUTHORIZED")))]
pub async fn me(State(state): State<AppState>, user: AuthUser) -> ApiResult<Reply<User>> {
    Ok(Reply::ok(
        users::current(&state.db, user.id).await?.to_user(),
    ))
}

/// Change nickname, bio, time zone or language; absent fields stay as they are.
#[utoipa::path(patch, path = "/me", tag = "users", security(("bearer" = [])), request_body = UpdateMe,
    responses(
        (status = 200, description = "The updated user", body = Envelope<User>),
        (status = 409, description = "NICKNAME_TAKEN"),
        (status = 422, description = "VALIDATION_ERROR"),
    ))]
pub async fn update_me(
    State(state): State<AppState>,
    user: AuthUser,
    Json(body): Json<UpdateMe>,
) -> ApiResult<Reply<User>> {
    let mut fields = Fields::default();
    let nickname = fields
        .check("nickname", body.nickname.clone().required())
        .flatten()
        .and_then(|n| fields.check("nickname", Nickname::parse(&n)));
    let bio = match &body.bio {
        Patch::Absent => None,
        Patch::Null => Some(None),
        Patch::Value(b) if b.trim().chars().count() > 200 => {
            fields.check("bio", Err("must be at most 200 characters"))
        }
        Patch::Value(b) => Some(Some(b.trim().to_owned()).filter(|b| !b.is_empty())),
    };
    let locale = match &body.locale {
        Patch::Absent => None,
        Patch::Value(l) if l == "ko" || l == "en" => Some(l.clone()),
        _ => fields.check("locale", Err("must be ko or en")),
    };
    let timezone = match &body.timezone {
        Patch::Absent => None,
        Patch::Value(tz) if users::is_time_zone(&state.db, tz).await? => Some(tz.clone()),
        _ => fields.check(
            "timezone",
            Err("must be an IANA time zone such as Asia/Seoul"),
        ),
    };
    fields.finish()?;

    let mut tx = state.db.begin().await?;
    let moves_days = timezone.is_some();
    let row: UserRow = sqlx::query_as(concat!(
        "UPDATE users SET
            nickname = COALESCE($2, nickname),
            bio = CASE WHEN $3 THEN $4 ELSE bio END,
            timezone = COALESCE($5, timezone),
            locale = COALESCE($6, locale),
            updated_at = now()
         WHERE id = $1 RETURNING ",
        user_columns!()
    ))
    .bind(user.id)
    .bind(nickname.as_ref().map(Nickname::as_str))
    .bind(bio.is_some())
    .bind(bio.flatten())
    .bind(timezone)
    .bind(locale)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(ApiError::unauthorized)?;
    // The journal's daily rollup is kept in local days: a new time zone moves them.
    if moves_days {
        journal::rebuild(&mut tx, user.id).await?;
    }
    tx.commit().await?;
    if moves_days {
        journal::invalidate_stats(&state.cache, user.id).await?;
    }
    Ok(Reply::ok(row.to_user()))
}

/// Change the password. Other sessions are signed out and access tokens issued before are
/// refused; this session continues with the tokens returned.
#[utoipa::path(patch, path = "/me/password", tag = "users", security(("bearer" = [])), request_body = ChangePassword,
    responses(
        (status = 200, description = "Changed; fresh tokens for this session", body = Envelope<TokensPayload>),
        (status = 422, description = "VALIDATION_ERROR: wrong current_password or weak new_password"),
    ))]
pub async fn change_password(
    State(state): State<AppState>,
    user: AuthUser,
    Json(body): Json<ChangePassword>,
) -> ApiResult<Reply<TokensPayload>> {
    let row = users::current(&state.db, user.id).await?;
    let mut fields = Fields::default();
    let new_password = fields.check("new_password", Password::parse(&body.new_password));
    if !passwords::verify(&body.current_password, row.password_hash.as_deref()).await? {
        fields.add("current_password", "is incorrect");
    } else if body.current_password == body.new_password {
        fields.add("new_password", "must differ from the current password");
    }
    fields.finish()?;
    let new_password = new_password.expect("checked above");
    let hash = passwords::hash(&new_password).await?;

    let mut tx = state.db.begin().await?;
    sqlx::query("UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1")
        .bind(user.id)
        .bind(&hash)
        .execute(&mut *tx)
        .await?;
    let valid_after = sessions::invalidate_access_tokens(&mut tx, user.id).await?;
    let revoked =
        sessions::revoke_all(&mut tx, user.id, Some(user.session_id), "password_change").await?;
    let tokens = sessions::reissue(&state, &mut tx, user.id, row.role, user.session_id).await?;
    tx.commit().await?;
    sessions::close_gates(&state, &revoked, sessions::Gate::Revoked).await?;
    sessions::open_gate(&state, user.session_id, valid_after).await?;

    let request = EmailRequest {
        template: Template::PasswordChanged,
        to: row.email.clone(),
        locale: row.locale.clone(),
        params: serde_json::Map::from_iter([("nickname".to_owned(), row.nickname.clone().into())]),
    };
    email::request(&state, request).await;
    Ok(Reply::ok(TokensPayload { tokens }))
}

/// Delete the account and the person's data; community posts stay as "탈퇴한 사용자".
#[utoipa::path(delete, path = "/me", tag = "users", security(("bearer" = [])), request_body = DeleteMe,
    responses(
        (status = 200, description = "Deleted", body = Envelope<Option<bool>>),
        (status = 422, description = "VALIDATION_ERROR: wrong password"),
    ))]
pub async fn delete_me(
    State(state): State<AppState>,
    user: AuthUser,
    body: Option<Json<DeleteMe>>,
) -> ApiResult<Reply<()>> {
    let row = users::current(&state.db, user.id).await?;
    if let Some(hash) = row.password_hash.as_deref() {
        let given = body.as_ref().and_then(|Json(b)| b.password.as_deref());
        let Some(given) = given else {
            return Err(ApiError::field("password", "required"));
        };
        if !passwords::verify(given, Some(hash)).await? {
            return Err(ApiError::field("password", "is incorrect"));
        }
    }
    let mut tx = state.db.begin().await?;
    let sessions: Vec<uuid::Uuid> =
        sqlx::query_scalar("SELECT id FROM sessions WHERE user_id = $1")
            .bind(user.id)
            .fetch_all(&mut *tx)
            .await?;
    // Personal data cascades; community content is kept with its author set to NULL.
    sqlx::query("DELETE FROM users WHERE id = $1")
        .bind(user.id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    sessions::close_gates(&state, &sessions, sessions::Gate::Revoked).await?;
    tracing::info!(user_id = %user.id, "account deleted");
    Ok(Reply::empty())
}
