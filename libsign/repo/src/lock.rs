//! The repository lock: commands that change a repository hold it
//! exclusively for their whole run; read-only commands hold it shared.
//!
//! It is an advisory lock (`flock(2)` through `std::fs::File::lock`) on
//! `DIR/.fwsign.lock`, so it orders fwsign processes on one machine and one
//! local file system. It does not order processes on two machines sharing a
//! repository, and network file systems may not honour it (NFS emulates
//! `flock` with byte-range locks, SMB varies): a repository shared that way
//! needs one release machine, or a CI concurrency guard, in front of it.
//!
//! The holder of the exclusive lock writes who it is (command, process ID,
//! host, since when) into the lock file, so a waiter that gives up can name
//! it, and erases it when it releases the lock. A crashed holder's lock is
//! released by the kernel with its process; its stale description is
//! overwritten by the next holder, and a waiter does not name a holder on
//! its own host whose process is gone.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// The lock file's name inside the repository.
pub const LOCK_FILE: &str = ".fwsign.lock";

/// The default `--lock-timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// How often a waiter tries again.
const POLL: Duration = Duration::from_millis(25);

/// Who holds (or last held) the exclusive lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// The command (`repo publish`).
    pub command: String,
    /// Its process ID.
    pub pid: u32,
    /// The machine it runs on.
    pub host: String,
    /// When it took the lock (seconds since the Unix epoch).
    pub since: i64,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let since = fwsign_manifest_schema::expiry::UnixTime(self.since)
            .to_expires()
            .unwrap_or_else(|| self.since.to_string());
        write!(
            f,
            "`{}` (process {} on {}, since {since})",
            self.command, self.pid, self.host
        )
    }
}

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// Another command held the lock for longer than the timeout.
    #[error("{path}: the repository is locked by {holder}; gave up after {waited:?} (--lock-timeout)", holder = match .holder { Some(h) => h.to_string(), None => "another fwsign command (a reader, or a writer still naming itself)".to_owned() })]
    Timeout {
        /// The lock file.
        path: PathBuf,
        /// The exclusive holder, when one wrote its name.
        holder: Option<Holder>,
        /// How long this command waited.
        waited: Duration,
    },
    /// The lock file could not be opened or locked.
    #[error("{path}: cannot lock the repository: {source}")]
    Io {
        /// The lock file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

/// Which lock a command takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockKind {
    /// A command that changes the repository.
    Exclusive,
    /// A command that only reads it.
    Shared,
}

/// A held lock (released on drop), or the note that a read-only command
/// runs without one.
#[derive(Debug)]
pub enum RepoLock {
    /// The lock is held until this value is dropped.
    Held {
        /// The open lock file.
        file: File,
        /// Which lock.
        kind: LockKind,
    },
    /// A read-only command on a repository it cannot write (an auditor's
    /// read-only copy): no lock file can be created, so none is taken.
    Unlocked {
        /// Why (for the CLI to say so).
        reason: String,
    },
}

impl RepoLock {
    /// Takes the lock on repository `dir` for `command`, waiting up to
    /// `timeout` (zero: fail at once).
    pub fn acquire(
        dir: &Path,
        kind: LockKind,
        command: &str,
        timeout: Duration,
    ) -> Result<Self, LockError> {
        let path = dir.join(LOCK_FILE);
        let io_err = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        let file = match OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
        {
            Ok(file) => file,
            Err(e) if kind == LockKind::Shared && read_only_error(&e) => {
                return Ok(Self::Unlocked {
                    reason: format!(
                        "{}: repository is read-only ({e}); reading it without the lock",
                        dir.display()
                    ),
                });
            }
            Err(e) => return Err(io_err(e)),
        };
        let start = Instant::now();
        loop {
            let attempt = match kind {
                LockKind::Exclusive => file.try_lock(),
                LockKind::Shared => file.try_lock_shared(),
            };
            match attempt {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(e)) => return Err(io_err(e)),
            }
            let waited = start.elapsed();
            if waited >= timeout {
                return Err(LockError::Timeout {
                    holder: read_holder(&path).filter(still_running),
                    path,
                    waited,
                });
            }
            std::thread::sleep(POLL.min(timeout.saturating_sub(waited)));
        }
        if kind == LockKind::Exclusive {
            write_holder(&file, command).map_err(io_err)?;
        }
        Ok(Self::Held { file, kind })
    }

    /// Whether this is the exclusive lock, held.
    pub fn is_exclusive(&self) -> bool {
        matches!(
            self,
            Self::Held {
                kind: LockKind::Exclusive,
                ..
            }
        )
    }

    /// Why no lock is held, if none is.
    pub fn unlocked_reason(&self) -> Option<&str> {
        match self {
            Self::Held { .. } => None,
            Self::Unlocked { reason } => Some(reason),
        }
    }
}

impl Drop for RepoLock {
    fn drop(&mut self) {
        // The description goes while the lock is still held (it is released
        // when the file closes, after this), so no waiter names a command
        // that has finished.
        if let Self::Held {
            file,
            kind: LockKind::Exclusive,
        } = self
        {
            let _ = file.set_len(0);
        }
    }
}

/// Whether a holder may still be running: always, unless it ran on this
/// host and its process is gone (where `/proc` tells).
fn still_running(holder: &Holder) -> bool {
    let proc = Path::new("/proc");
    holder.host != host_name()
        || !proc.join("self").exists()
        || proc.join(holder.pid.to_string()).exists()
}

fn read_only_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem
    )
}

/// The exclusive holder named in the lock file, if one wrote its name.
pub fn read_holder(path: &Path) -> Option<Holder> {
    let mut text = String::new();
    File::open(path).ok()?.read_to_string(&mut text).ok()?;
    serde_json::from_str(text.trim_end_matches('\0').trim()).ok()
}

fn write_holder(mut file: &File, command: &str) -> io::Result<()> {
    let holder = Holder {
        command: command.to_owned(),
        pid: std::process::id(),
        host: host_name(),
        since: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
    };
    let mut line = serde_json::to_string(&holder).map_err(io::Error::other)?;
    line.push('\n');
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(line.as_bytes())?;
    // Not synced: the description only matters while this process lives.
    Ok(())
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown host".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh directory of the test's own under the system temp dir, and its
    /// path: the directory is removed when the guard is dropped (also when
    /// the test fails), so keep the guard bound for the whole test.
    fn scratch(name: &str) -> (tempfile::TempDir, PathBuf) {
        crate::test_scratch(&format!("lock-{name}"))
    }

    #[test]
    fn an_exclusive_holder_is_named_to_a_waiter_that_gives_up() {
        let (_scratch, dir) = scratch("holder");
        let dir = &dir;
        let held = RepoLock::acquire(
            dir.as_path(),
            LockKind::Exclusive,
            "repo publish",
            Duration::ZERO,
        )
        .unwrap();
        let err = RepoLock::acquire(
            dir.as_path(),
            LockKind::Exclusive,
            "repo add",
            Duration::from_millis(60),
        )
        .unwrap_err();
        let LockError::Timeout { holder, waited, .. } = &err else {
            panic!("{err}");
        };
        let holder = holder.as_ref().unwrap();
        assert_eq!(holder.command, "repo publish");
        assert_eq!(holder.pid, std::process::id());
        assert!(*waited >= Duration::from_millis(60));
        assert!(err.to_string().contains("repo publish"), "{err}");
        // Readers wait for a writer too.
        assert!(
            RepoLock::acquire(
                dir.as_path(),
                LockKind::Shared,
                "repo status",
                Duration::ZERO
            )
            .is_err()
        );
        drop(held);
        let _again = RepoLock::acquire(
            dir.as_path(),
            LockKind::Exclusive,
            "repo add",
            Duration::ZERO,
        )
        .unwrap();
    }

    #[test]
    fn readers_share_the_lock_and_keep_writers_out() {
        let (_scratch, dir) = scratch("shared");
        let dir = &dir;
        let a = RepoLock::acquire(
            dir.as_path(),
            LockKind::Shared,
            "repo status",
            Duration::ZERO,
        )
        .unwrap();
        let b = RepoLock::acquire(
            dir.as_path(),
            LockKind::Shared,
            "repo audit",
            Duration::ZERO,
        )
        .unwrap();
        let err = RepoLock::acquire(
            dir.as_path(),
            LockKind::Exclusive,
            "repo sign",
            Duration::ZERO,
        )
        .unwrap_err();
        assert!(matches!(err, LockError::Timeout { .. }), "{err}");
        drop((a, b));
        RepoLock::acquire(
            dir.as_path(),
            LockKind::Exclusive,
            "repo sign",
            Duration::ZERO,
        )
        .unwrap();
    }
}
