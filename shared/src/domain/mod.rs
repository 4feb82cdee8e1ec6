//! Rules and SQL that several functions share. Each module owns its tables: every statement
//! that writes them is in it, and everyone else calls its typed API.
//!
//! - [`accounts`]: `users`, `sessions`, `one_time_tokens`
//! - [`journal`]: `emotion_days`, `emotion_daily_tags` (the mood journal's daily rollup)
//! - [`community`]: `posts`, `comments`, `post_likes` (community and admin moderation)
//! - [`files`]: `files`, `storage_garbage` (the files function and the image worker)
//! - [`notifications`]: `notifications`, written through `notify` in the notifier's transaction

pub mod accounts;
pub mod community;
pub mod files;
pub mod journal;
pub mod notifications;
