//! A real S3 server on 127.0.0.1 for the `repo push` tests: s3s (the S3
//! protocol: SigV4 checked on every signed request, `If-Match` and
//! `If-None-Match` on PutObject and CompleteMultipartUpload, ListObjectsV2
//! pages, multipart uploads) over s3s-fs (objects as files), served by
//! hyper's HTTP/1 server on its own thread and runtime. Authentication is
//! on; unsigned `GET` and `HEAD` of objects are allowed, as a bucket behind
//! a public CDN allows them, so python-tuf and `fwsign client` read it
//! over plain HTTP.

use std::net::{SocketAddr, TcpListener as StdListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use hyper_util::rt::TokioIo;
use s3s::access::{S3Access, S3AccessContext};
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use s3s::{S3Result, s3_error};

/// The test credentials.
pub(crate) const ACCESS_KEY: &str = "fwsign-test-access-key";
pub(crate) const SECRET_KEY: &str = "fwsign-test-secret-key-0123456789";
/// The test bucket.
pub(crate) const BUCKET: &str = "fw-updates";

/// Signed requests may do anything; unsigned ones may only read objects.
struct AnonymousReads;

#[async_trait::async_trait]
impl S3Access for AnonymousReads {
    async fn check(&self, cx: &mut S3AccessContext<'_>) -> S3Result<()> {
        if cx.credentials().is_some() {
            return Ok(());
        }
        match cx.s3_op().name() {
            "GetObject" | "HeadObject" => Ok(()),
            _ => Err(s3_error!(AccessDenied, "Signature is required")),
        }
    }
}

/// The running server; stopped when dropped.
pub(crate) struct S3Server {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    root: PathBuf,
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl S3Server {
    /// Serves the directory `root` (bucket [`BUCKET`] created in it).
    pub(crate) fn start(root: &Path) -> Self {
        std::fs::create_dir_all(root.join(BUCKET)).unwrap();
        let listener = StdListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let fs = s3s_fs::FileSystem::new(root).unwrap();
        let mut builder = S3ServiceBuilder::new(fs);
        builder.set_auth(SimpleAuth::from_single(ACCESS_KEY, SECRET_KEY));
        builder.set_access(AnonymousReads);
        let service = builder.build();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    let Ok((socket, _)) = listener.accept().await else {
                        continue;
                    };
                    if stopping.load(Ordering::SeqCst) {
                        return;
                    }
                    let service = service.clone();
                    tokio::spawn(async move {
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(socket), service)
                            .await;
                    });
                }
            });
        });
        Self {
            endpoint: format!("http://{addr}"),
            root: root.to_path_buf(),
            addr,
            stop,
            thread: Some(thread),
        }
    }

    /// The `AWS_*` environment a push to this server runs with.
    pub(crate) fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
        ]
    }

    /// The public (unsigned) URL of `prefix` in the bucket, as a CDN
    /// origin: `http://127.0.0.1:PORT/BUCKET/PREFIX`.
    pub(crate) fn public_url(&self, prefix: &str) -> String {
        format!("{}/{BUCKET}/{prefix}", self.endpoint)
    }

    /// The file s3s-fs keeps object `key` of the bucket in.
    pub(crate) fn object_file(&self, key: &str) -> PathBuf {
        self.root.join(BUCKET).join(key)
    }

    /// Every object key in the bucket with its bytes, sorted (s3s-fs keeps
    /// its own bookkeeping in dot-files, which are left out).
    pub(crate) fn objects(&self) -> Vec<(String, Vec<u8>)> {
        fn walk(dir: &Path, base: &Path, out: &mut Vec<(String, Vec<u8>)>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let entry = entry.unwrap();
                let path = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.starts_with('.') {
                    continue;
                }
                if entry.file_type().unwrap().is_dir() {
                    walk(&path, base, out);
                } else {
                    let key = path
                        .strip_prefix(base)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned();
                    out.push((key, std::fs::read(&path).unwrap()));
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.root.join(BUCKET), &self.root.join(BUCKET), &mut out);
        out.sort();
        out
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop, which then sees the flag.
        let _ = TcpStream::connect(self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
