//! Rules and SQL that several functions share: accounts, sessions, one-time tokens, emails.

pub mod email;
pub mod journal;
pub mod one_time;
pub mod passwords;
pub mod sessions;
pub mod users;
