//! tough 0.24's client as a second TUF peer. tough is built with its default
//! features off (no reqwest), so it fetches through [`HttpGet`]: a std-only
//! HTTP/1.1 GET over a plain `TcpStream` with `Connection: close`, mapping
//! 404 to [`TransportErrorKind::FileNotFound`] as tough's root-update loop
//! requires. tough is async; it runs on a current-thread tokio runtime.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use fwsign_tests::StaticServer;
use tough::{
    Bytes, ExpirationEnforcement, IntoVec, RepositoryLoader, TargetName, Transport, TransportError,
    TransportErrorKind, TransportStream,
};
use url::Url;

use crate::release_support::{FW_NAME, Release};

/// The largest response [`HttpGet`] accepts (tough enforces its own,
/// smaller limits on what it keeps).
const MAX_RESPONSE: u64 = 64 * 1024 * 1024;

/// tough's [`Transport`] over HTTP/1.1 GET on a plain `TcpStream`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HttpGet;

impl HttpGet {
    fn get(url: &Url) -> Result<Vec<u8>, TransportError> {
        let other =
            |why: String| TransportError::new_with_cause(TransportErrorKind::Other, url, why);
        if url.scheme() != "http" {
            return Err(TransportError::new(
                TransportErrorKind::UnsupportedUrlScheme,
                url,
            ));
        }
        let host = url.host_str().ok_or_else(|| other("no host".into()))?;
        let port = url.port_or_known_default().unwrap_or(80);
        let mut stream = TcpStream::connect((host, port)).map_err(|e| other(e.to_string()))?;
        let timeout = Some(Duration::from_secs(30));
        stream
            .set_read_timeout(timeout)
            .and_then(|()| stream.set_write_timeout(timeout))
            .map_err(|e| other(e.to_string()))?;
        let target = &url[url::Position::BeforePath..url::Position::AfterQuery];
        write!(
            stream,
            "GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\nUser-Agent: fwsign-tests\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        )
        .map_err(|e| other(e.to_string()))?;
        let mut response = Vec::new();
        stream
            .take(MAX_RESPONSE)
            .read_to_end(&mut response)
            .map_err(|e| other(e.to_string()))?;
        let split = response
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| other("no end of headers in the response".into()))?;
        let head = String::from_utf8_lossy(&response[..split]).into_owned();
        let body = response[split + 4..].to_vec();
        let mut lines = head.split("\r\n");
        let status: u16 = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| other(format!("bad status line in {head:?}")))?;
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("transfer-encoding")
                && !value.eq_ignore_ascii_case("identity")
            {
                return Err(other(format!("unsupported transfer-encoding {value}")));
            }
            if name.eq_ignore_ascii_case("content-length")
                && value.parse::<usize>().ok() != Some(body.len())
            {
                return Err(other(format!(
                    "content-length {value}, got {} bytes",
                    body.len()
                )));
            }
        }
        match status {
            200 => Ok(body),
            404 => Err(TransportError::new(TransportErrorKind::FileNotFound, url)),
            s => Err(other(format!("HTTP status {s}"))),
        }
    }
}

#[tough::async_trait]
impl Transport for HttpGet {
    async fn fetch(&self, url: Url) -> Result<TransportStream, TransportError> {
        let body = Self::get(&url)?;
        Ok(Box::pin(futures::stream::iter([Ok(Bytes::from(body))])))
    }
}

/// Loads the repository `server` serves with tough's client, trusting
/// `trusted_root` (expiry enforced), and downloads `name`.
pub(crate) fn tough_fetch(
    server: &StaticServer,
    trusted_root: &[u8],
    name: &str,
) -> Result<Vec<u8>, String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let metadata = Url::parse(&server.url("metadata/")).map_err(|e| e.to_string())?;
        let targets = Url::parse(&server.url("targets/")).map_err(|e| e.to_string())?;
        let repo = RepositoryLoader::new(&trusted_root, metadata, targets)
            .transport(HttpGet)
            .expiration_enforcement(ExpirationEnforcement::Safe)
            .load()
            .await
            .map_err(|e| format!("tough refused the repository: {e}"))?;
        let target = TargetName::new(name).map_err(|e| e.to_string())?;
        let stream = repo
            .read_target(&target)
            .await
            .map_err(|e| format!("tough cannot fetch {name}: {e}"))?
            .ok_or_else(|| format!("tough finds no target {name}"))?;
        stream
            .into_vec()
            .await
            .map_err(|e| format!("tough refused {name}'s bytes: {e}"))
    })
}

#[test]
fn tough_transport_maps_404_to_file_not_found() {
    let scratch = fwsign_tests::Scratch::new("tough_transport_maps_404");
    std::fs::write(scratch.join("present"), b"here").unwrap();
    let server = StaticServer::start(scratch.path()).unwrap();
    let present = Url::parse(&server.url("present")).unwrap();
    assert_eq!(HttpGet::get(&present).unwrap(), b"here");
    let missing = Url::parse(&server.url("2.root.json")).unwrap();
    assert_eq!(
        HttpGet::get(&missing).unwrap_err().kind(),
        TransportErrorKind::FileNotFound
    );
    let file = Url::parse("file:///etc/hostname").unwrap();
    assert_eq!(
        HttpGet::get(&file).unwrap_err().kind(),
        TransportErrorKind::UnsupportedUrlScheme
    );
}

#[test]
fn tough_refuses_a_target_whose_bytes_were_swapped_on_the_server() {
    // The server is the attacker here: after a valid release it serves other
    // bytes under the published target path. tough must refuse them.
    let release = Release::new("tough_refuses_swapped_target");
    let original = release.first_release();
    let server = release.serve();
    let root = std::fs::read(release.metadata("1.root.json")).unwrap();
    assert_eq!(tough_fetch(&server, &root, FW_NAME).unwrap(), original);
    let mut swapped = 0;
    for (path, bytes) in fwsign_tests::tree(&release.dir.join("targets")).unwrap() {
        if bytes == original {
            let mut evil = bytes.clone();
            evil[0] ^= 0xff;
            std::fs::write(release.dir.join("targets").join(path), evil).unwrap();
            swapped += 1;
        }
    }
    assert!(swapped >= 1);
    let err = tough_fetch(&server, &root, FW_NAME).unwrap_err();
    assert!(err.contains("refused") || err.contains("cannot"), "{err}");
}
