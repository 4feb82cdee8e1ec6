//! `from`/`to` query values: a local date (`YYYY-MM-DD`, both ends inclusive) or an RFC 3339
//! instant (`from` inclusive, `to` exclusive). Dates become instants in SQL, in the user's
//! time zone, so that DST and midnight are PostgreSQL's (IANA) business.

use chrono::{DateTime, Datelike, NaiveDate, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    Date(NaiveDate),
    Instant(DateTime<Utc>),
}

impl Bound {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        if let Ok(date) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
            // chrono also reads signed and five-digit years (PostgreSQL's dates end in
            // 4713 BC); RFC 3339's, like the document's `format: date`, have four digits.
            return if (0..=9999).contains(&date.year()) {
                Ok(Self::Date(date))
            } else {
                Err("must be a date (YYYY-MM-DD) or an RFC 3339 instant")
            };
        }
        DateTime::parse_from_rfc3339(raw)
            .map(|t| Self::Instant(t.with_timezone(&Utc)))
            .map_err(|_| "must be a date (YYYY-MM-DD) or an RFC 3339 instant")
    }

    pub fn date(self) -> Option<NaiveDate> {
        match self {
            Self::Date(d) => Some(d),
            Self::Instant(_) => None,
        }
    }

    pub fn instant(self) -> Option<DateTime<Utc>> {
        match self {
            Self::Instant(t) => Some(t),
            Self::Date(_) => None,
        }
    }
}

/// Splits optional bounds into the four nullable SQL parameters.
pub fn binds(bound: Option<Bound>) -> (Option<NaiveDate>, Option<DateTime<Utc>>) {
    (bound.and_then(Bound::date), bound.and_then(Bound::instant))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_instants() {
        assert_eq!(
            Bound::parse("2025-01-15"),
            Ok(Bound::Date(NaiveDate::from_ymd_opt(2025, 1, 15).unwrap()))
        );
        let t = Bound::parse("2025-01-15T09:30:00+09:00").unwrap();
        assert_eq!(
            t.instant().unwrap().to_rfc3339(),
            "2025-01-15T00:30:00+00:00"
        );
        for bad in [
            "2025-13-01",
            "yesterday",
            "2025-01-15T25:00:00Z",
            "",
            "-5000-01-01",
            "+10000-01-01",
        ] {
            assert!(Bound::parse(bad).is_err(), "{bad}");
        }
    }
}
