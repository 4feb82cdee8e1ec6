//! argon2id with OWASP's parameters (m = 19456 KiB, t = 2, p = 1), off the async runtime.
//! An unknown account is checked against a dummy hash so that it costs the same as a wrong
//! password.

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};
use rand::RngCore;

use super::Password;
use crate::error::ApiError;

/// Each hash takes ~35 ms of a core and 19 MiB of memory: bound how many run at once, so a
/// burst of logins queues instead of exhausting memory (and the blocking thread pool).
fn permits() -> &'static tokio::sync::Semaphore {
    static PERMITS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    PERMITS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        tokio::sync::Semaphore::new(cores * 2)
    })
}

/// Runs one argon2 computation on the blocking pool, within the bound above.
async fn bounded<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    let _permit = permits().acquire().await.map_err(ApiError::internal)?;
    tokio::task::spawn_blocking(work)
        .await
        .map_err(ApiError::internal)
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(19_456, 2, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

fn hash_blocking(password: &str) -> Result<String, ApiError> {
    let mut salt = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut salt);
    argon2()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(ApiError::internal)
}

pub async fn hash(password: &Password) -> Result<String, ApiError> {
    let password = password.expose().to_owned();
    bounded(move || hash_blocking(&password)).await?
}

/// The hash of a random password nobody knows, with the same parameters: checking a password
/// against it costs what checking a real one costs. A constant, so no start-up work.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$hgDCiIqneA2Lf+jRkQ02Sw$JjDM6NQOdBZhhuo0XH7iEzQ7FVhbNHckZV2PvmoZ02I";

/// Whether `password` matches `stored`; with no stored hash (unknown account or OAuth-only),
/// the same work is done against a dummy hash and the answer is false.
pub async fn verify(password: &str, stored: Option<&str>) -> Result<bool, ApiError> {
    let password = password.to_owned();
    let stored = stored.map(str::to_owned);
    bounded(move || {
        let (hash, real) = match &stored {
            Some(h) => (h.as_str(), true),
            None => (DUMMY_HASH, false),
        };
        let matches = argon2().verify_password(password.as_bytes(), hash).is_ok();
        matches && real
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let password = Password::parse("correct horse battery").unwrap();
        let h = hash(&password).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse battery", Some(&h)).await.unwrap());
        assert!(!verify("wrong horse battery", Some(&h)).await.unwrap());
        assert!(
            !verify("dummy password for unknown accounts", None)
                .await
                .unwrap()
        );
        assert_ne!(h, hash(&password).await.unwrap(), "salted");
    }
}
