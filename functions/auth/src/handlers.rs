use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use shared::config::RateSpec;
use shared::domain::accounts::{
    self, AccountEmail, Email, NewAccount, Nickname, Password, Purpose, TokensPayload, User,
    UserRow, one_time, passwords, sessions,
};
use shared::envelope::Envelope;
use shared::error::RateInfo;
use shared::http::{AuthUser, ClientIp, Json};
use shared::locale::Lang;
use shared::ratelimit;
use shared::{ApiError, ApiResult, AppState, ErrorCode, Fields, Reply};

use crate::{
    AuthPayload, EmailOnly, LoginRequest, RefreshRequest, RegisterRequest, ResetPasswordRequest,
    TokenOnly,
};

/// Verification emails (welcome or resend) go out at most once a minute per account.
const RESEND_INTERVAL: std::time::Duration = std::time::Duration::from_secs(60);

/// Accounts one client address may open: `RATE_LIMIT_REGISTER`, 20 an hour. Each account
/// brings limits of its own (AI replies, uploads), so unlimited sign-ups would multiply them.
const REGISTER: RateSpec = RateSpec::per_minutes(20, 60);

/// Register with email, password and nickname; sends the welcome email with a verification
/// link. `RATE_LIMIT_REGISTER` per client address: every attempt counts.
#[utoipa::path(post, path = "/register", tag = "auth", request_body = RegisterRequest,
    responses(
        (status = 201, description = "Registered and signed in", body = Envelope<AuthPayload>),
        (status = 409, description = "EMAIL_TAKEN or NICKNAME_TAKEN"),
        (status = 422, description = "VALIDATION_ERROR"),
        (status = 429, description = "RATE_LIMITED (RATE_LIMIT_REGISTER, 20 an hour per address)"),
    ))]
#[tracing::instrument(skip_all)]
pub async fn register(
    State(state): State<AppState>,
    ip: ClientIp,
    Json(body): Json<RegisterRequest>,
) -> Response {
    let spec = state
        .settings
        .rate_limits
        .declared("RATE_LIMIT_REGISTER", REGISTER);
    let limit = match ratelimit::count(&state.cache, &format!("register:ip:{ip}"), spec)
        .await
        .and_then(RateInfo::check)
    {
        Ok(limit) => limit,
        Err(refused) => return refused.into_response(),
    };
    let mut response = open_account(&state, body).await.into_response();
    limit.write_headers(response.headers_mut());
    response
}

async fn open_account(state: &AppState, body: RegisterRequest) -> ApiResult<Reply<AuthPayload>> {
    let mut fields = Fields::default();
    let email = fields.check("email", Email::parse(&body.email));
    let password = fields.check("password", Password::parse(&body.password));
    let nickname = fields.check("nickname", Nickname::parse(&body.nickname));
    let (email, password, nickname) = fields.finish((email, password, nickname))?;
    let hash = passwords::hash(&password).await?;

    let mut tx = state.db.begin().await?;
    let new = NewAccount {
        email: Some(&email),
        nickname: &nickname,
        password_hash: Some(&hash),
        locale: Lang::current(),
    };
    let user = accounts::create(&mut tx, new).await?;
    let token = one_time::issue(&mut tx, user.id, Purpose::EmailVerification).await?;
    let tokens = sessions::start(state, &mut tx, user.id, user.role).await?;
    tx.commit().await?;

    state
        .cache
        .set(&resend_key(user.id), "1", RESEND_INTERVAL)
        .await;
    accounts::send_email(state, &user, AccountEmail::Welcome { token: &token });
    tracing::info!(user_id = %user.id, "registered");
    Ok(Reply::created(AuthPayload {
        user: user.to_user(&state.links),
        tokens,
    }))
}

fn email_key(email: &str) -> String {
    let digest = Sha256::digest(email.trim().to_lowercase().as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// Counts a login attempt per client address, per email from that address, and per email
/// from anywhere under a ceiling of ten times the limit: a stranger cannot lock someone out
/// from one place, and guesses spread over many addresses still meet a limit. Every attempt
/// counts; the headers of the tightest limit go back.
async fn count_login(state: &AppState, ip: ClientIp, email: &str) -> ApiResult<RateInfo> {
    let spec = state.settings.rate_limits.login;
    // Ten times the limit per email from anywhere.
    let ceiling = spec.times(10);
    let email = email_key(email);
    let mut counts = Vec::with_capacity(3);
    for (key, spec) in [
        (format!("login:ip:{ip}"), spec),
        (format!("login:email-ip:{email}:{ip}"), spec),
        (format!("login:email:{email}"), ceiling),
    ] {
        counts.push(ratelimit::count(&state.cache, &key, spec).await?);
    }
    let tightest = counts
        .iter()
        .copied()
        .min_by_key(|c| (c.allowed, c.remaining))
        .ok_or_else(|| ApiError::internal("no login limit counted"))?;
    tightest.check()
}

/// Sign in with email and password. `RATE_LIMIT_LOGIN` per client address and per email from
/// it (ten times that per email from anywhere): every attempt counts.
#[utoipa::path(post, path = "/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in", body = Envelope<AuthPayload>),
        (status = 401, description = "INVALID_CREDENTIALS (same for an unknown email)"),
        (status = 403, description = "ACCOUNT_SUSPENDED"),
        (status = 429, description = "RATE_LIMITED"),
    ))]
#[tracing::instrument(skip_all)]
pub async fn login(
    State(state): State<AppState>,
    ip: ClientIp,
    Json(body): Json<LoginRequest>,
) -> Response {
    let limit = match count_login(&state, ip, &body.email).await {
        Ok(limit) => limit,
        Err(refused) => return refused.into_response(),
    };
    // Every answer, failures included, tells how many attempts are left.
    let mut response = sign_in(&state, &body).await.into_response();
    limit.write_headers(response.headers_mut());
    response
}

async fn sign_in(state: &AppState, body: &LoginRequest) -> ApiResult<Reply<AuthPayload>> {
    let mut conn = state.db.acquire().await?;
    let user = match Email::parse(&body.email) {
        Ok(email) => accounts::find_by_email(&mut conn, &email).await?,
        Err(_) => None,
    };
    drop(conn);
    // Oversized input is refused without hashing it, identically for every account.
    let candidate = if body.password.len() > 1024 {
        ""
    } else {
        body.password.as_str()
    };
    let stored = user.as_ref().and_then(|u| u.password_hash.as_deref());
    let valid = passwords::verify(candidate, stored).await? && !candidate.is_empty();
    let Some(user) = user.filter(|_| valid) else {
        return Err(ApiError::code(ErrorCode::InvalidCredentials));
    };
    open_session(state, user).await
}

/// Signs `user` in (password or provider): a new session, unless they are suspended.
pub async fn open_session(state: &AppState, user: UserRow) -> ApiResult<Reply<AuthPayload>> {
    if user.is_suspended() {
        // The end date, when there is one, so the app can say when to come back.
        return Err(match user.suspended_until {
            Some(until) => ApiError::with_details(
                ErrorCode::AccountSuspended,
                serde_json::json!({ "suspended_until": until }),
            ),
            None => ApiError::code(ErrorCode::AccountSuspended),
        });
    }
    let mut tx = state.db.begin().await?;
    let tokens = sessions::start(state, &mut tx, user.id, user.role).await?;
    accounts::touch(&mut tx, user.id).await?;
    tx.commit().await?;
    Ok(Reply::ok(AuthPayload {
        user: user.to_user(&state.links),
        tokens,
    }))
}

/// Trade a refresh token for new tokens. The old refresh token dies (rotation); presenting
/// it again after 10 seconds revokes the whole session.
#[utoipa::path(post, path = "/refresh", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, description = "New tokens", body = Envelope<TokensPayload>),
        (status = 401, description = "UNAUTHORIZED or TOKEN_REUSED"),
        (status = 403, description = "ACCOUNT_SUSPENDED"),
    ))]
#[tracing::instrument(skip_all)]
pub async fn refresh(
    State(state): State<AppState>,
    Json(body): Json<RefreshRequest>,
) -> ApiResult<Reply<TokensPayload>> {
    let tokens = sessions::refresh(&state, &body.refresh_token).await?;
    Ok(Reply::ok(TokensPayload { tokens }))
}

/// End the session of this refresh token (and of the bearer's access token, if sent).
#[utoipa::path(post, path = "/logout", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, description = "Signed out", body = Envelope<Option<bool>>),
        (status = 401, description = "UNAUTHORIZED: not a refresh token of ours"),
    ))]
#[tracing::instrument(skip_all)]
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Json(body): Json<RefreshRequest>,
) -> ApiResult<Reply<()>> {
    use shared::auth::{RefreshClaims, TokenKind, bearer_token};
    let refresh: RefreshClaims = state
        .tokens
        .verify(TokenKind::Refresh, &body.refresh_token)
        .map_err(|_| ApiError::unauthorized())?;
    sessions::revoke(&state, refresh.sub, refresh.sid, "logout").await?;
    if let Some(access) = bearer_token(&headers)
        .and_then(|t| state.tokens.verify_access(t).ok())
        .filter(|a| a.sid != refresh.sid)
    {
        sessions::revoke(&state, access.sub, access.sid, "logout").await?;
    }
    Ok(Reply::empty())
}

/// Email a password reset link (30 minutes, single use). Answers the same whether or not
/// the email belongs to an account.
#[utoipa::path(post, path = "/forgot-password", tag = "auth", request_body = EmailOnly,
    responses((status = 200, description = "Sent if the account exists", body = Envelope<Option<bool>>)))]
#[tracing::instrument(skip_all)]
pub async fn forgot_password(
    State(state): State<AppState>,
    Json(body): Json<EmailOnly>,
) -> ApiResult<Reply<()>> {
    let email = Email::parse(&body.email).map_err(|p| ApiError::field("email", p))?;
    accounts::request_password_reset(&state, &email).await?;
    Ok(Reply::empty())
}

/// Set a new password with the emailed token; every session is revoked.
#[utoipa::path(post, path = "/reset-password", tag = "auth", request_body = ResetPasswordRequest,
    responses(
        (status = 200, description = "Password changed", body = Envelope<Option<bool>>),
        (status = 400, description = "INVALID_TOKEN: unknown, used or expired"),
        (status = 422, description = "VALIDATION_ERROR: weak password"),
    ))]
#[tracing::instrument(skip_all)]
pub async fn reset_password(
    State(state): State<AppState>,
    Json(body): Json<ResetPasswordRequest>,
) -> ApiResult<Reply<()>> {
    let password =
        Password::parse(&body.new_password).map_err(|p| ApiError::field("new_password", p))?;
    // A bad token costs a look, not an argon2 hash.
    one_time::check(
        &mut *state.db.acquire().await?,
        &body.token,
        Purpose::PasswordReset,
    )
    .await?;
    let hash = passwords::hash(&password).await?;
    let mut tx = state.db.begin().await?;
    let (user, revocation) = accounts::reset_password(&mut tx, &body.token, &hash).await?;
    tx.commit().await?;
    revocation.announce(&state).await;
    accounts::send_email(&state, &user, AccountEmail::PasswordChanged);
    Ok(Reply::empty())
}

/// Confirm the email address with the token of the welcome (or resent) email.
#[utoipa::path(post, path = "/verify-email", tag = "auth", request_body = TokenOnly,
    responses(
        (status = 200, description = "The user, verified", body = Envelope<User>),
        (status = 400, description = "INVALID_TOKEN: unknown, used or expired"),
    ))]
#[tracing::instrument(skip_all)]
pub async fn verify_email(
    State(state): State<AppState>,
    Json(body): Json<TokenOnly>,
) -> ApiResult<Reply<User>> {
    let mut tx = state.db.begin().await?;
    let user = accounts::verify_email(&mut tx, &body.token).await?;
    tx.commit().await?;
    Ok(Reply::ok(user.to_user(&state.links)))
}

fn resend_key(user_id: uuid::Uuid) -> String {
    format!("verify-mail:{user_id}")
}

/// Send the verification email again: at most once a minute (429 otherwise).
#[utoipa::path(post, path = "/resend-verification", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 200, description = "Sent (or already verified)", body = Envelope<Value>),
        (status = 429, description = "RATE_LIMITED: one a minute"),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn resend_verification(
    State(state): State<AppState>,
    user: AuthUser,
) -> ApiResult<Reply<Value>> {
    let mut tx = state.db.begin().await?;
    let row = accounts::find(&mut tx, user.id)
        .await?
        .ok_or_else(ApiError::unauthorized)?;
    if row.email_verified_at.is_some() {
        return Ok(Reply::ok(json!({ "email_verified": true })));
    }
    if !state
        .cache
        .set_nx(&resend_key(user.id), "1", RESEND_INTERVAL)
        .await
    {
        return Err(ApiError::rate_limited(RateInfo {
            limit: 1,
            remaining: 0,
            reset_secs: RESEND_INTERVAL.as_secs(),
            allowed: false,
        }));
    }
    let token = one_time::issue(&mut tx, user.id, Purpose::EmailVerification).await?;
    tx.commit().await?;
    accounts::send_email(&state, &row, AccountEmail::Verification { token: &token });
    Ok(Reply::ok(json!({ "email_verified": false })))
}
