use axum::extract::State;
use shared::domain::accounts::{
    self, AccountEmail, Nickname, Password, ProfileChange, TokensPayload, User, passwords, sessions,
};
use shared::domain::journal;
use shared::envelope::Envelope;
use shared::events::image::ImageEvent;
use shared::http::{AuthUser, Json, Patch};
use shared::locale::Lang;
use shared::ratelimit;
use shared::{ApiError, ApiResult, AppState, Fields, Reply};
use uuid::Uuid;

use crate::{ChangePassword, DeleteMe, UpdateMe};

/// The signed-in user.
#[utoipa::path(get, path = "/me", tag = "users", security(("bearer" = [])),
    responses((status = 200, description = "The user", body = Envelope<User>), (status = 401, description = "UNAUTHORIZED")))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn me(State(state): State<AppState>, user: AuthUser) -> ApiResult<Reply<User>> {
    Ok(Reply::ok(
        accounts::current(&state.db, user.id)
            .await?
            .to_user(&state.links),
    ))
}

/// Change nickname, bio, time zone or language; absent fields stay as they are.
#[utoipa::path(patch, path = "/me", tag = "users", security(("bearer" = [])), request_body = UpdateMe,
    responses(
        (status = 200, description = "The updated user", body = Envelope<User>),
        (status = 409, description = "NICKNAME_TAKEN"),
        (status = 422, description = "VALIDATION_ERROR"),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn update_me(
    State(state): State<AppState>,
    user: AuthUser,
    Json(body): Json<UpdateMe>,
) -> ApiResult<Reply<User>> {
    let change = body.validate(&state).await?;
    // The journal's daily rollup is kept in local days: a new time zone moves them.
    let moves_days = change.timezone.is_some();
    let mut tx = state.db.begin().await?;
    if moves_days {
        journal::hold(&mut tx, user.id).await?;
    }
    let row = accounts::update_profile(&mut tx, user.id, change).await?;
    if moves_days {
        journal::rebuild(&mut tx, user.id).await?;
    }
    tx.commit().await?;
    if moves_days {
        journal::invalidate_stats(&state.cache, user.id).await;
    }
    Ok(Reply::ok(row.to_user(&state.links)))
}

impl UpdateMe {
    /// The change, or 422 naming every field that does not fit.
    async fn validate(self, state: &AppState) -> ApiResult<ProfileChange> {
        let mut fields = Fields::default();
        let nickname = fields
            .check("nickname", self.nickname.required())
            .flatten()
            .and_then(|n| fields.check("nickname", Nickname::parse(&n)));
        let bio = match self.bio {
            Patch::Absent => None,
            Patch::Null => Some(None),
            Patch::Value(b) => fields.check("bio", crate::bio(b)),
        };
        let locale = match self.locale {
            Patch::Absent => None,
            Patch::Value(l) if l == "ko" => Some(Lang::Ko),
            Patch::Value(l) if l == "en" => Some(Lang::En),
            _ => fields.check("locale", Err("must be ko or en")),
        };
        let timezone = match self.timezone {
            Patch::Absent => None,
            Patch::Value(tz) if accounts::is_time_zone(&state.db, &tz).await? => Some(tz),
            _ => fields.check(
                "timezone",
                Err("must be an IANA time zone such as Asia/Seoul"),
            ),
        };
        fields.finish(())?;
        Ok(ProfileChange {
            nickname,
            bio,
            timezone,
            locale,
        })
    }
}

/// Change the password. Other sessions are signed out and access tokens issued before are
/// refused; this session continues with the tokens returned.
#[utoipa::path(patch, path = "/me/password", tag = "users", security(("bearer" = [])), request_body = ChangePassword,
    responses(
        (status = 200, description = "Changed; fresh tokens for this session", body = Envelope<TokensPayload>),
        (status = 422, description = "VALIDATION_ERROR: wrong current_password or weak new_password"),
        (status = 429, description = "RATE_LIMITED: RATE_LIMIT_LOGIN attempts per account"),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn change_password(
    State(state): State<AppState>,
    user: AuthUser,
    Json(body): Json<ChangePassword>,
) -> ApiResult<Reply<TokensPayload>> {
    let row = accounts::current(&state.db, user.id).await?;
    count_password_attempt(&state, user.id).await?;
    let mut fields = Fields::default();
    let new_password = fields.check("new_password", Password::parse(&body.new_password));
    if !passwords::verify(&body.current_password, row.password_hash.as_deref()).await? {
        fields.add("current_password", "is incorrect");
    } else if body.current_password == body.new_password {
        fields.add("new_password", "must differ from the current password");
    }
    let new_password = fields.finish(new_password)?;
    let hash = passwords::hash(&new_password).await?;

    let mut tx = state.db.begin().await?;
    let revocation = accounts::set_password(
        &mut tx,
        user.id,
        &hash,
        Some(user.session_id),
        "password_change",
    )
    .await?;
    let tokens = sessions::reissue(&state, &mut tx, user.id, row.role, user.session_id).await?;
    tx.commit().await?;
    revocation.announce(&state).await;
    accounts::send_email(&state, &row, AccountEmail::PasswordChanged);
    Ok(Reply::ok(TokensPayload { tokens }))
}

/// Guessing the password with a stolen access token is limited like guessing it at login:
/// `RATE_LIMIT_LOGIN` per account, every attempt counted.
async fn count_password_attempt(state: &AppState, user_id: Uuid) -> ApiResult<()> {
    let key = format!("password:user:{user_id}");
    ratelimit::count(&state.cache, &key, state.settings.rate_limits.login)
        .await?
        .check()?;
    Ok(())
}

/// Delete the account and the person's data; community posts stay as "탈퇴한 사용자".
#[utoipa::path(delete, path = "/me", tag = "users", security(("bearer" = [])), request_body = DeleteMe,
    responses(
        (status = 200, description = "Deleted", body = Envelope<Option<bool>>),
        (status = 422, description = "VALIDATION_ERROR: wrong password"),
        (status = 429, description = "RATE_LIMITED: RATE_LIMIT_LOGIN attempts per account"),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn delete_me(
    State(state): State<AppState>,
    user: AuthUser,
    body: Option<Json<DeleteMe>>,
) -> ApiResult<Reply<()>> {
    let row = accounts::current(&state.db, user.id).await?;
    if let Some(hash) = row.password_hash.as_deref() {
        let given = body.as_ref().and_then(|Json(b)| b.password.as_deref());
        let Some(given) = given else {
            return Err(ApiError::field("password", "required"));
        };
        count_password_attempt(&state, user.id).await?;
        if !passwords::verify(given, Some(hash)).await? {
            return Err(ApiError::field("password", "is incorrect"));
        }
    }
    let mut tx = state.db.begin().await?;
    let revocation = accounts::delete(&mut tx, user.id).await?;
    tx.commit().await?;
    revocation.announce(&state).await;
    // The account's files were queued as garbage with it; the image worker deletes them.
    state.events.publish_later(
        &state.settings.pubsub.topic_image_resize,
        &ImageEvent::Sweep,
        "storage sweep",
    );
    tracing::info!("account deleted");
    Ok(Reply::empty())
}
