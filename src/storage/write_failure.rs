//! An object a storage target could not write while others could.

/// What a target could not write, and why: said at the end of the run, in its report and in its
/// notifications.
#[derive(Clone, Debug, serde::Serialize)]
pub struct WriteFailure {
    pub target: String,
    pub object: String,
    pub why: String,
}

impl std::fmt::Display for WriteFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "target {}: `{}` not written: {}",
            self.target,
            super::shown(&self.object),
            self.why
        )
    }
}
