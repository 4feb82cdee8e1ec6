//! The feed: posts newest first (`latest`) or most liked first as of a snapshot
//! (`popular`), optionally of one category, in keyset pages that neither repeat nor skip a
//! post while posts and likes arrive (`shared::domain::community::feed` says how).

use axum::extract::State;
use serde::Deserialize;
use shared::domain::community::feed::{self, RankedPost, Standing};
use shared::domain::community::{Category, Post};
use shared::envelope::Envelope;
use shared::http::{AuthUser, Query};
use shared::pagination::{Keyset, Page, PageParams};
use shared::{ApiResult, AppState, Fields, Reply};
use utoipa::IntoParams;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedParams {
    /// `daily`, `worry`, `gratitude` or `free`; all when absent.
    #[param(value_type = Option<shared::domain::community::Category>)]
    category: Option<String>,
    /// `latest` (default) or `popular`.
    #[param(schema_with = sorts)]
    sort: Option<String>,
    /// 1..=100, default 20.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    cursor: Option<String>,
}

fn sorts() -> utoipa::openapi::schema::Schema {
    shared::openapi::one_of(&["latest", "popular"])
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sort {
    Latest,
    Popular,
}

impl Sort {
    fn parse(value: &str) -> Result<Self, &'static str> {
        match value {
            "latest" => Ok(Self::Latest),
            "popular" => Ok(Self::Popular),
            _ => Err("must be latest or popular"),
        }
    }
}

/// The feed.
#[utoipa::path(get, path = "/posts", tag = "community", security(("bearer" = [])), params(FeedParams),
    responses((status = 200, description = "A page of posts", body = Envelope<Page<Post>>),
              (status = 400, description = "BAD_REQUEST: bad cursor"), (status = 422, description = "VALIDATION_ERROR")))]
#[tracing::instrument(skip_all)]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(params): Query<FeedParams>,
) -> ApiResult<Reply<Page<Post>>> {
    let page = PageParams {
        limit: params.limit,
        cursor: params.cursor,
    };
    let mut f = Fields::default();
    let limit = page.check_limit(&mut f);
    let sort = f.check(
        "sort",
        params.sort.as_deref().map_or(Ok(Sort::Latest), Sort::parse),
    );
    let category = params
        .category
        .as_deref()
        .map(|c| f.check("category", Category::parse(c)));
    let (limit, sort) = f.finish((limit, sort))?;
    let category = category.flatten();
    // A cursor belongs to one sort of one category: another's keyset means nothing there.
    let scope = format!(
        "posts:{}:{}",
        if sort == Sort::Latest {
            "latest"
        } else {
            "popular"
        },
        category.map_or("all", Category::as_str)
    );
    let fetch = i64::from(limit) + 1;
    let page = match sort {
        Sort::Latest => {
            let after: Option<Keyset> = page.position(&state.cursors, &scope)?;
            let rows = feed::latest(&state.db, user.id, category, after, fetch).await?;
            Page::from_rows(rows, limit, &state.cursors, &scope, |p| Keyset {
                at: p.created_at,
                id: p.id,
            })
        }
        Sort::Popular => {
            let after: Option<Standing> = page.position(&state.cursors, &scope)?;
            let rows = feed::popular(&state.db, user.id, category, after, fetch).await?;
            let page = Page::from_rows(rows, limit, &state.cursors, &scope, RankedPost::standing);
            Page {
                items: page.items.into_iter().map(|r| r.post).collect(),
                next_cursor: page.next_cursor,
            }
        }
    };
    Ok(Reply::ok(page))
}
