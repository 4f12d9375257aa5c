//! The simulator's HTTP side: [`RepoServer`] serves a repository's files
//! over HTTP/1.1 on `127.0.0.1` and records every request; [`Body`] is what
//! it answers for a path (bytes, a status, a delay or an endless body).

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long the server waits on one connection's reads and writes.
pub(super) const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request head the server reads.
const MAX_HEAD: usize = 16 * 1024;
/// Most bytes an endless response sends before giving up.
pub const ENDLESS_LIMIT: u64 = 256 * 1024 * 1024;

/// What the server answers for a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// `200 OK` with these bytes.
    Bytes(Vec<u8>),
    /// `200 OK` with a body that never ends (spaces, until the client
    /// hangs up or [`ENDLESS_LIMIT`] bytes were sent): the endless-data
    /// attack.
    Endless,
    /// This status with an empty body.
    Status(u16),
    /// `200 OK` with these bytes, sent after this delay (for checks that a
    /// client uses one start time for the whole run).
    Delayed(Duration, Vec<u8>),
}

#[derive(Debug, Default)]
struct Shared {
    files: BTreeMap<String, Body>,
    log: Vec<String>,
    endless_sent: Vec<u64>,
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A minimal HTTP/1.1 server on `127.0.0.1:0`: GET only (anything else is
/// `405`), `404` for unknown paths, one connection at a time, every
/// response `Connection: close`, reads and writes bounded by timeouts.
/// It stops when dropped.
#[derive(Debug)]
pub struct RepoServer {
    addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Default for RepoServer {
    fn default() -> Self {
        Self::start()
    }
}

impl RepoServer {
    /// Starts an empty server.
    ///
    /// # Panics
    ///
    /// When no loopback port can be bound.
    pub fn start() -> Self {
        let listener =
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a port on 127.0.0.1");
        let addr = listener.local_addr().expect("the bound address");
        let shared = Arc::new(Mutex::new(Shared::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let shared = Arc::clone(&shared);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    if let Ok(stream) = stream {
                        let _ = handle(stream, &shared);
                    }
                }
            })
        };
        Self {
            addr,
            shared,
            stop,
            thread: Some(thread),
        }
    }

    /// Starts a server for every file under `dir`, at `/<relative path>`.
    ///
    /// # Panics
    ///
    /// When `dir` cannot be read.
    pub fn from_dir(dir: &Path) -> Self {
        let server = Self::start();
        let mut pending = vec![dir.to_path_buf()];
        while let Some(d) = pending.pop() {
            for entry in std::fs::read_dir(&d).expect("read the served directory") {
                let path = entry.expect("a directory entry").path();
                if path.is_dir() {
                    pending.push(path);
                } else {
                    let rel = path.strip_prefix(dir).expect("under the served directory");
                    let url: Vec<String> = rel
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                        .collect();
                    let bytes = std::fs::read(&path).expect("read a served file");
                    server.set(&format!("/{}", url.join("/")), Body::Bytes(bytes));
                }
            }
        }
        server
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Serves `body` at `path` (as the request line spells it, starting
    /// with `/`, percent-encoding included).
    pub fn set(&self, path: &str, body: Body) {
        lock(&self.shared).files.insert(path.to_owned(), body);
    }

    /// Stops serving `path` (then `404`).
    pub fn remove(&self, path: &str) {
        lock(&self.shared).files.remove(path);
    }

    /// The bytes served at `path`, if it serves bytes.
    pub fn get(&self, path: &str) -> Option<Vec<u8>> {
        match lock(&self.shared).files.get(path) {
            Some(Body::Bytes(b)) => Some(b.clone()),
            _ => None,
        }
    }

    /// Every path served.
    pub fn paths(&self) -> Vec<String> {
        lock(&self.shared).files.keys().cloned().collect()
    }

    /// Every request so far, in order: the path for a GET, `METHOD path`
    /// for anything else.
    pub fn log(&self) -> Vec<String> {
        lock(&self.shared).log.clone()
    }

    /// [`RepoServer::log`], and forgets it.
    pub fn take_log(&self) -> Vec<String> {
        std::mem::take(&mut lock(&self.shared).log)
    }

    /// Bytes sent by each finished endless response, in order.
    pub fn endless_sent(&self) -> Vec<u64> {
        lock(&self.shared).endless_sent.clone()
    }
}

impl Drop for RepoServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn read_head(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_HEAD {
            return Err(io::Error::other("request head too long"));
        }
        if stream.read(&mut byte)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        head.push(byte[0]);
    }
    Ok(head)
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        500 => "Internal Server Error",
        _ => "Status",
    }
}

fn write_status(stream: &mut TcpStream, code: u16) -> io::Result<()> {
    write!(
        stream,
        "HTTP/1.1 {code} {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        reason(code)
    )
}

fn write_bytes(stream: &mut TcpStream, bytes: &[u8]) -> io::Result<()> {
    write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        bytes.len()
    )?;
    stream.write_all(bytes)
}

fn handle(mut stream: TcpStream, shared: &Mutex<Shared>) -> io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let head = read_head(&mut stream)?;
    let head = String::from_utf8_lossy(&head);
    let line = head.lines().next().unwrap_or_default();
    let mut parts = line.split(' ');
    let (method, target) = match (parts.next(), parts.next()) {
        (Some(m), Some(t)) => (m.to_owned(), t.to_owned()),
        _ => return write_status(&mut stream, 400),
    };
    let body = {
        let mut s = lock(shared);
        if method == "GET" {
            s.log.push(target.clone());
            Some(s.files.get(&target).cloned())
        } else {
            s.log.push(format!("{method} {target}"));
            None
        }
    };
    match body {
        None => write_status(&mut stream, 405)?,
        Some(None) => write_status(&mut stream, 404)?,
        Some(Some(Body::Status(code))) => write_status(&mut stream, code)?,
        Some(Some(Body::Delayed(delay, bytes))) => {
            std::thread::sleep(delay);
            write_bytes(&mut stream, &bytes)?;
        }
        Some(Some(Body::Bytes(bytes))) => write_bytes(&mut stream, &bytes)?,
        Some(Some(Body::Endless)) => {
            stream.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\
                  Connection: close\r\n\r\n",
            )?;
            let chunk = [b' '; 16 * 1024];
            let mut sent: u64 = 0;
            while sent < ENDLESS_LIMIT {
                match stream.write(&chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => sent += n as u64,
                }
            }
            lock(shared).endless_sent.push(sent);
        }
    }
    stream.flush()?;
    let _ = stream.shutdown(std::net::Shutdown::Write);
    Ok(())
}
