//! The HTTP edge shared by every function: extractors with envelope rejections, and the
//! rate limits applied at the edge.

pub mod auth;
pub mod client_ip;
pub mod json;
pub mod limits;
pub mod patch;
pub mod path;
pub mod query;

pub use auth::{AdminUser, AuthUser};
pub use client_ip::ClientIp;
pub use json::Json;
pub use limits::{PerUser, RouteLimit};
pub use patch::Patch;
pub use path::ResourceId;
pub use query::Query;
