//! `/api/v1/community`: posts, comments and likes — a feed by recency or popularity,
//! anonymity that holds in every answer, notifications to authors, and the crisis hotlines
//! in the answer to a post or comment that shows risk.
//!
//! Handler spans name the post or comment, never the person: a log line must not tie anyone
//! to an anonymous post.

mod comments;
mod feed;
mod likes;
mod model;
mod posts;
mod text;

use shared::AppState;
use shared::safety::{self, Safety};
use shared::telemetry::PRIVATE;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(posts::create, feed::list))
        .routes(routes!(posts::get, posts::update, posts::delete))
        .routes(routes!(likes::like, likes::unlike))
        .routes(routes!(comments::create, comments::list))
        .routes(routes!(comments::update, comments::delete))
}

/// The hotlines when any of `texts` shows risk (the content is published all the same): the
/// most severe judgement of them. Our own logs count it without the words or anyone's id.
fn assess(what: &'static str, texts: &[&str]) -> Option<Safety> {
    let judged = texts
        .iter()
        .map(|t| safety::assess(t))
        .max_by_key(|a| a.level)?;
    (judged.level != safety::Level::None).then(|| {
        tracing::info!(target: PRIVATE, parent: None, what, level = ?judged.level, category = ?judged.category, "safety assessment");
        Safety::of(judged)
    })
}
