//! Storage errors, classified so HTTP can answer 503 (retry later) for an
//! unreachable database and 500 for everything else.

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database cannot be reached or is overloaded; the caller should
    /// retry with backoff.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("cannot open storage: {0}")]
    Open(String),
    #[error("migration failed: {0}")]
    Migrate(String),
    /// Two different label sets with one 64-bit fingerprint. Never seen in
    /// practice; reported rather than silently merging series.
    #[error("series fingerprint collision between {0} and {1}")]
    Collision(String, String),
    #[error("sample timestamp {ts_ms} cannot be stored: {reason}")]
    OutOfRange { ts_ms: i64, reason: String },
    /// A stored chunk that does not decode: damaged on disk.
    #[error("storage error: {0}")]
    Corrupt(String),
    #[error("storage error: {0}")]
    Other(String),
}

impl StorageError {
    pub fn is_unavailable(&self) -> bool {
        matches!(self, StorageError::Unavailable(_))
    }
}

impl From<sqlx::Error> for StorageError {
    fn from(e: sqlx::Error) -> Self {
        use sqlx::Error as E;
        match &e {
            E::Io(_) | E::Tls(_) | E::PoolTimedOut | E::PoolClosed | E::WorkerCrashed => {
                StorageError::Unavailable(e.to_string())
            }
            E::Database(db) => {
                let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
                if unavailable_code(&code) {
                    StorageError::Unavailable(e.to_string())
                } else {
                    StorageError::Other(e.to_string())
                }
            }
            _ => StorageError::Other(e.to_string()),
        }
    }
}

/// SQLSTATE classes 08 (connection), 53 (resources, e.g. disk full), 57P
/// (shutdown / cannot connect now), 55000 (database not accepting
/// connections), 3D000 (database gone), 28xxx (login refused after a
/// credential change); SQLite BUSY, LOCKED, IOERR, FULL, CANTOPEN (primary
/// codes 5, 6, 10, 13, 14, possibly extended). All of these are conditions
/// an operator fixes while agents keep their data and retry.
fn unavailable_code(code: &str) -> bool {
    if ["08", "53", "57P", "28"]
        .iter()
        .any(|p| code.starts_with(p))
        || code == "55000"
        || code == "3D000"
    {
        return true;
    }
    match code.parse::<i64>() {
        Ok(n) => matches!(n & 0xff, 5 | 6 | 10 | 13 | 14),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_codes() {
        for c in [
            "08006", "57P01", "57P03", "53100", "55000", "3D000", "28P01", "5", "517", "13", "14",
        ] {
            assert!(unavailable_code(c), "{c}");
        }
        for c in ["23505", "42P01", "19", "2067", ""] {
            assert!(!unavailable_code(c), "{c}");
        }
        assert!(StorageError::from(sqlx::Error::PoolTimedOut).is_unavailable());
        assert!(!StorageError::from(sqlx::Error::RowNotFound).is_unavailable());
    }
}
