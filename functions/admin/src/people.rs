//! People: finding them (partial email or nickname, by status) and suspending them.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared::auth::Role;
use shared::domain::accounts::{self, User};
use shared::domain::files::{FileLinks, PROFILE_VARIANT};
use shared::envelope::Envelope;
use shared::http::{Json, Query, ResourceId};
use shared::pagination::{Keyset, Page, PageParams};
use shared::{ApiError, ApiResult, AppState, Fields, Reply};
use sqlx::{AssertSqlSafe, FromRow};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::Admin;
use crate::audit::{self, Action};

const SCOPE: &str = "admin:users";

/// `user` with what admins see besides.
#[derive(Debug, Serialize, ToSchema)]
pub struct Person {
    #[serde(flatten)]
    pub user: User,
    /// `active` or `suspended` (a suspension whose end has passed is over).
    pub status: String,
    pub suspended_until: Option<DateTime<Utc>>,
    pub suspension_reason: Option<String>,
    pub last_active_at: Option<DateTime<Utc>>,
}

/// A person's row: no password hash or token is ever selected, only whether there is a
/// password.
#[derive(FromRow)]
struct Row {
    id: Uuid,
    email: Option<String>,
    nickname: String,
    bio: Option<String>,
    profile_image_id: Option<Uuid>,
    role: Role,
    timezone: String,
    locale: String,
    email_verified_at: Option<DateTime<Utc>>,
    has_password: bool,
    identities: Vec<String>,
    created_at: DateTime<Utc>,
    suspended_now: bool,
    suspended_until: Option<DateTime<Utc>>,
    suspension_reason: Option<String>,
    last_active_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, email, nickname, bio, profile_image_id, role, timezone, locale, \
    email_verified_at, password_hash IS NOT NULL AS has_password, created_at, \
    ARRAY(SELECT i.provider FROM user_identities i WHERE i.user_id = users.id ORDER BY i.provider) AS identities, \
    (status = 'suspended' AND (suspended_until IS NULL OR suspended_until > now())) AS suspended_now, \
    suspended_until, suspension_reason, last_active_at";

const SUSPENDED: &str =
    "status = 'suspended' AND (suspended_until IS NULL OR suspended_until > now())";

impl Row {
    fn person(self, links: &FileLinks) -> Person {
        Person {
            user: User {
                id: self.id,
                email: self.email,
                nickname: self.nickname,
                bio: self.bio,
                profile_image_url: self
                    .profile_image_id
                    .map(|file| links.link(file, &PROFILE_VARIANT.to_string(), Utc::now())),
                role: self.role,
                timezone: self.timezone,
                locale: self.locale,
                email_verified: self.email_verified_at.is_some(),
                providers: self
                    .has_password
                    .then(|| "password".to_owned())
                    .into_iter()
                    .chain(self.identities)
                    .collect(),
                created_at: self.created_at,
            },
            status: if self.suspended_now {
                "suspended"
            } else {
                "active"
            }
            .to_owned(),
            suspended_until: self.suspended_until,
            suspension_reason: self.suspension_reason,
            last_active_at: self.last_active_at,
        }
    }
}

async fn person(state: &AppState, id: Uuid) -> ApiResult<Option<Person>> {
    let row: Option<Row> = sqlx::query_as(AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM users WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&state.db)
    .await?;
    Ok(row.map(|r| r.person(&state.links)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// Part of an email or nickname, any case (three characters or more; shorter is an
    /// exact match).
    q: Option<String>,
    /// `active` or `suspended`.
    #[param(schema_with = statuses)]
    status: Option<String>,
    /// 1..=100, default 20.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    cursor: Option<String>,
}

fn statuses() -> utoipa::openapi::schema::Schema {
    shared::openapi::one_of(&["active", "suspended"])
}

/// How `q` is matched: partially from three characters (trigram indexes), exactly below
/// (one or two characters match too much to be worth a scan).
fn matching(q: &str) -> (&'static str, String) {
    // Controls never match (PostgreSQL refuses NUL in text).
    let q = q.trim().to_lowercase().replace(char::is_control, "");
    if q.chars().count() >= 3 {
        let escaped = q
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        (
            "(lower(email) LIKE $1 OR lower(nickname) LIKE $1)",
            format!("%{escaped}%"),
        )
    } else {
        ("(email = $1 OR lower(nickname) = $1)", q)
    }
}

/// People, newest first.
#[utoipa::path(get, path = "/users", tag = "admin", security(("bearer" = [])), params(SearchParams),
    responses((status = 200, description = "A page of people", body = Envelope<Page<Person>>),
              (status = 400, description = "BAD_REQUEST: bad cursor"), (status = 403, description = "FORBIDDEN: not an admin"),
              (status = 422, description = "VALIDATION_ERROR")))]
#[tracing::instrument(skip_all, fields(admin_id = %admin.id))]
pub async fn search(
    State(state): State<AppState>,
    admin: Admin,
    Query(params): Query<SearchParams>,
) -> ApiResult<Reply<Page<Person>>> {
    let page = PageParams {
        limit: params.limit,
        cursor: params.cursor,
    };
    let mut f = Fields::default();
    let limit = page.check_limit(&mut f);
    let status = params.status.as_deref().map(|s| {
        f.check(
            "status",
            match s {
                "active" => Ok(format!("NOT ({SUSPENDED})")),
                "suspended" => Ok(SUSPENDED.to_owned()),
                _ => Err("must be active or suspended"),
            },
        )
    });
    let q = params.q.as_deref().filter(|q| !q.trim().is_empty());
    if q.is_some_and(|q| q.chars().count() > 254) {
        f.add("q", "must be at most 254 characters");
    }
    let limit = f.finish(limit)?;
    let (matches, pattern) = q.map_or(("($1::text IS NULL)", None), |q| {
        let (clause, pattern) = matching(q);
        (clause, Some(pattern))
    });
    let status = status.flatten().unwrap_or_else(|| "true".to_owned());
    // A cursor belongs to one search.
    let scope = format!(
        "{SCOPE}:{}:{}",
        params.status.as_deref().unwrap_or(""),
        pattern.as_deref().unwrap_or("")
    );
    let after: Option<Keyset> = page.position(&state.cursors, &scope)?;
    let sql = format!(
        "SELECT {COLUMNS} FROM users
         WHERE {matches} AND {status}
           AND (created_at, id) < (COALESCE($2::timestamptz, 'infinity'), COALESCE($3::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff'))
         ORDER BY created_at DESC, id DESC
         LIMIT $4"
    );
    let rows: Vec<Row> = sqlx::query_as(AssertSqlSafe(sql))
        .bind(pattern)
        .bind(after.map(|k| k.at))
        .bind(after.map(|k| k.id))
        .bind(i64::from(limit) + 1)
        .fetch_all(&state.db)
        .await?;
    let page = Page::from_rows(rows, limit, &state.cursors, &scope, |r| Keyset {
        at: r.created_at,
        id: r.id,
    });
    Ok(Reply::ok(Page {
        items: page
            .items
            .into_iter()
            .map(|r| r.person(&state.links))
            .collect(),
        next_cursor: page.next_cursor,
    }))
}

/// `{suspended, reason?, until?}`: suspending needs a reason and may end at `until`;
/// `suspended: false` lifts it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Suspension {
    pub suspended: bool,
    /// Required to suspend (at most 500 characters); recorded in the audit trail.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub reason: Option<String>,
    /// When the suspension ends by itself (in the future); none: until lifted.
    #[serde(default)]
    pub until: Option<DateTime<Utc>>,
}

/// Suspend someone (every session of theirs ends at once, on every instance; logging in
/// answers 403 ACCOUNT_SUSPENDED until it ends) or lift it. Admins cannot be suspended,
/// nor can you suspend yourself.
#[utoipa::path(patch, path = "/users/{id}/suspend", tag = "admin", security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = Suspension,
    responses((status = 200, description = "The person", body = Envelope<Person>),
              (status = 403, description = "FORBIDDEN: not an admin, or an admin (yourself included) as the target"),
              (status = 404, description = "NOT_FOUND"), (status = 422, description = "VALIDATION_ERROR")))]
#[tracing::instrument(skip_all, fields(admin_id = %admin.id, user_id = %id))]
pub async fn suspend(
    State(state): State<AppState>,
    admin: Admin,
    ResourceId(id): ResourceId,
    Json(body): Json<Suspension>,
) -> ApiResult<Reply<Person>> {
    let mut f = Fields::default();
    let reason = f.check("reason", crate::reason(body.reason));
    if body.suspended {
        if reason.as_ref().is_some_and(Option::is_none) {
            f.add("reason", "required");
        }
        if body.until.is_some_and(|until| until <= Utc::now()) {
            f.add("until", "must be in the future");
        }
    } else if body.until.is_some() {
        f.add("until", "only with suspended: true");
    }
    let reason = f.finish(reason)?;
    let mut tx = state.db.begin().await?;
    // Locked until the audit row commits: a deletion or a promotion in between waits, so
    // the trail never records a change that did not happen, nor an admin suspended.
    let target: Option<Role> =
        sqlx::query_scalar("SELECT role FROM users WHERE id = $1 FOR NO KEY UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
    match target {
        None => return Err(ApiError::not_found()),
        // Admins (yourself included) are not suspended: demote them first.
        Some(Role::Admin) => return Err(ApiError::forbidden()),
        Some(Role::User) => {}
    }
    if body.suspended {
        let reason = reason.as_deref().unwrap_or_default();
        let revocation = accounts::suspend(&mut tx, id, body.until, reason).await?;
        audit::record(&mut tx, admin.id, Action::SuspendUser, id, Some(reason)).await?;
        tx.commit().await?;
        revocation.announce(&state).await;
    } else {
        if !accounts::unsuspend(&mut tx, id).await? {
            return Err(ApiError::not_found());
        }
        audit::record(
            &mut tx,
            admin.id,
            Action::UnsuspendUser,
            id,
            reason.as_deref(),
        )
        .await?;
        tx.commit().await?;
    }
    Ok(Reply::ok(
        person(&state, id).await?.ok_or_else(ApiError::not_found)?,
    ))
}
