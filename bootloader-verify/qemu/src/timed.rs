//! The verifier's plug points with the ticks spent in them counted (feature
//! `timing`): the verifier takes its signature algorithms as a list and its
//! hash as an engine, so `bench/device` measures each one in situ, in the
//! verification it is part of.

use core::sync::atomic::{AtomicU32, Ordering};
use fwsign_bootloader_verify::{Sha256Engine, SoftwareSha256};
use fwsign_core::key_types::{KeyIdentity, KeyType, Rejected};
use fwsign_manifest_schema::reader::{Json, JsonStr};

use crate::console::Line;
use crate::ticks;

/// A signature algorithm with its calls, ticks and message bytes counted
/// (each check hashes its message: `bench/device` takes that out with the
/// SHA-256 cost it measures, to report the signature arithmetic alone).
pub struct Timed {
    inner: &'static dyn KeyType,
    calls: AtomicU32,
    ticks: AtomicU32,
    bytes: AtomicU32,
}

impl Timed {
    /// Counts the calls of `inner`.
    pub const fn new(inner: &'static dyn KeyType) -> Self {
        Self {
            inner,
            calls: AtomicU32::new(0),
            ticks: AtomicU32::new(0),
            bytes: AtomicU32::new(0),
        }
    }

    /// Appends ` NAME=<ticks> NAME_calls=<calls> NAME_bytes=<bytes>`.
    pub fn report(&self, line: &mut Line, name: &str) {
        let calls = self.calls.load(Ordering::Relaxed);
        let ticks = self.ticks.load(Ordering::Relaxed);
        let bytes = self.bytes.load(Ordering::Relaxed);
        line.str(" ").str(name).str("=").u64(ticks.into());
        line.str(" ").str(name).str("_calls=").u64(calls.into());
        line.str(" ").str(name).str("_bytes=").u64(bytes.into());
    }
}

impl KeyType for Timed {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn handles(&self, keytype: JsonStr<'_>, scheme: JsonStr<'_>) -> bool {
        self.inner.handles(keytype, scheme)
    }

    fn verify(
        &self,
        keyval: Json<'_>,
        message: &[u8],
        sig: JsonStr<'_>,
    ) -> Result<KeyIdentity, Rejected> {
        let (t, r) = ticks::time(|| self.inner.verify(keyval, message, sig));
        let t = u32::try_from(t).unwrap_or(u32::MAX);
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.ticks.fetch_add(t, Ordering::Relaxed);
        let bytes = u32::try_from(message.len()).unwrap_or(u32::MAX);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        r
    }
}

/// The software SHA-256 with the ticks and bytes it hashed counted.
#[derive(Default)]
pub struct TimedSha256 {
    inner: SoftwareSha256,
    /// Ticks spent hashing.
    pub ticks: u64,
    /// Bytes hashed.
    pub bytes: u64,
}

impl Sha256Engine for TimedSha256 {
    fn start(&mut self) {
        let (t, ()) = ticks::time(|| self.inner.start());
        self.ticks = self.ticks.saturating_add(t);
    }

    fn update(&mut self, data: &[u8]) {
        let (t, ()) = ticks::time(|| self.inner.update(data));
        self.ticks = self.ticks.saturating_add(t);
        self.bytes = self.bytes.saturating_add(data.len() as u64);
    }

    fn finish(&mut self) -> [u8; 32] {
        let (t, digest) = ticks::time(|| self.inner.finish());
        self.ticks = self.ticks.saturating_add(t);
        digest
    }
}
