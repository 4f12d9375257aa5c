//! The client side of the simulator: [`CliClient`] runs the `fwsign client`
//! binary against a server ([`run_fwsign`] any `fwsign` command), and
//! [`HttpGet`] is a std-only [`Fetcher`] for driving the client library
//! directly.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;

use fwsign_client::{FetchError, Fetcher};

use super::Simulator;
use super::server::IO_TIMEOUT;

/// What one run of the `fwsign` binary did.
#[derive(Debug, Clone)]
pub struct CliRun {
    /// The arguments, for messages.
    pub args: Vec<String>,
    /// The exit code (`None`: killed by a signal).
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl CliRun {
    /// Asserts exit 0.
    ///
    /// # Panics
    ///
    /// When the run did not exit 0.
    #[track_caller]
    pub fn ok(&self) -> &Self {
        assert_eq!(self.code, Some(0), "expected success from {self}");
        self
    }

    /// Asserts exit exactly 1 (the client contract's only failure code).
    ///
    /// # Panics
    ///
    /// When the run did not exit 1.
    #[track_caller]
    pub fn failed(&self) -> &Self {
        assert_eq!(self.code, Some(1), "expected exit 1 from {self}");
        self
    }
}

impl std::fmt::Display for CliRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "fwsign {}\nexit: {:?}\nstdout:\n{}\nstderr:\n{}",
            self.args.join(" "),
            self.code,
            self.stdout,
            self.stderr
        )
    }
}

/// The `fwsign` binary next to the test executable
/// (`target/<profile>/deps/all-*` -> `target/<profile>/fwsign`).
///
/// # Panics
///
/// When it has not been built.
pub fn client_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable lives in target/<profile>/deps")
        .join(format!("fwsign{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo build -p fwsign` first",
        bin.display()
    );
    bin
}

/// A fixed directory for test `name` under `target/<profile>/`, emptied.
///
/// # Panics
///
/// When it cannot be cleared or created.
pub fn fresh_dir(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("the test executable's path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test executable lives in target/<profile>/deps")
        .join("fwsign-client-tests")
        .join(name);
    match std::fs::remove_dir_all(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => panic!("cannot clear {}: {e}", dir.display()),
    }
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

/// Environment variables that would send loopback requests to a proxy.
pub const PROXY_VARS: &[&str] = &[
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
];

/// Runs `fwsign ARGS...`.
pub fn run_fwsign<S: AsRef<OsStr>>(args: &[S]) -> CliRun {
    let mut cmd = Command::new(client_bin());
    cmd.args(args);
    for v in PROXY_VARS {
        cmd.env_remove(v);
    }
    cmd.env("NO_PROXY", "127.0.0.1,localhost");
    let out = cmd.output().expect("run fwsign");
    CliRun {
        args: args
            .iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect(),
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `fwsign client` with a metadata directory, a target directory and the
/// URLs of one repository.
#[derive(Debug, Clone)]
pub struct CliClient {
    /// The scratch directory holding the others.
    pub dir: PathBuf,
    /// `--metadata-dir`.
    pub metadata_dir: PathBuf,
    /// `--target-dir`.
    pub target_dir: PathBuf,
    /// `--metadata-url`.
    pub metadata_url: String,
    /// `--target-base-url`.
    pub targets_url: String,
}

impl CliClient {
    /// A client in `dir` (metadata in `dir/metadata`, targets in
    /// `dir/targets`) for the given URLs.
    pub fn new(dir: &Path, metadata_url: &str, targets_url: &str) -> Self {
        Self {
            dir: dir.to_path_buf(),
            metadata_dir: dir.join("metadata"),
            target_dir: dir.join("targets"),
            metadata_url: metadata_url.to_owned(),
            targets_url: targets_url.to_owned(),
        }
    }

    /// A client for a simulator's repository, in [`fresh_dir`]`(name)`.
    pub fn for_sim(name: &str, sim: &Simulator) -> Self {
        Self::new(&fresh_dir(name), &sim.metadata_url(), &sim.targets_url())
    }

    /// `client --metadata-dir DIR init ROOT` with `root` written to a file
    /// beside the metadata directory.
    ///
    /// # Panics
    ///
    /// When the file cannot be written.
    pub fn init(&self, root: &[u8]) -> CliRun {
        let file = self.dir.join("trusted-root.json");
        std::fs::write(&file, root).expect("write the trusted root");
        run_fwsign(&[
            OsStr::new("client"),
            OsStr::new("--metadata-dir"),
            self.metadata_dir.as_os_str(),
            OsStr::new("init"),
            file.as_os_str(),
        ])
    }

    /// `client --metadata-url URL --metadata-dir DIR refresh`.
    pub fn refresh(&self) -> CliRun {
        run_fwsign(&[
            OsStr::new("client"),
            OsStr::new("--metadata-url"),
            OsStr::new(&self.metadata_url),
            OsStr::new("--metadata-dir"),
            self.metadata_dir.as_os_str(),
            OsStr::new("refresh"),
        ])
    }

    /// `client ... --target-name N... --target-dir TDIR --target-base-url
    /// TURL download EXTRA...`.
    pub fn download(&self, names: &[&str], extra: &[&str]) -> CliRun {
        let mut args: Vec<&OsStr> = vec![
            OsStr::new("client"),
            OsStr::new("--metadata-url"),
            OsStr::new(&self.metadata_url),
            OsStr::new("--metadata-dir"),
            self.metadata_dir.as_os_str(),
        ];
        for n in names {
            args.push(OsStr::new("--target-name"));
            args.push(OsStr::new(n));
        }
        args.extend([
            OsStr::new("--target-dir"),
            self.target_dir.as_os_str(),
            OsStr::new("--target-base-url"),
            OsStr::new(&self.targets_url),
            OsStr::new("download"),
        ]);
        args.extend(extra.iter().map(OsStr::new));
        run_fwsign(&args)
    }

    /// The names of the files in the metadata directory.
    pub fn metadata_files(&self) -> BTreeSet<String> {
        list(&self.metadata_dir)
    }

    /// The names of the files in the target directory.
    pub fn target_files(&self) -> BTreeSet<String> {
        list(&self.target_dir)
    }

    /// A file of the metadata directory.
    pub fn stored(&self, name: &str) -> Option<Vec<u8>> {
        std::fs::read(self.metadata_dir.join(name)).ok()
    }
}

/// The names in `dir` (empty when it does not exist).
pub fn list(dir: &Path) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// A std-only HTTP/1.1 [`Fetcher`] (plain `http://` only), reading at most
/// `max_len + 1` bytes of a body, for driving `fwsign_client`
/// directly against a [`RepoServer`].
#[derive(Debug, Default, Clone, Copy)]
pub struct HttpGet;

impl Fetcher for HttpGet {
    fn fetch(&mut self, url: &str, max_len: u64) -> Result<Option<Vec<u8>>, FetchError> {
        let transport = |e: io::Error| FetchError::Transport(e.to_string());
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| FetchError::Transport(format!("not an http URL: {url}")))?;
        let (host, path) = match rest.split_once('/') {
            Some((h, p)) => (h, format!("/{p}")),
            None => (rest, "/".to_owned()),
        };
        let mut stream = TcpStream::connect(host).map_err(transport)?;
        stream
            .set_read_timeout(Some(IO_TIMEOUT))
            .map_err(transport)?;
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )
        .map_err(transport)?;
        let mut reader = BufReader::new(stream);
        let mut status_line = String::new();
        reader.read_line(&mut status_line).map_err(transport)?;
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| FetchError::Transport(format!("bad status line {status_line:?}")))?;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).map_err(transport)? == 0 || line == "\r\n" {
                break;
            }
        }
        if status == 403 || status == 404 {
            return Ok(None);
        }
        if !(200..300).contains(&status) {
            return Err(FetchError::Status(status));
        }
        let mut body = Vec::new();
        reader
            .take(max_len.saturating_add(1))
            .read_to_end(&mut body)
            .map_err(transport)?;
        if body.len() as u64 > max_len {
            return Err(FetchError::TooLong(max_len));
        }
        Ok(Some(body))
    }
}
