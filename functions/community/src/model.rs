//! The bodies that make and change posts and comments, and their rules (the shapes the API
//! shows are `shared::domain::community`'s).

use serde::Deserialize;
use shared::Fields;
use shared::domain::community::Category;
use shared::domain::community::posts::{NewPost, PostEdit};
use shared::http::Patch;
use utoipa::ToSchema;

use crate::text;

pub const TITLE_MAX: usize = 100;
pub const POST_MAX: usize = 5000;
pub const COMMENT_MAX: usize = 1000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePost {
    /// One line; markup is removed.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"[^\s\x00-\x1f\x7f-\x9f\ufeff]"
    )]
    pub title: String,
    /// Markup is removed.
    #[schema(
        min_length = 1,
        max_length = 5000,
        pattern = r"[^\s\x00-\x1f\x7f-\x9f\ufeff]"
    )]
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
    #[schema(value_type = String, min_length = 1, max_length = 100, pattern = r"[^\s\x00-\x1f\x7f-\x9f\ufeff]")]
    pub title: Patch<String>,
    #[serde(default)]
    #[schema(value_type = String, min_length = 1, max_length = 5000, pattern = r"[^\s\x00-\x1f\x7f-\x9f\ufeff]")]
    pub content: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Category)]
    pub category: Patch<Category>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateComment {
    /// Markup is removed.
    #[schema(
        min_length = 1,
        max_length = 1000,
        pattern = r"[^\s\x00-\x1f\x7f-\x9f\ufeff]"
    )]
    pub content: String,
    #[serde(default)]
    pub is_anonymous: bool,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateComment {
    /// Markup is removed.
    #[schema(
        min_length = 1,
        max_length = 1000,
        pattern = r"[^\s\x00-\x1f\x7f-\x9f\ufeff]"
    )]
    pub content: String,
}

/// Text of at most `max` characters as typed (as `shared::text` bounds text) whose stored
/// form (markup removed, by `clean`) is not empty.
fn sized(
    input: &str,
    max: usize,
    too_long: &'static str,
    clean: fn(&str) -> String,
) -> Result<String, &'static str> {
    if input.chars().count() > max {
        return Err(too_long);
    }
    match clean(input) {
        text if text.is_empty() => Err("required"),
        text => Ok(text),
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
    use shared::testing::{assert_text_bounds, schema_of};

    #[test]
    fn the_document_states_the_validators_bounds() {
        for post in [schema_of::<CreatePost>(), schema_of::<UpdatePost>()] {
            let field = |name: &str| post["properties"][name].clone();
            assert_text_bounds("title", &field("title"), |t| title(t).is_ok());
            assert_text_bounds("content", &field("content"), |t| post_content(t).is_ok());
        }
        for comment in [schema_of::<CreateComment>(), schema_of::<UpdateComment>()] {
            assert_text_bounds("content", &comment["properties"]["content"], |t| {
                comment_content(t).is_ok()
            });
        }
    }

    #[test]
    fn lengths_count_what_is_typed_and_markup_alone_is_nothing() {
        assert_eq!(title("  <b>제목</b>  "), Ok("제목".into()));
        assert_eq!(title("<script>x</script>"), Err("required"));
        assert_eq!(title(&"가".repeat(100)), Ok("가".repeat(100)));
        assert!(title(&"가".repeat(101)).is_err());
        assert!(title(&format!("<i>{}</i>", "가".repeat(93))).is_ok());
        assert!(title(&format!("<i>{}</i>", "가".repeat(94))).is_err());
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
    fn snippets_are_one_short_line() {
        assert_eq!(snippet("고마워요\n정말로"), "고마워요 정말로");
        let long = snippet(&"가".repeat(100));
        assert_eq!(long.chars().count(), 61);
        assert!(long.ends_with('…'));
    }
}
