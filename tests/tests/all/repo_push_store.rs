//! `fwsign-push` driven in process against the real S3 server, through
//! wrappers of its store that make the hard cases happen at an exact
//! request: an upload interrupted at its second part and resumed, another
//! push replacing `timestamp.json` between this push's read and its
//! conditional write (the compare-and-swap, both outcomes), a store that
//! ignores conditional writes, and a listing that takes several pages.

use fwsign_manifest_schema::expiry::UnixTime;
use fwsign_push::s3::{Destination, S3Store};
use fwsign_push::store::{
    Condition, FetchedObject, ListedObject, ObjectHead, ObjectStore, StoreError, UploadedPart,
    WriteOptions, WriteOutcome,
};
use fwsign_push::{MIN_PART_SIZE, PushError, PushOptions, PushReport};

use crate::release_support::{Release, firmware};
use crate::repo_push::{push as cli_push, store};
use crate::s3_server::{BUCKET, S3Server};

const PREFIX: &str = "evc/";

/// What a wrapper does at its hook.
#[derive(Default)]
struct Hooks {
    /// Fail the upload of this part number (once).
    fail_part: Option<u16>,
    /// Before the first conditional write of `timestamp.json`, another
    /// push writes these bytes there (through the same store).
    competitor: Option<Vec<u8>>,
    /// Drop every condition: a store that ignores them.
    ignore_conditions: bool,
    /// Part numbers uploaded, in order.
    parts: Vec<u16>,
    /// Timestamp writes attempted.
    timestamp_writes: usize,
}

/// The real store with [`Hooks`].
struct Wrapped {
    inner: S3Store,
    hooks: Hooks,
}

impl ObjectStore for Wrapped {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn list(
        &mut self,
        prefix: &str,
        page_size: u16,
    ) -> Result<(Vec<ListedObject>, usize), StoreError> {
        self.inner.list(prefix, page_size)
    }
    fn get(&mut self, key: &str, max_len: u64) -> Result<Option<FetchedObject>, StoreError> {
        self.inner.get(key, max_len)
    }
    fn head(&mut self, key: &str) -> Result<Option<ObjectHead>, StoreError> {
        self.inner.head(key)
    }
    fn put(
        &mut self,
        key: &str,
        body: &[u8],
        options: &WriteOptions,
    ) -> Result<WriteOutcome, StoreError> {
        if key.ends_with("metadata/timestamp.json") {
            self.hooks.timestamp_writes += 1;
            if let Some(theirs) = self.hooks.competitor.take() {
                // Another push, exactly between this push's read and its
                // write: it replaces the timestamp as fwsign would.
                let etag = self.inner.get(key, 1 << 20)?.and_then(|o| o.etag);
                let condition = etag.map_or(Condition::Absent, Condition::Matches);
                let written = self.inner.put(
                    key,
                    &theirs,
                    &WriteOptions {
                        condition,
                        ..options.clone()
                    },
                )?;
                assert_eq!(written, WriteOutcome::Written);
            }
        }
        if self.hooks.ignore_conditions {
            self.inner.delete(key)?;
            return self.inner.put(
                key,
                body,
                &WriteOptions {
                    condition: Condition::Absent,
                    ..options.clone()
                },
            );
        }
        self.inner.put(key, body, options)
    }
    fn delete(&mut self, key: &str) -> Result<(), StoreError> {
        self.inner.delete(key)
    }
    fn create_multipart(
        &mut self,
        key: &str,
        options: &WriteOptions,
    ) -> Result<String, StoreError> {
        self.inner.create_multipart(key, options)
    }
    fn upload_part(
        &mut self,
        key: &str,
        upload_id: &str,
        number: u16,
        body: &[u8],
    ) -> Result<String, StoreError> {
        if self.hooks.fail_part == Some(number) {
            self.hooks.fail_part = None;
            return Err(StoreError {
                request: "UploadPart",
                key: key.to_owned(),
                detail: "connection reset (injected)".to_owned(),
            });
        }
        self.hooks.parts.push(number);
        self.inner.upload_part(key, upload_id, number, body)
    }
    fn list_parts(
        &mut self,
        key: &str,
        upload_id: &str,
    ) -> Result<Option<Vec<UploadedPart>>, StoreError> {
        self.inner.list_parts(key, upload_id)
    }
    fn complete_multipart(
        &mut self,
        key: &str,
        upload_id: &str,
        etags: &[String],
        condition: &Condition,
    ) -> Result<WriteOutcome, StoreError> {
        self.inner
            .complete_multipart(key, upload_id, etags, condition)
    }
}

fn wrapped(server: &S3Server, hooks: Hooks) -> Wrapped {
    Wrapped {
        inner: store(server),
        hooks,
    }
}

fn options() -> PushOptions {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut options = PushOptions::new(UnixTime(i64::try_from(now).unwrap()));
    options.part_size = MIN_PART_SIZE;
    options
}

fn push_with(
    dir: &std::path::Path,
    store: &mut Wrapped,
    options: &PushOptions,
) -> Result<PushReport, PushError> {
    let destination = Destination::parse(&format!("s3://{BUCKET}/{PREFIX}")).unwrap();
    fwsign_push::push(dir, &destination, store, options, &mut |_| {})
}

fn timestamp_key() -> String {
    format!("{PREFIX}metadata/timestamp.json")
}

#[test]
fn an_interrupted_multipart_upload_resumes_with_the_parts_it_lacks() {
    let r = Release::new("push_resume");
    // 11 MiB in 5 MiB parts: three parts.
    let big = firmware(7, 11 * 1024 * 1024);
    r.first_release_with(&[], "big.bin", &big, ["alice", "bob"]);
    let server = S3Server::start(&r.scratch.join("s3"));
    let options = options();

    let mut interrupted = wrapped(
        &server,
        Hooks {
            fail_part: Some(2),
            ..Hooks::default()
        },
    );
    let err = push_with(&r.dir, &mut interrupted, &options).unwrap_err();
    assert!(matches!(err, PushError::Store(_)), "{err}");
    assert_eq!(interrupted.hooks.parts, [1]);
    // Nothing a client reads changed: no timestamp, no metadata.
    assert!(
        server
            .objects()
            .iter()
            .all(|(k, _)| !k.contains("/metadata/")),
        "{:?}",
        server.objects()
    );
    assert!(r.dir.join(fwsign_push::STATE_FILE).exists());

    let mut resumed = wrapped(&server, Hooks::default());
    let report = push_with(&r.dir, &mut resumed, &options).unwrap();
    assert_eq!(report.resumed_parts, 1, "{report:?}");
    // The interrupted object sent only parts 2 and 3; every other hash
    // name of the image (a fresh upload each) sends all three.
    assert_eq!(
        &resumed.hooks.parts[..2],
        [2, 3],
        "{:?}",
        resumed.hooks.parts
    );
    assert!(resumed.hooks.parts[2..].chunks(3).all(|c| c == [1, 2, 3]));
    assert!(!r.dir.join(fwsign_push::STATE_FILE).exists());
    let read = report.read_back.unwrap();
    assert_eq!(read.targets_checked, 1, "the client downloaded the image");
    let key = report
        .uploaded
        .iter()
        .find(|k| k.contains("/targets/"))
        .unwrap();
    assert!(std::fs::read(server.object_file(key)).unwrap() == big);
}

/// `refresh-timestamp` with the online key: a new timestamp version over
/// the same snapshot. Returns its bytes.
fn refresh_timestamp(r: &Release) -> Vec<u8> {
    r.repo(
        "refresh-timestamp",
        &["--timestamp-key", Release::arg(&r.key("online"))],
    )
    .ok();
    std::fs::read(r.metadata("timestamp.json")).unwrap()
}

#[test]
fn a_lost_timestamp_race_is_read_again_and_won_when_still_behind() {
    let r = Release::new("push_cas_retry");
    r.first_release();
    let server = S3Server::start(&r.scratch.join("s3"));
    cli_push(&r, &r.dir, &server, &[]).ok();
    let v2 = refresh_timestamp(&r);
    let v3 = refresh_timestamp(&r);

    // Another push lands version 2 between our read (version 1) and our
    // If-Match write: the write fails, version 2 is read and checked, and
    // version 3 replaces it.
    let mut racing = wrapped(
        &server,
        Hooks {
            competitor: Some(v2),
            ..Hooks::default()
        },
    );
    let report = push_with(&r.dir, &mut racing, &options()).unwrap();
    assert_eq!(report.timestamp_retries, 1, "{report:?}");
    assert_eq!(racing.hooks.timestamp_writes, 2);
    assert!(std::fs::read(server.object_file(&timestamp_key())).unwrap() == v3);
}

#[test]
fn a_lost_timestamp_race_to_a_newer_release_is_refused_and_kept() {
    // The attack: two release jobs racing; the older must never replace
    // the newer timestamp the other just wrote (a rollback for clients).
    let r = Release::new("push_cas_newer");
    r.first_release();
    let server = S3Server::start(&r.scratch.join("s3"));
    cli_push(&r, &r.dir, &server, &[]).ok();
    let behind = r.scratch.join("repo-behind");
    refresh_timestamp(&r);
    assert!(
        std::process::Command::new("cp")
            .arg("-a")
            .arg(&r.dir)
            .arg(&behind)
            .status()
            .unwrap()
            .success()
    );
    let newer = refresh_timestamp(&r);

    let mut racing = wrapped(
        &server,
        Hooks {
            competitor: Some(newer.clone()),
            ..Hooks::default()
        },
    );
    let err = push_with(&behind, &mut racing, &options()).unwrap_err();
    assert!(
        matches!(
            err,
            PushError::BucketNotBehind {
                bucket_version: 3,
                local_version: 2,
                ..
            }
        ),
        "{err}"
    );
    assert!(std::fs::read(server.object_file(&timestamp_key())).unwrap() == newer);
}

#[test]
fn a_store_that_ignores_conditional_writes_is_refused_on_first_push() {
    let r = Release::new("push_no_conditions");
    r.first_release();
    let server = S3Server::start(&r.scratch.join("s3"));
    let mut careless = wrapped(
        &server,
        Hooks {
            ignore_conditions: true,
            ..Hooks::default()
        },
    );
    let err = push_with(&r.dir, &mut careless, &options()).unwrap_err();
    assert!(
        matches!(err, PushError::ConditionalWritesIgnored { .. }),
        "{err}"
    );
    assert!(server.objects().is_empty(), "{:?}", server.objects());
}

#[test]
fn the_bucket_is_listed_once_through_every_page() {
    let r = Release::new("push_pages");
    r.first_release();
    let server = S3Server::start(&r.scratch.join("s3"));
    let mut options = options();
    options.list_page_size = 2;
    push_with(&r.dir, &mut wrapped(&server, Hooks::default()), &options).unwrap();
    let count = server.objects().len();
    refresh_timestamp(&r);
    let report = push_with(&r.dir, &mut wrapped(&server, Hooks::default()), &options).unwrap();
    // Two keys a page: every page was read, once.
    let pages = count.div_ceil(2);
    assert!(
        (pages..=pages + 1).contains(&report.list_pages),
        "{count} objects in {} pages",
        report.list_pages
    );
    assert_eq!(report.uploaded, [timestamp_key()]);
    assert_eq!(report.skipped, count - 1);
}
