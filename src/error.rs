//! The one error type of the core and the store (style.md convention 4).
//!
//! Protocol layers translate it into their own wire format; `Internal` detail is logged
//! with the request id and never sent to a client.

use std::fmt;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Absent, hidden, or another tenant's: indistinguishable on purpose.
    #[error("not found")]
    NotFound,
    /// Conflicts with the current state (`name_taken`, `email_in_use`, ...).
    #[error("{message}")]
    Conflict { code: &'static str, message: String },
    /// The caller can see the object but may not do this to it.
    #[error("{message}")]
    Forbidden { code: &'static str, message: String },
    /// Bad input; `code` names the problem.
    #[error("{message}")]
    Invalid { code: &'static str, message: String },
    /// No credentials, or credentials that are not valid here.
    #[error("{message}")]
    Unauthenticated { code: &'static str, message: String },
    /// `If-Match` names a version that is no longer current.
    #[error("the resource changed since it was read (If-Match does not match)")]
    Stale,
    /// Anything else. The text is for logs only.
    #[error("internal error: {0}")]
    Internal(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn invalid(code: &'static str, message: impl fmt::Display) -> Self {
        Error::Invalid {
            code,
            message: message.to_string(),
        }
    }

    pub fn conflict(code: &'static str, message: impl fmt::Display) -> Self {
        Error::Conflict {
            code,
            message: message.to_string(),
        }
    }

    pub fn forbidden(code: &'static str, message: impl fmt::Display) -> Self {
        Error::Forbidden {
            code,
            message: message.to_string(),
        }
    }

    pub fn internal(message: impl fmt::Display) -> Self {
        Error::Internal(message.to_string())
    }

    /// The machine-readable code of this error.
    pub fn code(&self) -> &'static str {
        match self {
            Error::NotFound => "not_found",
            Error::Conflict { code, .. }
            | Error::Forbidden { code, .. }
            | Error::Invalid { code, .. }
            | Error::Unauthenticated { code, .. } => code,
            Error::Stale => "precondition_failed",
            Error::Internal(_) => "internal",
        }
    }
}
