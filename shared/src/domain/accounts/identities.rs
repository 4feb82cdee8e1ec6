//! Provider identities (`user_identities`): who signs in through Google or Kakao, and the
//! rules that link an identity to an account without letting anyone take one over.
//!
//! - A known identity signs in to its account.
//! - A new identity links to an existing account only when the provider vouches for the
//!   email (verified) *and* the account has proved the same address itself (verified): an
//!   account someone registered with another person's address and never verified cannot be
//!   taken over through a provider, nor can it capture the provider's person.
//! - Otherwise a new account is made: with the provider's verified email when no account
//!   holds it (marked verified), else without an email; a nickname from the provider's name
//!   when free, else one made unique. Only verified addresses are stored, so a later password
//!   registration with a provider account's address meets EMAIL_TAKEN.

use rand::Rng;
use sqlx::PgConnection;
use uuid::Uuid;

use super::user::user_columns;
use super::{Email, Nickname, UserRow};
use crate::error::ApiError;
use crate::locale::Lang;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Google,
    Kakao,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Google => "google",
            Self::Kakao => "kakao",
        }
    }
}

/// Who a provider says signed in.
#[derive(Debug, Clone)]
pub struct Identity {
    pub provider: Provider,
    /// Google's `sub`, Kakao's numeric id.
    pub subject: String,
    /// The email, only when the provider says it is verified.
    pub verified_email: Option<Email>,
    /// A name the provider knows them by, for a new account's nickname.
    pub name: Option<String>,
}

/// The account `identity` signs in to, linked or made as the module's rules say, in the
/// caller's transaction. `true` when the account is new.
pub async fn sign_in(
    db: &mut PgConnection,
    identity: &Identity,
    locale: Lang,
) -> Result<(UserRow, bool), ApiError> {
    if let Some(user) = known(db, identity).await? {
        return Ok((user, false));
    }
    let linkable = match &identity.verified_email {
        Some(email) => sqlx::query_scalar::<_, Uuid>(
            "SELECT id FROM users WHERE email = $1 AND email_verified_at IS NOT NULL FOR UPDATE",
        )
        .bind(email.as_str())
        .fetch_optional(&mut *db)
        .await?,
        None => None,
    };
    let (user_id, created) = match linkable {
        Some(id) => (id, false),
        None => (create(db, identity, locale).await?, true),
    };
    let linked = sqlx::query(
        "INSERT INTO user_identities (provider, subject, user_id, email) VALUES ($1, $2, $3, $4)
         ON CONFLICT (provider, subject) DO NOTHING",
    )
    .bind(identity.provider.as_str())
    .bind(&identity.subject)
    .bind(user_id)
    .bind(identity.verified_email.as_ref().map(Email::as_str))
    .execute(&mut *db)
    .await?
    .rows_affected();
    if linked == 0 {
        // The same identity's first sign-in raced this one and won: use its account (the
        // caller's transaction rolls back the account this one made).
        return Err(ApiError::conflict());
    }
    let user = super::find(db, user_id)
        .await?
        .ok_or_else(|| ApiError::internal("a linked account vanished"))?;
    Ok((user, created))
}

async fn known(db: &mut PgConnection, identity: &Identity) -> Result<Option<UserRow>, ApiError> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE id = (SELECT user_id FROM user_identities
                                 WHERE provider = $1 AND subject = $2)"
    ))
    .bind(identity.provider.as_str())
    .bind(&identity.subject)
    .fetch_optional(db)
    .await?)
}

/// A new provider-only account; its id.
async fn create(
    db: &mut PgConnection,
    identity: &Identity,
    locale: Lang,
) -> Result<Uuid, ApiError> {
    let email = match &identity.verified_email {
        Some(email) => {
            let taken: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM users WHERE email = $1)")
                    .bind(email.as_str())
                    .fetch_one(&mut *db)
                    .await?;
            (!taken).then_some(email)
        }
        None => None,
    };
    for nickname in nicknames(identity.name.as_deref()) {
        let id = Uuid::now_v7();
        let made = sqlx::query(
            "INSERT INTO users (id, email, email_verified_at, nickname, locale)
             VALUES ($1, $2, CASE WHEN $2::text IS NULL THEN NULL ELSE now() END, $3, $4)
             ON CONFLICT DO NOTHING",
        )
        .bind(id)
        .bind(email.map(Email::as_str))
        .bind(nickname.as_str())
        .bind(locale.as_str())
        .execute(&mut *db)
        .await?
        .rows_affected();
        if made == 1 {
            return Ok(id);
        }
    }
    Err(ApiError::conflict())
}

/// Nicknames to try, in order: the provider's name, then it (or "마음이") with four
/// random digits, each as the rules for nicknames allow.
fn nicknames(name: Option<&str>) -> Vec<Nickname> {
    let base: String = name
        .and_then(|n| Nickname::parse(n.trim()).ok())
        .map(|n| n.as_str().chars().take(15).collect())
        .unwrap_or_else(|| "마음이".to_owned());
    let mut rng = rand::thread_rng();
    let mut candidates: Vec<String> = name.map(|n| n.trim().to_owned()).into_iter().collect();
    candidates.extend((0..8).map(|_| format!("{base}{:04}", rng.gen_range(0..10_000))));
    candidates
        .into_iter()
        .filter_map(|c| Nickname::parse(&c).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nicknames_come_from_the_name_or_a_default_and_are_valid() {
        let from_name = nicknames(Some("김하늘"));
        assert_eq!(from_name[0].as_str(), "김하늘");
        assert!(
            from_name[1..]
                .iter()
                .all(|n| n.as_str().starts_with("김하늘"))
        );
        let without = nicknames(None);
        assert!(without.iter().all(|n| n.as_str().starts_with("마음이")));
        assert_eq!(without.len(), 8);
        // A name the rules refuse (symbols) is not used.
        let refused = nicknames(Some("<script>"));
        assert!(refused.iter().all(|n| n.as_str().starts_with("마음이")));
        let long = nicknames(Some("가나다라마바사아자차카타파하가나다라마바"));
        assert!(long.iter().all(|n| n.as_str().chars().count() <= 20));
    }
}
