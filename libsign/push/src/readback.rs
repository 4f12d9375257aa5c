//! After a push, the bucket is read back as a client reads it: through
//! `fwsign-client`'s whole workflow (root chain from version 1, timestamp,
//! snapshot, targets), from a fresh trust store holding this repository's
//! `1.root.json`, and every target this push uploaded is found and
//! downloaded, its length and hashes checked by the core. The requests go
//! through the store's signed requests ([`StoreFetcher`]), or over plain
//! HTTP(S) from `--verify-url` (the CDN or origin clients use).

use std::path::{Path, PathBuf};

use fwsign_client::{Client, ClientConfig, ClientError, FetchError, Fetcher, HttpFetcher};
use fwsign_keys::rsa_pss::HOST_KEY_TYPES;
use fwsign_manifest_schema::expiry::UnixTime;
use serde::Serialize;

use crate::PushError;
use crate::store::ObjectStore;

/// The URL scheme [`StoreFetcher`] maps to keys: `store:KEY`.
const STORE_SCHEME: &str = "store:";

/// A [`Fetcher`] over the store's own (signed) requests.
pub struct StoreFetcher<'a> {
    store: &'a mut dyn ObjectStore,
}

impl std::fmt::Debug for StoreFetcher<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreFetcher")
            .field("store", &self.store.describe())
            .finish()
    }
}

impl Fetcher for StoreFetcher<'_> {
    fn fetch(&mut self, url: &str, max_len: u64) -> Result<Option<Vec<u8>>, FetchError> {
        let key = url
            .strip_prefix(STORE_SCHEME)
            .ok_or_else(|| FetchError::Transport(format!("{url}: not a key of the store")))?;
        match self.store.get(key, max_len) {
            Ok(found) => Ok(found.map(|o| o.bytes)),
            Err(e) => Err(FetchError::Transport(e.to_string())),
        }
    }
}

/// What the read-back saw.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReadBack {
    /// Where it read from: the bucket, or the `--verify-url`.
    pub from: String,
    /// The timestamp version clients get there now.
    pub timestamp_version: u64,
    /// Targets downloaded and checked.
    pub targets_checked: usize,
    /// Why fewer targets were checked than uploaded (a CDN still serving
    /// the previous timestamp), if so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A scratch directory removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn scratch() -> Result<Scratch, PushError> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = std::env::temp_dir().join(format!(
        "fwsign-push-readback-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).map_err(|source| PushError::Io {
        path: dir.clone(),
        source,
    })?;
    Ok(Scratch(dir))
}

/// Where to read back from.
pub(crate) enum Origin<'a> {
    /// The store itself, under `prefix`.
    Store {
        store: &'a mut dyn ObjectStore,
        prefix: &'a str,
    },
    /// A base URL (`--verify-url`): `BASE/metadata/`, `BASE/targets/`.
    Url(&'a str),
}

/// Reads the pushed state back; `expected_version` is the timestamp just
/// pushed, `targets` the names whose files this push uploaded.
pub(crate) fn read_back(
    origin: Origin<'_>,
    first_root: &[u8],
    expected_version: u64,
    targets: &[String],
    now: UnixTime,
) -> Result<ReadBack, PushError> {
    let dir = scratch()?;
    match origin {
        Origin::Store { store, prefix } => {
            let from = store.describe();
            let fetcher = StoreFetcher { store };
            let base = format!("{STORE_SCHEME}{prefix}");
            check(
                fetcher,
                &from,
                &base,
                true,
                &dir.0,
                first_root,
                expected_version,
                targets,
                now,
            )
        }
        Origin::Url(url) => {
            let base = if url.ends_with('/') {
                url.to_owned()
            } else {
                format!("{url}/")
            };
            check(
                HttpFetcher::new(),
                url,
                &base,
                false,
                &dir.0,
                first_root,
                expected_version,
                targets,
                now,
            )
        }
    }
}

#[allow(clippy::too_many_arguments, reason = "one private step of read_back")]
fn check<F: Fetcher>(
    fetcher: F,
    from: &str,
    base: &str,
    signed: bool,
    dir: &Path,
    first_root: &[u8],
    expected_version: u64,
    targets: &[String],
    now: UnixTime,
) -> Result<ReadBack, PushError> {
    let failed = |source: ClientError| PushError::ReadBackFailed {
        from: from.to_owned(),
        source: Box::new(source),
    };
    let metadata_dir = dir.join("metadata");
    fwsign_client::init(&metadata_dir, first_root).map_err(failed)?;
    let config = ClientConfig {
        metadata_dir,
        metadata_url: format!("{base}metadata"),
        now,
    };
    let mut client = Client::new(config, fetcher, HOST_KEY_TYPES).map_err(failed)?;
    client.refresh().map_err(failed)?;
    let seen = client.trusted().timestamp().map_or(0, |t| t.version);
    if seen < expected_version {
        // The bucket itself must already serve the new timestamp; a CDN
        // may serve the old one until its cache time runs out.
        if signed {
            return Err(PushError::ReadBackStale {
                from: from.to_owned(),
                seen,
                pushed: expected_version,
            });
        }
        return Ok(ReadBack {
            from: from.to_owned(),
            timestamp_version: seen,
            targets_checked: 0,
            note: Some(format!(
                "clients there still get timestamp version {seen} (cached); \
                 version {expected_version} verified in the bucket only once the cache expires"
            )),
        });
    }
    let target_dir = dir.join("targets");
    let target_base = format!("{base}targets");
    for name in targets {
        let info = client.find_target(name).map_err(failed)?;
        client
            .download(&info, &target_dir, &target_base)
            .map_err(failed)?;
    }
    Ok(ReadBack {
        from: from.to_owned(),
        timestamp_version: seen,
        targets_checked: targets.len(),
        note: None,
    })
}
