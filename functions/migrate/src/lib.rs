//! The migrate job's commands besides applying migrations.

pub mod rekey;
