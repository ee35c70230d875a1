//! Passwords: argon2id at or above OWASP's minimum (m = 19 MiB, t = 2,
//! p = 1), a length and common-password policy, and re-hashing when a
//! stored hash was made with weaker parameters.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

pub const MIN_LENGTH: usize = 12;
pub const MEMORY_KIB: u32 = 19 * 1024;
pub const ITERATIONS: u32 = 2;
pub const PARALLELISM: u32 = 1;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyError {
    #[error("passwords need at least {MIN_LENGTH} characters")]
    TooShort,
    #[error("that password is too common; choose another")]
    Common,
    #[error("passwords may not exceed 1024 bytes")]
    TooLong,
}

fn hasher() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).expect("valid constants");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Common passwords of policy length and the patterns behind most of
/// them; compared case-insensitively.
const COMMON: &[&str] = &[
    "123456789012",
    "1234567890123",
    "12345678901234",
    "123456789012345",
    "1234567890qwerty",
    "qwertyuiop12",
    "qwerty123456",
    "qwertyuiopasdf",
    "qwertyuiopasdfgh",
    "1q2w3e4r5t6y",
    "1qaz2wsx3edc",
    "password1234",
    "password12345",
    "password123456",
    "passwordpassword",
    "iloveyou1234",
    "abcdefghijkl",
    "abcdefgh1234",
    "abc123456789",
    "administrator",
    "letmein12345",
    "welcome12345",
    "changeme1234",
    "monitoring123",
    "trustno1trustno1",
    "football1234",
    "baseball1234",
    "superman1234",
    "starwars1234",
    "princess1234",
    "dragon123456",
    "sunshine1234",
    "whatever1234",
    "mypassword123",
    "p@ssw0rd1234",
    "passw0rd1234",
    "admin1234567",
    "adminadmin123",
    "rootroot1234",
    "dozordozor12",
];

pub fn check_policy(password: &str) -> Result<(), PolicyError> {
    if password.chars().count() < MIN_LENGTH {
        return Err(PolicyError::TooShort);
    }
    if password.len() > 1024 {
        return Err(PolicyError::TooLong);
    }
    let lower = password.to_lowercase();
    let one_char = lower.chars().all(|c| lower.starts_with(c));
    let digits_run = "01234567890123456789";
    let letters_run = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz";
    if one_char
        || COMMON.contains(&lower.as_str())
        || digits_run.contains(&lower)
        || letters_run.contains(&lower)
    {
        return Err(PolicyError::Common);
    }
    Ok(())
}

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`).
pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 with valid parameters cannot fail")
        .to_string()
}

/// Verifies with the parameters stored in the hash itself.
pub fn verify(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(h) => Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok(),
        Err(_) => false,
    }
}

/// The (m, t, p) a stored hash was made with.
pub fn params_of(stored: &str) -> Option<(u32, u32, u32)> {
    let h = PasswordHash::new(stored).ok()?;
    let p = Params::try_from(&h).ok()?;
    Some((p.m_cost(), p.t_cost(), p.p_cost()))
}

/// True when the hash is not argon2id or weaker than today's parameters,
/// so a successful login should store a fresh hash.
pub fn needs_rehash(stored: &str) -> bool {
    let Ok(h) = PasswordHash::new(stored) else {
        return true;
    };
    if h.algorithm.as_str() != "argon2id" {
        return true;
    }
    match params_of(stored) {
        Some((m, t, p)) => m < MEMORY_KIB || t < ITERATIONS || p != PARALLELISM,
        None => true,
    }
}

/// Burns the same work as a real verification, so an unknown user takes
/// as long to refuse as a wrong password (no enumeration by timing).
pub fn verify_dummy(password: &str) {
    use std::sync::OnceLock;
    static DUMMY: OnceLock<String> = OnceLock::new();
    let h = DUMMY.get_or_init(|| hash("dozor-dummy-password-for-timing"));
    let _ = verify(password, h);
}

/// Argon2id computations allowed at once. Each takes 19 MiB and tens of
/// milliseconds of CPU: a burst of sign-ins queues here, on blocking
/// threads, instead of running on (and stalling) the async workers that
/// serve ingest, or filling memory with hundreds at once.
fn slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| {
        let n = std::thread::available_parallelism().map_or(2, |n| n.get());
        tokio::sync::Semaphore::new(n.max(2))
    })
}

async fn off_the_async_threads<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let _slot = slots()
        .acquire()
        .await
        .expect("the semaphore is never closed");
    tokio::task::spawn_blocking(f)
        .await
        .expect("argon2 does not panic")
}

/// [`hash`], on a blocking thread within the concurrency bound. Every
/// request handler uses these, never the synchronous ones.
pub async fn hash_off_thread(password: &str) -> String {
    let password = password.to_string();
    off_the_async_threads(move || hash(&password)).await
}

/// [`verify`], on a blocking thread within the concurrency bound.
pub async fn verify_off_thread(password: &str, stored: &str) -> bool {
    let (password, stored) = (password.to_string(), stored.to_string());
    off_the_async_threads(move || verify(&password, &stored)).await
}

/// [`verify_dummy`], on a blocking thread within the concurrency bound.
pub async fn verify_dummy_off_thread(password: &str) {
    let password = password.to_string();
    off_the_async_threads(move || verify_dummy(&password)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// On a single-threaded runtime a ticker keeps ticking while passwords
    /// are hashed and checked: the work is not on the async thread.
    #[tokio::test(flavor = "current_thread")]
    async fn hashing_leaves_the_async_thread_free() {
        let stored = hash("correct horse battery");
        let one = std::time::Instant::now();
        verify("correct horse battery", &stored);
        let one = one.elapsed();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let ticker = {
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut longest = std::time::Duration::ZERO;
                let mut last = std::time::Instant::now();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                    longest = longest.max(last.elapsed());
                    last = std::time::Instant::now();
                }
                longest
            })
        };
        let checks: Vec<_> = (0..6)
            .map(|i| {
                let stored = stored.clone();
                tokio::spawn(async move {
                    if i % 2 == 0 {
                        verify_off_thread("correct horse battery", &stored).await
                    } else {
                        !hash_off_thread("x").await.is_empty()
                    }
                })
            })
            .collect();
        for c in checks {
            assert!(c.await.unwrap());
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let longest = ticker.await.unwrap();
        // Six computations in a row would have stopped the ticker for
        // about six times `one`; off the thread it keeps going.
        assert!(
            longest < one,
            "the ticker stalled {longest:?} (one check takes {one:?})"
        );
    }

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters() {
        let h = hash("correct horse battery");
        assert!(h.starts_with("$argon2id$v=19$"), "{h}");
        assert_eq!(params_of(&h), Some((19 * 1024, 2, 1)));
        assert!(verify("correct horse battery", &h));
        assert!(!verify("correct horse batterx", &h));
        assert!(!needs_rehash(&h));
        assert!(!verify("anything", "not a hash"));
    }

    #[test]
    fn weaker_hashes_are_upgraded() {
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(4096, 1, 1, None).unwrap(),
        )
        .hash_password(b"correct horse battery", &SaltString::generate(&mut OsRng))
        .unwrap()
        .to_string();
        assert!(verify("correct horse battery", &weak));
        assert!(needs_rehash(&weak));
        let argon2i = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x13,
            Params::new(19 * 1024, 2, 1, None).unwrap(),
        )
        .hash_password(b"x", &SaltString::generate(&mut OsRng))
        .unwrap()
        .to_string();
        assert!(needs_rehash(&argon2i));
    }

    #[test]
    fn policy() {
        assert_eq!(check_policy("short"), Err(PolicyError::TooShort));
        assert_eq!(check_policy("Password1234"), Err(PolicyError::Common));
        assert_eq!(check_policy("aaaaaaaaaaaaaa"), Err(PolicyError::Common));
        assert_eq!(check_policy("3456789012345"), Err(PolicyError::Common));
        assert_eq!(check_policy("nopqrstuvwxyz"), Err(PolicyError::Common));
        assert_eq!(check_policy("correct horse battery"), Ok(()));
        // Length counts characters, not bytes.
        assert_eq!(check_policy("пароль-длинный"), Ok(()));
    }
}
