//! Secrets: enrolment tokens and agent keys are 256-bit random strings;
//! only their SHA-256 is stored. A fast hash is right here (unlike for
//! passwords) because the input has full entropy: nothing to brute-force.

pub mod password;
pub mod session;

use rand::RngCore;
use sha2::{Digest, Sha256};

pub const AGENT_KEY_PREFIX: &str = "dzk_";
pub const ENROLL_TOKEN_PREFIX: &str = "dze_";
pub const API_TOKEN_PREFIX: &str = "dzt_";
pub const INVITE_PREFIX: &str = "dzi_";

pub fn generate(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.trim().as_bytes()))
}

/// The token from `Authorization: Bearer <token>`.
pub fn bearer(header: Option<&str>) -> Option<&str> {
    let h = header?;
    let (scheme, token) = h.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()).then(|| token.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_hashed() {
        let a = generate(AGENT_KEY_PREFIX);
        let b = generate(AGENT_KEY_PREFIX);
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 64);
        assert_eq!(hash_secret(&a).len(), 64);
        assert_ne!(hash_secret(&a), hash_secret(&b));
        assert_eq!(hash_secret(&a), hash_secret(&format!("{a}\n")));
    }

    #[test]
    fn parses_bearer() {
        assert_eq!(bearer(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer(Some("bearer  abc ")), Some("abc"));
        assert_eq!(bearer(Some("Basic abc")), None);
        assert_eq!(bearer(Some("Bearer ")), None);
        assert_eq!(bearer(None), None);
    }
}
