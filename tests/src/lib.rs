//! Shared helpers for the end-to-end and interoperability tests.
//!
//! The helpers in this file are std-only:
//!
//! * [`fwsign_bin`] finds the `fwsign` binary the workspace built (the tests
//!   run it as a child process, as users' scripts do);
//! * [`Scratch`] is a per-test scratch directory under the system temp dir;
//! * [`Fwsign`] runs the binary and [`Run`] asserts on its exit code and
//!   output;
//! * [`StaticServer`] serves a directory over HTTP/1.1 on 127.0.0.1, so
//!   TUF clients (python-tuf, tough) really fetch a published repository
//!   over the network.

pub mod simulator;

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Exit code: success.
pub const OK: i32 = 0;
/// Exit code: a security refusal.
pub const SECURITY: i32 = 1;
/// Exit code: a usage or input error.
pub const USAGE: i32 = 2;
/// Exit code: an I/O failure.
pub const IO: i32 = 3;

/// The `fwsign` binary next to the running test executable
/// (`target/<profile>/deps/all-*` -> `target/<profile>/fwsign`).
///
/// # Panics
///
/// When the binary has not been built: the tests crate is another package,
/// so Cargo does not build it for `cargo test -p fwsign-tests`.
pub fn fwsign_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable lives in target/<profile>/deps");
    let bin = profile_dir.join(format!("fwsign{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo build -p fwsign` first",
        bin.display()
    );
    bin
}

/// A scratch directory for one test: `<temp>/fwsign-e2e-<name>-XXXXXX`,
/// its own (a random suffix: two tests, or two runs of the suite, never
/// share one) and removed when dropped, also when the test fails. With
/// `FWSIGN_KEEP_SCRATCH=1` it is kept, and its path printed, for a
/// post-mortem.
///
/// It derefs to [`Path`], so `&scratch` goes wherever a `&Path` does; keep
/// the `Scratch` itself alive as long as its path is used.
#[derive(Debug)]
pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    /// A fresh, empty directory for the test `name`.
    pub fn new(name: &str) -> Self {
        let mut dir = tempfile::Builder::new()
            .prefix(&format!("fwsign-e2e-{name}-"))
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a scratch directory for {name}: {e}"));
        // Readable by others, as a plain `mkdir` makes it: a test runs
        // `fwsign` as another user (repo_concurrency/lock.rs) in here.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
                .unwrap_or_else(|e| panic!("cannot open up {}: {e}", dir.path().display()));
        }
        dir.disable_cleanup(keep_scratch());
        Self { dir }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside the directory.
    pub fn join(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.dir.path().join(rel)
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;

    fn deref(&self) -> &Path {
        self.dir.path()
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // The TempDir removes the directory after this, unless kept.
        if keep_scratch() {
            #[allow(clippy::print_stderr, reason = "tells where a kept test's files are")]
            {
                eprintln!("kept scratch directory {}", self.dir.path().display());
            }
        }
    }
}

/// Whether `FWSIGN_KEEP_SCRATCH=1` asks to keep scratch directories for a
/// post-mortem.
pub fn keep_scratch() -> bool {
    std::env::var_os("FWSIGN_KEEP_SCRATCH").is_some_and(|v| v == "1")
}

/// Runs `fwsign` with a fixed working directory and environment.
#[derive(Debug, Clone)]
pub struct Fwsign {
    bin: PathBuf,
    cwd: PathBuf,
    env: Vec<(OsString, OsString)>,
}

impl Fwsign {
    /// A runner working in `cwd`.
    pub fn new(cwd: &Path) -> Self {
        Self {
            bin: fwsign_bin(),
            cwd: cwd.to_path_buf(),
            env: Vec::new(),
        }
    }

    /// The same runner with `key=value` set in every child's environment.
    #[must_use]
    pub fn with_env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Self {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// Runs `fwsign ARGS...` and returns what it did.
    pub fn run<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.run_env(args, &[])
    }

    /// Runs `fwsign ARGS...` with extra environment variables for this
    /// child only.
    pub fn run_env<I, S>(&self, args: I, env: &[(&str, &str)]) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<OsString> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        let mut cmd = Command::new(&self.bin);
        cmd.args(&args)
            .current_dir(&self.cwd)
            // Never prompt: a test must not hang on a passphrase prompt.
            .stdin(std::process::Stdio::null())
            .env_remove("FWSIGN_PASSPHRASE")
            .env_remove("FWSIGN_TEST_CRASH_AT");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let output = cmd
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.bin.display()));
        Run {
            args,
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// One finished `fwsign` run.
#[derive(Debug, Clone)]
pub struct Run {
    /// The arguments it was given.
    pub args: Vec<OsString>,
    /// The exit code (`None` when killed by a signal, e.g. `abort()`).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl fmt::Display for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let args: Vec<_> = self.args.iter().map(|a| a.to_string_lossy()).collect();
        write!(
            f,
            "fwsign {}\n  exit: {:?}\n  stdout: {}\n  stderr: {}",
            args.join(" "),
            self.code,
            self.stdout.trim_end(),
            self.stderr.trim_end()
        )
    }
}

impl Run {
    /// Asserts the exit code; returns the run for more checks.
    ///
    /// # Panics
    ///
    /// When the exit code differs, showing the command and its output.
    #[track_caller]
    pub fn code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(expected),
            "expected exit {expected} from:\n{self}"
        );
        self
    }

    /// Asserts success.
    #[track_caller]
    pub fn ok(&self) -> &Self {
        self.code(OK)
    }

    /// Asserts the process was killed rather than exiting (the crash fault
    /// points abort).
    #[track_caller]
    pub fn killed(&self) -> &Self {
        assert_eq!(self.code, None, "expected the process to abort:\n{self}");
        self
    }

    /// Asserts stderr mentions `needle`.
    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "expected stderr to mention {needle:?}:\n{self}"
        );
        self
    }
}

/// Recursively copies a directory (`cp -r`), symlinks as symlinks.
pub fn copy_dir(from: &Path, to: &Path) -> io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let dest = to.join(entry.file_name());
        if kind.is_dir() {
            copy_dir(&entry.path(), &dest)?;
        } else if kind.is_symlink() {
            #[cfg(unix)]
            std::os::unix::fs::symlink(std::fs::read_link(entry.path())?, &dest)?;
        } else {
            std::fs::copy(entry.path(), &dest)?;
        }
    }
    Ok(())
}

/// Every file under `dir` with its bytes, sorted by path: a snapshot of a
/// directory to compare before and after an operation.
pub fn tree(dir: &Path) -> io::Result<Vec<(PathBuf, Vec<u8>)>> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) -> io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                walk(base, &path, out)?;
            } else {
                let rel = path.strip_prefix(base).unwrap_or(&path).to_path_buf();
                out.push((rel, std::fs::read(&path)?));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    if dir.exists() {
        walk(dir, dir, &mut out)?;
    }
    out.sort();
    Ok(out)
}

/// Largest request head the server reads.
const MAX_REQUEST_HEAD: usize = 8 * 1024;

/// A tiny HTTP/1.1 static file server on `127.0.0.1:<ephemeral>` serving
/// one directory, in a background thread, for as long as it lives.
///
/// GET only (HEAD answers the headers); every response closes the
/// connection. Missing files and directories are 404 (no listings); a path
/// with a `..` segment, or one resolving outside the directory through a
/// symlink, is 403. Connections are handled one at a time with a 10 s read
/// timeout, which is plenty for a test client and keeps the server bounded.
#[derive(Debug)]
pub struct StaticServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<(String, u16)>>>,
    thread: Option<JoinHandle<()>>,
}

impl StaticServer {
    /// Starts serving `root`.
    pub fn start(root: &Path) -> io::Result<Self> {
        let root = root.canonicalize()?;
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let stop = Arc::clone(&stop);
            let log = Arc::clone(&log);
            std::thread::Builder::new()
                .name(format!("static-server-{}", addr.port()))
                .spawn(move || {
                    for conn in listener.incoming() {
                        if stop.load(Ordering::SeqCst) {
                            break;
                        }
                        if let Ok(stream) = conn {
                            // A broken client only loses its own response.
                            let _ = serve_one(&root, stream, &log);
                        }
                    }
                })?
        };
        Ok(Self {
            addr,
            stop,
            log,
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT/` followed by `path` (no leading slash).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.addr)
    }

    /// Every request served so far: the request path and the status.
    pub fn requests(&self) -> Vec<(String, u16)> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept so the thread sees the flag and ends.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Decodes `%XX` escapes; `None` for a malformed escape or non-UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Maps a request target to a file under `root`, or the status refusing it.
fn resolve(root: &Path, target: &str) -> Result<PathBuf, u16> {
    let path = target.split(['?', '#']).next().unwrap_or_default();
    let decoded = percent_decode(path).ok_or(400u16)?;
    if !decoded.starts_with('/') || decoded.contains(['\\', '\0']) {
        return Err(400);
    }
    let mut file = root.to_path_buf();
    for segment in decoded.split('/').filter(|s| !s.is_empty()) {
        if segment == ".." || segment == "." {
            return Err(403);
        }
        let segment = Path::new(segment);
        if !matches!(
            segment.components().collect::<Vec<_>>().as_slice(),
            [Component::Normal(_)]
        ) {
            return Err(403);
        }
        file.push(segment);
    }
    match file.canonicalize() {
        Ok(real) if !real.starts_with(root) => Err(403),
        Ok(real) if real.is_file() => Ok(real),
        Ok(_) => Err(404),
        Err(_) => Err(404),
    }
}

fn serve_one(root: &Path, stream: TcpStream, log: &Mutex<Vec<(String, u16)>>) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(stream.try_clone()?.take(MAX_REQUEST_HEAD as u64));
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    // Skip the headers: nothing in them changes the answer.
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
    }
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, body) = match method {
        "GET" | "HEAD" => match resolve(root, target) {
            Ok(file) => match std::fs::read(&file) {
                Ok(bytes) => (200, bytes),
                Err(_) => (404, Vec::new()),
            },
            Err(status) => (status, Vec::new()),
        },
        "" => return Ok(()), // the wake-up connection from Drop, or a probe
        _ => (405, Vec::new()),
    };
    if let Ok(mut l) = log.lock() {
        l.push((target.to_owned(), status));
    }
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        _ => "Method Not Allowed",
    };
    let mut out = &stream;
    write!(
        out,
        "HTTP/1.1 {status} {reason}\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    if method == "GET" {
        out.write_all(&body)?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn get(server: &StaticServer, path: &str) -> (u16, Vec<u8>) {
        let mut s = TcpStream::connect(server.addr).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut resp = Vec::new();
        s.read_to_end(&mut resp).unwrap();
        let split = resp.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&resp[..split]).into_owned();
        let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        (status, resp[split + 4..].to_vec())
    }

    /// A failing test must not leave its files in the temp dir: the
    /// directory goes on unwinding too, and two scratch directories made
    /// for the same name are never the same one.
    #[test]
    fn a_scratch_directory_goes_even_when_its_test_panics() {
        if keep_scratch() {
            return; // FWSIGN_KEEP_SCRATCH=1 keeps it, as asked.
        }
        let mut seen = PathBuf::new();
        let unwound = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let scratch = Scratch::new("panicking");
            let twin = Scratch::new("panicking");
            assert_ne!(scratch.path(), twin.path());
            std::fs::write(scratch.join("left.bin"), b"x").unwrap();
            seen = scratch.path().to_path_buf();
            panic!("the test fails");
        }));
        assert!(unwound.is_err());
        let name = seen.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with("fwsign-e2e-panicking-"), "{name}");
        assert!(!seen.exists(), "{} was left behind", seen.display());
    }

    #[test]
    fn serves_files_refuses_escapes_and_lists_nothing() {
        let scratch = Scratch::new("static-server-self-test");
        std::fs::create_dir_all(scratch.join("root/sub")).unwrap();
        std::fs::write(scratch.join("root/sub/a b.txt"), b"hello").unwrap();
        std::fs::write(scratch.join("secret"), b"no").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(scratch.join("secret"), scratch.join("root/link")).unwrap();
        let server = StaticServer::start(&scratch.join("root")).unwrap();
        assert_eq!(get(&server, "/sub/a%20b.txt"), (200, b"hello".to_vec()));
        assert_eq!(get(&server, "/sub/missing").0, 404);
        assert_eq!(get(&server, "/sub/").0, 404);
        assert_eq!(get(&server, "/sub/../../secret").0, 403);
        assert_eq!(get(&server, "/sub/%2e%2e/%2e%2e/secret").0, 403);
        #[cfg(unix)]
        assert_eq!(get(&server, "/link").0, 403);
        assert_eq!(server.requests().len(), 6);
    }
}
