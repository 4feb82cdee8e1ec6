//! `Patch<T>`: one field of a PATCH body — absent (leave it), `null` (clear it) or a value.

use serde::{Deserialize, Deserializer};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub enum Patch<T> {
    #[default]
    Absent,
    Null,
    Value(T),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Patch<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match Option::<T>::deserialize(d)? {
            None => Self::Null,
            Some(v) => Self::Value(v),
        })
    }
}

impl<T> Patch<T> {
    /// For fields that cannot be cleared: `None` when absent, the value when given, and the
    /// problem "may not be null" for `null`.
    pub fn required(self) -> Result<Option<T>, &'static str> {
        match self {
            Self::Absent => Ok(None),
            Self::Null => Err("may not be null"),
            Self::Value(v) => Ok(Some(v)),
        }
    }
}
