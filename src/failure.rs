//! Why a run ended without success, and the exit code each reason maps to.

use crate::diag::{Diag, Invalid};

/// Why a run ended without success, and its exit code.
#[derive(Debug)]
pub enum Failure {
    /// Invalid input: nothing was touched. Exit 2.
    Invalid(Invalid),
    /// A step failed, or the confirmation was declined. Exit 1.
    Failed(String),
    /// Refused: a host lock is held by another run. Exit 3.
    Refused(String),
    /// A problem of the machine or the world (a file that cannot be written). Exit 1.
    Other(String),
}

impl Failure {
    pub fn exit_code(&self) -> i32 {
        match self {
            Failure::Invalid(_) => 2,
            Failure::Failed(_) | Failure::Other(_) => 1,
            Failure::Refused(_) => 3,
        }
    }

    pub fn into_report(self) -> miette::Report {
        match self {
            Failure::Invalid(i) => miette::Report::new(i),
            Failure::Failed(m) | Failure::Refused(m) | Failure::Other(m) => miette::miette!("{m}"),
        }
    }

    /// One diagnostic as invalid input.
    pub fn invalid(d: Diag) -> Failure {
        Failure::Invalid(Invalid(vec![d], 0))
    }
}

impl From<Invalid> for Failure {
    fn from(i: Invalid) -> Self {
        Failure::Invalid(i)
    }
}
