//! [`ErrorClass`]: the one classification every host library's errors give
//! (`RepoError::class`, `BundleError::class`, `CertError::class`, ...), so a
//! caller that turns errors into outcomes (the CLI's exit codes, in one
//! place: `cli/src/failure.rs`) decides per class, not per error type.

/// How an error should be treated by a caller that maps errors to outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorClass {
    /// A security refusal: threshold not met, signature invalid, content
    /// changed, verification failed.
    Security,
    /// Bad input or usage.
    Usage,
    /// The file system, a key store or the machine failed.
    Io,
}

impl ErrorClass {
    /// The machine reason of an error with no name of its own, by its
    /// class: `refused` (a security refusal), `usage` or `io`.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Security => "refused",
            Self::Usage => "usage",
            Self::Io => "io",
        }
    }
}
