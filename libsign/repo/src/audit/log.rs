//! The hash chain on disk: [`AuditLog`] appends lines under an exclusive
//! lock and reads them back, checking that each line's `prev` is the hash
//! of the line before.
//!
//! Separate from the line format and from anchor checks because this is the
//! only part that touches the file (locks, `fsync`, reading the tail).

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use fwsign_manifest_schema::expiry::UnixTime;

use fwsign_keys::atomic_write::sync_dir;

use super::entry::{
    AuditEntry, AuditEvent, AuditHead, Body, Chained, Fault, check_event, parse_entry,
};
use super::error::AuditError;
use super::{GENESIS, TAIL_CHUNK};

/// The end of the log as this process last verified or appended to it: its
/// length in bytes and its head. An append or head read that finds the file
/// still this long takes the head from here instead of reading and checking
/// the last line again (one line of a 10^5-target command is some 16 MB).
/// Only a file of another length is read; a file rewritten in place to the
/// same length is what the next verification catches, as ever.
#[derive(Debug, Clone)]
pub(crate) struct LogTail {
    pub(crate) len: u64,
    pub(crate) head: AuditHead,
}

/// A [`LogTail`] shared by the calls of one repository handle.
#[derive(Debug, Default)]
pub(crate) struct TailMemo(std::sync::Mutex<Option<LogTail>>);

impl Clone for TailMemo {
    /// A copy of the handle starts without one: it reads the log itself.
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl TailMemo {
    fn lock(&self) -> Option<std::sync::MutexGuard<'_, Option<LogTail>>> {
        self.0.lock().ok()
    }

    pub(super) fn set(&self, tail: Option<LogTail>) {
        if let Some(mut memo) = self.lock() {
            *memo = tail;
        }
    }
}

/// The audit log file of one repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditLog {
    pub(super) path: PathBuf,
}

impl AuditLog {
    /// The log at `path` (usually `DIR/audit.log`). Nothing is read or
    /// created until it is used.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends one line recording `event` at time `now` and returns the new
    /// head. Creates the file (mode 0644) if missing.
    ///
    /// The caller passes the clock so that tests are deterministic. Only the
    /// last line is read, under an exclusive lock, so appending stays cheap;
    /// it must be complete and well-formed, or nothing is written.
    pub fn append(&self, event: &AuditEvent, now: UnixTime) -> Result<AuditHead, AuditError> {
        self.append_after(event, now, &TailMemo::default())
    }

    /// [`AuditLog::append`], taking the last line's head from `tail` when
    /// the file is as long as `tail` says, and leaving the new tail there.
    pub(crate) fn append_after(
        &self,
        event: &AuditEvent,
        now: UnixTime,
        tail: &TailMemo,
    ) -> Result<AuditHead, AuditError> {
        let heads = self.append_all_after(std::slice::from_ref(event), now, tail)?;
        heads
            .into_iter()
            .next_back()
            .ok_or_else(|| self.malformed(0, "no line was written".to_owned()))
    }

    /// [`AuditLog::append_after`] of several events, one line each, chained
    /// in order, with one write and one `fsync` for all of them: signing
    /// 1,024 bins was 1,024 appends, each waiting on the disk. The heads of
    /// the new lines, in order.
    pub(crate) fn append_all_after(
        &self,
        events: &[AuditEvent],
        now: UnixTime,
        tail: &TailMemo,
    ) -> Result<Vec<AuditHead>, AuditError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        for event in events {
            check_event(event)?;
        }
        let time = now.to_expires().ok_or(AuditError::TimeOutOfRange(now.0))?;

        let mut options = OpenOptions::new();
        options.read(true).append(true).create(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o644);
        }
        let mut file = options.open(&self.path).map_err(|e| self.io("open", e))?;
        // Held until `file` is dropped, so two appenders cannot both chain
        // onto the same last line.
        lock(&file, true).map_err(|e| self.io("lock", e))?;
        let len = file.metadata().map_err(|e| self.io("read", e))?.len();

        let known = take_tail(tail, len);
        let last = match known {
            Some(head) => Some((head.line, head.sha256)),
            None => self.last_entry(&mut file, len)?.map(|e| (e.seq, e.hash)),
        };
        let (mut last_seq, mut prev) = match last {
            None => (0, GENESIS.to_owned()),
            Some(last) => last,
        };
        let mut lines = Vec::new();
        let mut heads = Vec::with_capacity(events.len());
        for event in events {
            let seq = last_seq.checked_add(1).ok_or_else(|| {
                let line = usize::try_from(last_seq).unwrap_or(usize::MAX);
                self.malformed(line, "seq is at its maximum".to_owned())
            })?;
            let body = Body::new(event, seq, prev, time.clone());
            let (line, hash) = body.line()?;
            lines.extend_from_slice(&line);
            lines.push(b'\n');
            (last_seq, prev) = (seq, hash.clone());
            heads.push(AuditHead {
                line: seq,
                sha256: hash,
            });
        }
        let Some(head) = heads.last().cloned() else {
            return Ok(heads);
        };

        // One write so that a concurrent reader without the lock, or a
        // crash, sees the lines whole or (at worst) the last torn, never
        // interleaved.
        if let Err(e) = file.write_all(&lines).and_then(|()| file.sync_all()) {
            // Best effort: take a partial line back out rather than leave a
            // torn line behind.
            let _ = file.set_len(len).and_then(|()| file.sync_all());
            return Err(self.io("write", e));
        }
        if len == 0 {
            // The file may be new: make its directory entry durable too.
            sync_dir(parent_dir(&self.path)).map_err(|e| self.io("sync", e))?;
        }
        let written = u64::try_from(lines.len())
            .ok()
            .and_then(|n| len.checked_add(n));
        tail.set(written.map(|len| LogTail { len, head }));
        Ok(heads)
    }

    /// The log's current head, `None` for an empty or missing log.
    ///
    /// Cheap: only the last line is read and checked (complete, well-formed,
    /// hashing to its `hash`); the chain is not. Use [`AuditLog::verify`] for
    /// that.
    pub fn head(&self) -> Result<Option<AuditHead>, AuditError> {
        self.head_after(&TailMemo::default())
    }

    /// [`AuditLog::head`], from `tail` when the file is as long as it says.
    pub(crate) fn head_after(&self, tail: &TailMemo) -> Result<Option<AuditHead>, AuditError> {
        let Some(mut file) = self.open_shared()? else {
            return Ok(None);
        };
        let len = file.metadata().map_err(|e| self.io("read", e))?.len();
        let known = tail.lock().and_then(|memo| {
            memo.as_ref()
                .filter(|t| t.len == len)
                .map(|t| t.head.clone())
        });
        match known {
            Some(head) => Ok(Some(head)),
            None => Ok(self.last_entry(&mut file, len)?.map(|e| e.head())),
        }
    }

    /// Reads every line and checks the chain: each line complete and
    /// well-formed, hashing to its `hash`, with `seq` equal to its line
    /// number and `prev` equal to the previous line's hash. A missing file is
    /// an empty log.
    pub fn entries(&self) -> Result<Vec<AuditEntry>, AuditError> {
        let mut entries = Vec::new();
        self.walk_chain(parse_entry, |line, parsed| {
            entries.push(parsed.into_entry(line));
        })?;
        Ok(entries)
    }

    /// Checks the chain as [`AuditLog::entries`] does, handing each line to
    /// `each` with its number once it is checked; returns the number of
    /// lines and of bytes read.
    ///
    /// Reads one line at a time (a line naming 10^5 targets is some 16 MB),
    /// so what is held is the longest line, not the log.
    pub(super) fn walk_chain<P: Chained>(
        &self,
        parse: impl Fn(&[u8]) -> Result<P, Fault>,
        mut each: impl FnMut(usize, P),
    ) -> Result<(usize, u64), AuditError> {
        let Some(file) = self.open_shared()? else {
            return Ok((0, 0));
        };
        let mut bytes: u64 = 0;
        let mut reader = BufReader::with_capacity(READ_CHUNK, file);
        let mut text = Vec::new();
        let mut expected_prev = GENESIS.to_owned();
        let mut line = 0;
        loop {
            text.clear();
            let read = reader
                .read_until(b'\n', &mut text)
                .map_err(|e| self.io("read", e))?;
            if read == 0 {
                return Ok((line, bytes));
            }
            bytes = bytes.saturating_add(u64::try_from(read).unwrap_or(u64::MAX));
            line += 1;
            if text.pop() != Some(b'\n') {
                return Err(AuditError::TornLine {
                    path: self.path.clone(),
                    line,
                });
            }
            let parsed = parse(&text).map_err(|fault| self.fault(fault, line))?;
            if u64::try_from(line).ok() != Some(parsed.seq()) {
                return Err(AuditError::SeqMismatch {
                    path: self.path.clone(),
                    line,
                    found: parsed.seq(),
                });
            }
            if parsed.prev() != expected_prev {
                return Err(AuditError::PrevMismatch {
                    path: self.path.clone(),
                    line,
                    found: parsed.prev().to_owned(),
                    expected: expected_prev,
                });
            }
            parsed.hash().clone_into(&mut expected_prev);
            each(line, parsed);
        }
    }

    /// Opens the log for reading under a shared lock, so that no append is
    /// half-way through while it is read. `None` if it does not exist.
    fn open_shared(&self) -> Result<Option<File>, AuditError> {
        let file = match File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io("open", e)),
        };
        lock(&file, false).map_err(|e| self.io("lock", e))?;
        Ok(Some(file))
    }

    /// Reads and checks the last line of `file`, whose length is `len`.
    fn last_entry(&self, file: &mut File, len: u64) -> Result<Option<AuditEntry>, AuditError> {
        let Some((text, terminated)) = read_last_line(file, len).map_err(|e| self.io("read", e))?
        else {
            return Ok(None);
        };
        // The line number is only known by counting; the common case never
        // needs it, as the entry's `seq` is its line number.
        let line_number = |file: &mut File| -> Result<usize, AuditError> {
            count_lines(file).map_err(|e| self.io("read", e))
        };
        if !terminated {
            return Err(AuditError::TornLine {
                path: self.path.clone(),
                line: line_number(file)?,
            });
        }
        match parse_entry(&text) {
            Ok(parsed) => {
                let line = usize::try_from(parsed.body.seq).unwrap_or(usize::MAX);
                Ok(Some(parsed.into_entry(line)))
            }
            Err(fault) => Err(self.fault(fault, line_number(file)?)),
        }
    }

    fn fault(&self, fault: Fault, line: usize) -> AuditError {
        match fault {
            Fault::Malformed(reason) => self.malformed(line, reason),
            Fault::Hash { stored, computed } => AuditError::HashMismatch {
                path: self.path.clone(),
                line,
                stored,
                computed,
            },
        }
    }

    fn malformed(&self, line: usize, reason: String) -> AuditError {
        AuditError::Malformed {
            path: self.path.clone(),
            line,
            reason,
        }
    }

    fn io(&self, op: &'static str, source: io::Error) -> AuditError {
        AuditError::Io {
            path: self.path.clone(),
            op,
            source,
        }
    }
}

/// How much is read from the file at a time when reading it line by line.
const READ_CHUNK: usize = 1 << 16;

/// Takes an advisory lock on the whole file, released when it is closed:
/// exclusive for appending, shared for reading. A lock on the file itself,
/// not a lock file, so that a crash can never leave a stale lock behind.
fn lock(file: &File, exclusive: bool) -> io::Result<()> {
    if exclusive {
        file.lock()
    } else {
        file.lock_shared()
    }
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The last line of a file of length `len`, without its newline, and whether
/// it had one. `None` for an empty file. Reads backwards from the end, so the
/// cost does not grow with the log.
fn read_last_line(file: &mut File, len: u64) -> io::Result<Option<(Vec<u8>, bool)>> {
    if len == 0 {
        return Ok(None);
    }
    let mut last = [0u8; 1];
    file.seek(SeekFrom::Start(len - 1))?;
    file.read_exact(&mut last)?;
    let terminated = last == *b"\n";
    let end = if terminated { len - 1 } else { len };

    // Chunks from the end backwards, joined once at the end: a long last
    // line (one command staging 100,000 targets writes one line naming them
    // all) costs its length, not its length squared.
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    let mut start = end;
    while start > 0 {
        let size = start.min(TAIL_CHUNK.max(end - start));
        start -= size;
        let mut chunk = vec![0u8; usize::try_from(size).map_err(io::Error::other)?];
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut chunk)?;
        let newline = chunk.iter().rposition(|&b| b == b'\n');
        if let Some(pos) = newline {
            chunk.drain(..=pos);
        }
        chunks.push(chunk);
        if newline.is_some() {
            break;
        }
    }
    let mut line = Vec::with_capacity(chunks.iter().map(Vec::len).sum());
    for chunk in chunks.iter().rev() {
        line.extend_from_slice(chunk);
    }
    Ok(Some((line, terminated)))
}

/// The number of the last line of `file`: its newlines, plus one for an
/// unterminated last line.
fn count_lines(file: &mut File) -> io::Result<usize> {
    file.seek(SeekFrom::Start(0))?;
    let mut buf = [0u8; 8192];
    let mut newlines = 0usize;
    let mut last = b'\n';
    loop {
        let n = file.read(&mut buf)?;
        let Some(read) = buf.get(..n).filter(|r| !r.is_empty()) else {
            break;
        };
        newlines += read.iter().filter(|&&b| b == b'\n').count();
        last = read.last().copied().unwrap_or(last);
    }
    Ok(if last == b'\n' {
        newlines
    } else {
        newlines + 1
    })
}

/// The head `tail` holds, taken out of it, when the file is `len` bytes
/// long as it was then.
fn take_tail(tail: &TailMemo, len: u64) -> Option<AuditHead> {
    let mut memo = tail.lock()?;
    memo.take().filter(|t| t.len == len).map(|t| t.head)
}
