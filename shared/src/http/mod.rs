//! The HTTP edge shared by every function: extractors with envelope rejections.

pub mod auth;
pub mod client_ip;
pub mod json;
pub mod query;

pub use auth::{AdminUser, AuthUser};
pub use client_ip::ClientIp;
pub use json::Json;
pub use query::Query;
pub mod path;
pub use path::ResourceId;
pub mod patch;
pub use patch::Patch;
