//! Session tokens: a compact JWT signed with HS256 and a server secret.
//! Only HS256 is accepted (an allowlist, so `alg: none` and algorithm
//! confusion are refused before any signature work). The token names a
//! session id that storage must still hold, so logout, password change,
//! role change and disable revoke it at once.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// User id.
    pub sub: i64,
    /// Session id, checked against storage on every request.
    pub sid: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Absolute expiry, Unix seconds.
    pub exp: i64,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("token algorithm not allowed")]
    Algorithm,
    #[error("bad token signature")]
    Signature,
    #[error("token expired")]
    Expired,
}

/// The HMAC key. `Debug` never shows it.
#[derive(Clone)]
pub struct Keys([u8; 32]);

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(<redacted>)")
    }
}

const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

impl Keys {
    pub fn from_bytes(b: [u8; 32]) -> Self {
        Self(b)
    }

    /// Reads DATA_DIR/session-secret, creating it (mode 0600) on first start.
    pub fn load_or_create(data_dir: &Path) -> std::io::Result<Self> {
        let path = data_dir.join("session-secret");
        if let Ok(text) = std::fs::read_to_string(&path) {
            if let Ok(bytes) = hex::decode(text.trim()) {
                if let Ok(b) = <[u8; 32]>::try_from(bytes.as_slice()) {
                    return Ok(Self(b));
                }
            }
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} is not 64 hex digits", path.display()),
            ));
        }
        let mut b = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut b);
        dozor_collector::state::write_private(
            data_dir,
            "session-secret",
            hex::encode(b).as_bytes(),
        )?;
        Ok(Self(b))
    }

    fn mac(&self) -> Hmac<Sha256> {
        Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length")
    }

    /// A MAC of `msg` under the server secret (hex), for values the server
    /// hands out and must recognise later, such as device cookies.
    pub fn tag(&self, msg: &str) -> String {
        let mut mac = self.mac();
        mac.update(b"tag:");
        mac.update(msg.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..16])
    }

    pub fn sign(&self, claims: &Claims) -> String {
        let body = serde_json::to_vec(claims).expect("claims serialise");
        let signing = format!("{}.{}", B64.encode(HEADER), B64.encode(body));
        let mut mac = self.mac();
        mac.update(signing.as_bytes());
        format!("{signing}.{}", B64.encode(mac.finalize().into_bytes()))
    }

    pub fn verify(&self, token: &str, now_s: i64) -> Result<Claims, TokenError> {
        let mut parts = token.split('.');
        let (Some(h), Some(b), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let header: serde_json::Value = B64
            .decode(h)
            .ok()
            .and_then(|x| serde_json::from_slice(&x).ok())
            .ok_or(TokenError::Malformed)?;
        if header.get("alg").and_then(|a| a.as_str()) != Some("HS256") {
            return Err(TokenError::Algorithm);
        }
        let sig = B64.decode(s).map_err(|_| TokenError::Malformed)?;
        let mut mac = self.mac();
        mac.update(h.as_bytes());
        mac.update(b".");
        mac.update(b.as_bytes());
        // Constant-time comparison.
        mac.verify_slice(&sig).map_err(|_| TokenError::Signature)?;
        let claims: Claims = B64
            .decode(b)
            .ok()
            .and_then(|x| serde_json::from_slice(&x).ok())
            .ok_or(TokenError::Malformed)?;
        if now_s >= claims.exp {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims {
            sub: 7,
            sid: "s1".into(),
            iat: 1000,
            exp: 2000,
        }
    }

    #[test]
    fn round_trip_and_refusals() {
        let k = Keys::from_bytes([7; 32]);
        let t = k.sign(&claims());
        assert_eq!(k.verify(&t, 1500), Ok(claims()));
        assert_eq!(k.verify(&t, 2000), Err(TokenError::Expired));
        // Another key.
        assert_eq!(
            Keys::from_bytes([8; 32]).verify(&t, 1500),
            Err(TokenError::Signature)
        );
        // Tampered claims: a different user with the old signature.
        let mut parts: Vec<String> = t.split('.').map(str::to_string).collect();
        let mut evil = claims();
        evil.sub = 1;
        parts[1] = B64.encode(serde_json::to_vec(&evil).unwrap());
        assert_eq!(k.verify(&parts.join("."), 1500), Err(TokenError::Signature));
        // alg: none, with or without a signature.
        let none = format!(
            "{}.{}.",
            B64.encode(r#"{"alg":"none","typ":"JWT"}"#),
            parts[1]
        );
        assert_eq!(k.verify(&none, 1500), Err(TokenError::Algorithm));
        let hs512 = format!(
            "{}.{}.{}",
            B64.encode(r#"{"alg":"HS512"}"#),
            parts[1],
            parts[2]
        );
        assert_eq!(k.verify(&hs512, 1500), Err(TokenError::Algorithm));
        for junk in ["", "a.b", "a.b.c.d", "!!.!!.!!"] {
            assert_eq!(k.verify(junk, 1500), Err(TokenError::Malformed), "{junk}");
        }
        assert_eq!(format!("{k:?}"), "Keys(<redacted>)");
    }

    #[test]
    fn secret_file_is_private_and_stable() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let a = Keys::load_or_create(dir.path()).unwrap();
        let mode = std::fs::metadata(dir.path().join("session-secret"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let b = Keys::load_or_create(dir.path()).unwrap();
        assert_eq!(a.0, b.0);
    }
}
