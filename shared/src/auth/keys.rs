//! The Ed25519 keys of access tokens, from PEM: the private key (PKCS#8) that signs and the
//! public keys (SPKI) that verify, each named by its RFC 7638 thumbprint, the `kid`.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey};
use ed25519_dalek::{SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// A key that verifies access tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub kid: String,
    /// The raw 32-byte key (JWK `x`).
    pub x: [u8; 32],
}

impl PublicKey {
    fn of(key: &VerifyingKey) -> Self {
        let x = key.to_bytes();
        let jwk = format!(
            r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
            URL_SAFE_NO_PAD.encode(x)
        );
        Self {
            kid: URL_SAFE_NO_PAD.encode(Sha256::digest(jwk)),
            x,
        }
    }
}

/// The key that signs access tokens, as PKCS#8 DER. Its `Debug` shows only the `kid`.
#[derive(Clone)]
pub struct PrivateKey {
    pub public: PublicKey,
    pub pkcs8_der: Vec<u8>,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({})", self.public.kid)
    }
}

/// Every `PUBLIC KEY` of `pem` (at least one).
pub fn public_keys(pem: &str) -> Result<Vec<PublicKey>, String> {
    let keys = blocks(pem, "PUBLIC KEY")?
        .iter()
        .map(|der| {
            VerifyingKey::from_public_key_der(der)
                .map(|k| PublicKey::of(&k))
                .map_err(|_| "holds a public key that is not Ed25519".to_owned())
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(keys)
}

/// The one `PRIVATE KEY` of `pem`.
pub fn private_key(pem: &str) -> Result<PrivateKey, String> {
    let [der] = <[Vec<u8>; 1]>::try_from(blocks(pem, "PRIVATE KEY")?)
        .map_err(|_| "must hold exactly one private key".to_owned())?;
    let key = SigningKey::from_pkcs8_der(&der)
        .map_err(|_| "is not an Ed25519 private key (PKCS#8)".to_owned())?;
    Ok(PrivateKey {
        public: PublicKey::of(&key.verifying_key()),
        pkcs8_der: der,
    })
}

/// The DER of each `label` block of `pem`; anything else in it is an error.
fn blocks(pem: &str, label: &str) -> Result<Vec<Vec<u8>>, String> {
    let (begin, end) = (
        format!("-----BEGIN {label}-----"),
        format!("-----END {label}-----"),
    );
    let mut found = Vec::new();
    let mut body: Option<String> = None;
    // Escaped newlines: a PEM pasted into a one-line variable.
    let pem = pem.replace("\\n", "\n");
    for line in pem.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match &mut body {
            None if line == begin => body = Some(String::new()),
            None => return Err(format!("expected PEM {label} blocks")),
            Some(b64) if line == end => {
                let der = STANDARD
                    .decode(b64.as_bytes())
                    .map_err(|_| "holds a PEM block that is not base64".to_owned())?;
                found.push(der);
                body = None;
            }
            Some(b64) => b64.push_str(line),
        }
    }
    if body.is_some() {
        return Err("holds an unterminated PEM block".into());
    }
    if found.is_empty() {
        return Err(format!("holds no PEM {label}"));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PRIVATE: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIKeWYWd/9ooUTB2+oWns8dCnwMOonj1zGmyfGrLvpCqg
-----END PRIVATE KEY-----
";
    const PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAOxyV82F6iHOIZurCfhC85zYfHJ6RS5yF86FzwODFOJE=
-----END PUBLIC KEY-----
";
    const OTHER_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAwzql3hb+ZuOhl+EkGlYsLF18UpnWBvqueR5dgM4r0+0=
-----END PUBLIC KEY-----
";

    #[test]
    fn a_private_key_names_its_public_half() {
        let private = private_key(PRIVATE).unwrap();
        let public = public_keys(PUBLIC).unwrap();
        assert_eq!(public, std::slice::from_ref(&private.public));
        assert_eq!(private.public.kid.len(), 43, "base64url of SHA-256");
        assert!(!format!("{private:?}").contains(&URL_SAFE_NO_PAD.encode(&private.pkcs8_der)));
        // Escaped newlines, as in a one-line variable.
        assert_eq!(
            private_key(&PRIVATE.replace('\n', "\\n")).unwrap().public,
            private.public
        );
    }

    #[test]
    fn several_public_keys_during_a_rotation() {
        let both = public_keys(&format!("{PUBLIC}{OTHER_PUBLIC}")).unwrap();
        assert_eq!(both.len(), 2);
        assert_ne!(both[0].kid, both[1].kid);
    }

    #[test]
    fn anything_else_is_refused() {
        for bad in [
            "",
            "hello",
            PRIVATE,
            "-----BEGIN PUBLIC KEY-----\nMCow\n",
            "-----BEGIN PUBLIC KEY-----\n!!!\n-----END PUBLIC KEY-----",
        ] {
            assert!(public_keys(bad).is_err(), "{bad}");
        }
        assert!(private_key(PUBLIC).is_err());
        assert!(private_key(&format!("{PRIVATE}{PRIVATE}")).is_err());
        // An RSA public key (SPKI) is not Ed25519.
        let rsa = "-----BEGIN PUBLIC KEY-----\nMFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8QuKUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQ==\n-----END PUBLIC KEY-----";
        assert!(public_keys(rsa).is_err());
    }
}
