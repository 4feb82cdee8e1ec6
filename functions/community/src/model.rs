//! Posts and comments as the API shows them, the bodies that make them, and their rules.
//!
//! Who wrote something is decided in SQL ([`author_columns`]): for anonymous content the
//! query returns no author id at all, so no row a handler holds could leak it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared::Fields;
use shared::http::Patch;
use shared::safety::Safety;
use sqlx::FromRow;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::text;

pub const TITLE_MAX: usize = 100;
pub const POST_MAX: usize = 5000;
pub const COMMENT_MAX: usize = 1000;

/// What an anonymous author is called, to everyone (the author included).
pub const ANONYMOUS: &str = "익명";
/// What the author of content whose account was deleted is called.
pub const DEPARTED: &str = "탈퇴한 사용자";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum Category {
    /// 일상
    Daily,
    /// 고민
    Worry,
    /// 감사
    Gratitude,
    /// 자유
    Free,
}

impl Category {
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        match value {
            "daily" => Ok(Self::Daily),
            "worry" => Ok(Self::Worry),
            "gratitude" => Ok(Self::Gratitude),
            "free" => Ok(Self::Free),
            _ => Err("must be one of daily, worry, gratitude, free"),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Daily => "daily",
            Self::Worry => "worry",
            Self::Gratitude => "gratitude",
            Self::Free => "free",
        }
    }
}

/// `author` of the API.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Author {
    /// `null` for anonymous content and for accounts that were deleted.
    #[sqlx(rename = "author_id")]
    pub id: Option<Uuid>,
    /// "익명" for anonymous content, "탈퇴한 사용자" for deleted accounts.
    #[sqlx(rename = "author_nickname")]
    pub nickname: String,
}

/// `author_id`, `author_nickname` and `is_mine` of the row aliased `$table` (posts or
/// comments, joined to its author as `u`), for the caller `$1`.
macro_rules! author_columns {
    ($table:literal) => {
        concat!(
            "CASE WHEN ", $table, ".is_anonymous THEN NULL ELSE u.id END AS author_id, ",
            "CASE WHEN ", $table, ".is_anonymous THEN '익명' ELSE COALESCE(u.nickname, '탈퇴한 사용자') END AS author_nickname, ",
            "COALESCE(", $table, ".author_id = $1, false) AS is_mine"
        )
    };
}
pub(crate) use author_columns;

/// `post` of the API.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Post {
    pub id: Uuid,
    pub title: String,
    pub content: String,
    pub category: Category,
    #[sqlx(flatten)]
    pub author: Author,
    pub is_anonymous: bool,
    pub like_count: i32,
    pub comment_count: i32,
    pub liked_by_me: bool,
    /// Whether the caller wrote it (also for their anonymous posts).
    pub is_mine: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Only in the answer to `POST /posts`, when the text shows risk.
    #[sqlx(skip)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub safety: Option<Safety>,
}

/// The columns of [`Post`] for the row `p` joined to its author `u`, for the caller `$1`.
macro_rules! post_columns {
    () => {
        concat!(
            "p.id, p.title, p.content, p.category, p.is_anonymous, p.like_count, p.comment_count, ",
            "p.created_at, p.updated_at, ",
            crate::model::author_columns!("p"),
            ", EXISTS (SELECT FROM post_likes l WHERE l.post_id = p.id AND l.user_id = $1 AND l.unliked_at IS NULL) AS liked_by_me"
        )
    };
}
pub(crate) use post_columns;

/// `comment` of the API.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Comment {
    pub id: Uuid,
    pub post_id: Uuid,
    pub content: String,
    #[sqlx(flatten)]
    pub author: Author,
    pub is_anonymous: bool,
    pub is_mine: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Only in the answer to `POST /posts/{id}/comments`, when the text shows risk.
    #[sqlx(skip)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub safety: Option<Safety>,
}

/// The columns of [`Comment`] for the row `c` joined to its author `u`, for the caller `$1`.
macro_rules! comment_columns {
    () => {
        concat!(
            "c.id, c.post_id, c.content, c.is_anonymous, c.created_at, c.updated_at, ",
            crate::model::author_columns!("c")
        )
    };
}
pub(crate) use comment_columns;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePost {
    /// 1..=100 characters, one line; markup is removed.
    pub title: String,
    /// 1..=5000 characters; markup is removed.
    pub content: String,
    pub category: Category,
    /// Shown as "익명" to everyone; fixed at publication.
    #[serde(default)]
    pub is_anonymous: bool,
}

/// Anonymity cannot change after publication: a post once shown under a name was seen
/// with it, and naming an anonymous post would expose its author.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePost {
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub title: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub content: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Option<Category>)]
    pub category: Patch<Category>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateComment {
    /// 1..=1000 characters; markup is removed.
    pub content: String,
    #[serde(default)]
    pub is_anonymous: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateComment {
    /// 1..=1000 characters; markup is removed.
    pub content: String,
}

/// `{liked, like_count}`: the caller's like and the post's count after the request.
#[derive(Debug, Serialize, FromRow, ToSchema)]
pub struct LikeState {
    pub liked: bool,
    pub like_count: i32,
}

/// Text whose stored form (markup removed, by `clean`) has 1..=`max` characters. Input
/// beyond any such text (four bytes a character, three quarters of it markup) is refused
/// before it is parsed.
fn sized(
    input: &str,
    max: usize,
    too_long: &'static str,
    clean: fn(&str) -> String,
) -> Result<String, &'static str> {
    if input.len() > max * 4 * 4 {
        return Err(too_long);
    }
    let text = clean(input);
    match text.chars().count() {
        0 => Err("required"),
        n if n > max => Err(too_long),
        _ => Ok(text),
    }
}

pub fn title(input: &str) -> Result<String, &'static str> {
    sized(
        input,
        TITLE_MAX,
        "must be at most 100 characters",
        text::one_line,
    )
}

pub fn post_content(input: &str) -> Result<String, &'static str> {
    sized(
        input,
        POST_MAX,
        "must be at most 5000 characters",
        text::paragraphs,
    )
}

pub fn comment_content(input: &str) -> Result<String, &'static str> {
    sized(
        input,
        COMMENT_MAX,
        "must be at most 1000 characters",
        text::paragraphs,
    )
}

/// A validated new post.
pub struct NewPost {
    pub title: String,
    pub content: String,
    pub category: Category,
    pub is_anonymous: bool,
}

impl CreatePost {
    pub fn validate(self) -> Result<NewPost, shared::ApiError> {
        let mut f = Fields::default();
        let title = f.check("title", title(&self.title));
        let content = f.check("content", post_content(&self.content));
        let (title, content) = f.finish((title, content))?;
        Ok(NewPost {
            title,
            content,
            category: self.category,
            is_anonymous: self.is_anonymous,
        })
    }
}

/// A validated post edit: `None` leaves a field as it is.
pub struct PostEdit {
    pub title: Option<String>,
    pub content: Option<String>,
    pub category: Option<Category>,
}

impl UpdatePost {
    pub fn validate(self) -> Result<PostEdit, shared::ApiError> {
        let mut f = Fields::default();
        let title = f
            .check("title", self.title.required())
            .map(|t| t.and_then(|t| f.check("title", title(&t))));
        let content = f
            .check("content", self.content.required())
            .map(|c| c.and_then(|c| f.check("content", post_content(&c))));
        let category = f.check("category", self.category.required());
        let (title, content, category) = f.finish((title, content, category))?;
        Ok(PostEdit {
            title,
            content,
            category,
        })
    }
}

/// The first words of a text, for a notification.
pub fn snippet(text: &str) -> String {
    const WORDS: usize = 60;
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= WORDS {
        line
    } else {
        format!("{}…", line.chars().take(WORDS).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_count_what_is_stored() {
        assert_eq!(title("  <b>제목</b>  "), Ok("제목".into()));
        assert_eq!(title("<script>x</script>"), Err("required"));
        assert_eq!(title(&"가".repeat(100)), Ok("가".repeat(100)));
        assert!(title(&"가".repeat(101)).is_err());
        assert!(title(&format!("<i>{}</i>", "가".repeat(100))).is_ok());
        assert!(post_content(&"a".repeat(5000)).is_ok());
        assert!(post_content(&"a".repeat(5001)).is_err());
        assert!(
            post_content(&"<p></p>".repeat(100_000)).is_err(),
            "refused unparsed"
        );
        assert_eq!(comment_content("   "), Err("required"));
        assert!(comment_content(&"댓".repeat(1000)).is_ok());
        assert!(comment_content(&"댓".repeat(1001)).is_err());
    }

    #[test]
    fn categories_are_the_contracts_four() {
        for c in ["daily", "worry", "gratitude", "free"] {
            assert_eq!(Category::parse(c).unwrap().as_str(), c);
        }
        assert!(Category::parse("news").is_err());
    }

    #[test]
    fn snippets_are_one_short_line() {
        assert_eq!(snippet("고마워요\n정말로"), "고마워요 정말로");
        let long = snippet(&"가".repeat(100));
        assert_eq!(long.chars().count(), 61);
        assert!(long.ends_with('…'));
    }
}
