//! The audit trail: every admin action is recorded in the action's transaction (so a record
//! exists exactly when its action committed) in an append-only table, and admins read it
//! newest first.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared::domain::community::DEPARTED;
use shared::envelope::Envelope;
use shared::http::Query;
use shared::pagination::{Keyset, Page, PageParams};
use shared::{ApiResult, AppState, Fields, Reply};
use sqlx::{FromRow, PgConnection};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::Admin;

const SCOPE: &str = "admin:audit";

/// What an admin did, and to what kind of thing.
#[derive(Debug, Clone, Copy)]
pub enum Action {
    SuspendUser,
    UnsuspendUser,
    DeletePost,
    DeleteComment,
}

impl Action {
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Self::SuspendUser => ("suspend_user", "user"),
            Self::UnsuspendUser => ("unsuspend_user", "user"),
            Self::DeletePost => ("delete_post", "post"),
            Self::DeleteComment => ("delete_comment", "comment"),
        }
    }
}

/// Records `action` by `admin` on `target` inside the action's transaction.
pub async fn record(
    db: &mut PgConnection,
    admin: Uuid,
    action: Action,
    target: Uuid,
    reason: Option<&str>,
) -> ApiResult<()> {
    let (action, target_type) = action.names();
    sqlx::query(
        "INSERT INTO admin_audit (id, admin_id, action, target_type, target_id, reason)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(Uuid::now_v7())
    .bind(admin)
    .bind(action)
    .bind(target_type)
    .bind(target)
    .bind(reason)
    .execute(db)
    .await?;
    Ok(())
}

/// The admin who acted (`id` stays when their account is gone; the nickname does not).
#[derive(Debug, Serialize, FromRow, ToSchema)]
pub struct Actor {
    #[sqlx(rename = "admin_id")]
    pub id: Uuid,
    #[sqlx(rename = "admin_nickname")]
    pub nickname: String,
}

/// An entry of the audit trail.
#[derive(Debug, Serialize, FromRow, ToSchema)]
pub struct Entry {
    pub id: Uuid,
    #[sqlx(flatten)]
    pub admin: Actor,
    /// `suspend_user`, `unsuspend_user`, `delete_post` or `delete_comment`.
    pub action: String,
    /// `user`, `post` or `comment`.
    pub target_type: String,
    pub target_id: Uuid,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Only what this admin did.
    #[param(value_type = Option<Uuid>)]
    admin_id: Option<String>,
    /// Only what was done to this user, post or comment.
    #[param(value_type = Option<Uuid>)]
    target_id: Option<String>,
    /// 1..=100, default 20.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    cursor: Option<String>,
}

/// The audit trail, newest first.
#[utoipa::path(get, path = "/audit", tag = "admin", security(("bearer" = [])), params(AuditParams),
    responses((status = 200, description = "A page of the audit trail", body = Envelope<Page<Entry>>),
              (status = 400, description = "BAD_REQUEST: bad cursor"), (status = 403, description = "FORBIDDEN: not an admin"),
              (status = 422, description = "VALIDATION_ERROR")))]
#[tracing::instrument(skip_all, fields(admin_id = %admin.id))]
pub async fn list(
    State(state): State<AppState>,
    admin: Admin,
    Query(params): Query<AuditParams>,
) -> ApiResult<Reply<Page<Entry>>> {
    let page = PageParams {
        limit: params.limit,
        cursor: params.cursor,
    };
    let mut f = Fields::default();
    let limit = page.check_limit(&mut f);
    let uuid = |v: &str| Uuid::parse_str(v).map_err(|_| "must be a UUID");
    let by = params
        .admin_id
        .as_deref()
        .map(|v| f.check("admin_id", uuid(v)));
    let on = params
        .target_id
        .as_deref()
        .map(|v| f.check("target_id", uuid(v)));
    let limit = f.finish(limit)?;
    let (by, on) = (by.flatten(), on.flatten());
    // A cursor of one filter's list is not one of another's.
    let scope = format!(
        "{SCOPE}:{}:{}",
        by.map(|u| u.to_string()).unwrap_or_default(),
        on.map(|u| u.to_string()).unwrap_or_default()
    );
    let after: Option<Keyset> = page.position(&state.cursors, &scope)?;
    let rows: Vec<Entry> = sqlx::query_as(
        "SELECT a.id, a.admin_id, COALESCE(u.nickname, $6) AS admin_nickname, a.action,
                a.target_type, a.target_id, a.reason, a.created_at
         FROM admin_audit a LEFT JOIN users u ON u.id = a.admin_id
         WHERE ($1::uuid IS NULL OR a.admin_id = $1) AND ($2::uuid IS NULL OR a.target_id = $2)
           AND (a.created_at, a.id) < (COALESCE($3::timestamptz, 'infinity'), COALESCE($4::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff'))
         ORDER BY a.created_at DESC, a.id DESC
         LIMIT $5",
    )
    .bind(by)
    .bind(on)
    .bind(after.map(|k| k.at))
    .bind(after.map(|k| k.id))
    .bind(i64::from(limit) + 1)
    .bind(DEPARTED)
    .fetch_all(&state.db)
    .await?;
    Ok(Reply::ok(Page::from_rows(
        rows,
        limit,
        &state.cursors,
        &scope,
        |e| Keyset {
            at: e.created_at,
            id: e.id,
        },
    )))
}
