//! The store's typed errors.

use std::path::{Path, PathBuf};

use crate::domain::SessionId;

/// Everything that can go wrong in the store.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// Another process has the store open.
    #[error(
        "the store {path} is already open in another codelab-agent process; \
         stop it or start this one with a different --data-dir / CODELAB_DATA_DIR"
    )]
    Locked {
        /// The store file.
        path: PathBuf,
    },
    /// The file was written by a newer codelab-agent.
    #[error(
        "the store {path} has schema version {found}, newer than the {supported} this \
         codelab-agent understands; upgrade codelab-agent or use another --data-dir"
    )]
    TooNew {
        /// The store file.
        path: PathBuf,
        /// The version in the file.
        found: u64,
        /// The newest version this build understands.
        supported: u64,
    },
    /// The database was migrated by a newer codelab-agent.
    #[error(
        "the database {store} has schema version {found}, newer than the {supported} this \
         codelab-agent understands; upgrade codelab-agent or use another database"
    )]
    DatabaseTooNew {
        /// The database (its URL without the password).
        store: String,
        /// The version in the database.
        found: u64,
        /// The newest version this build understands.
        supported: u64,
    },
    /// A file-system error.
    #[error("{path}: {reason}")]
    Io {
        /// The path concerned.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// An error from redb or PostgreSQL.
    #[error("storage error: {0}")]
    Storage(String),
    /// A stored value could not be read back.
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// No such session.
    #[error("session {0} not found")]
    SessionNotFound(SessionId),
    /// The write was refused because it would break an invariant.
    #[error("invalid write: {0}")]
    Invalid(String),
    /// This instance lost the session's lease: another instance took the
    /// session over, and the write was refused (fencing).
    #[error(
        "session {session} was taken over by another instance (this one held lease generation \
         {generation}); the write was refused"
    )]
    Fenced {
        /// The session.
        session: SessionId,
        /// The generation this instance held.
        generation: u64,
    },
    /// The writer thread is gone (the process is shutting down).
    #[error("the store writer has stopped")]
    WriterStopped,
}

impl StoreError {
    pub(crate) fn from_open(path: &Path, err: redb::DatabaseError) -> Self {
        match err {
            redb::DatabaseError::DatabaseAlreadyOpen => Self::Locked {
                path: path.to_path_buf(),
            },
            other => Self::Io {
                path: path.to_path_buf(),
                reason: other.to_string(),
            },
        }
    }
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                Self::Storage(e.to_string())
            }
        }
    )*};
}

from_redb!(
    redb::Error,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);
