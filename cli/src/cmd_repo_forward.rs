//! Forwarding the audit log to a central log: `repo audit --forward` /
//! `--format` (the scheduled job, with its cursor), and the immediate path
//! for commands that change a repository while `FWSIGN_SYSLOG` names a
//! server. All decisions are `fwsign_repo::audit::forward`'s; this module
//! reads the flags and the environment and prints.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use fwsign_repo::Repository;
use fwsign_repo::audit::forward::ocsf::to_ocsf;
use fwsign_repo::audit::forward::syslog::{
    MessageOptions, SyslogServer, SyslogSink, format_message,
};
use fwsign_repo::audit::forward::{
    Cursor, ForwardError, ForwardEvent, SdId, Sink, forward_after, forward_new,
};
use fwsign_repo::lock::LockKind;
use serde_json::json;

use crate::args::AuditFormat;
use crate::cmd_repo::{lock, open};
use crate::failure::Failure;
use crate::now;
use crate::output::Output;

/// The environment variable naming the server a changing command forwards
/// its own events to at once.
pub(crate) const SYSLOG_ENV: &str = "FWSIGN_SYSLOG";
/// The SD-ID for [`SYSLOG_ENV`] (`NAME@PEN`).
pub(crate) const SD_ID_ENV: &str = "FWSIGN_SYSLOG_SD_ID";

/// `repo audit`'s forwarding flags.
pub(crate) struct ForwardArgs {
    pub forward: Option<String>,
    pub format: Option<AuditFormat>,
    pub sd_id: Option<String>,
    pub cursor: Option<PathBuf>,
    pub ca: Option<PathBuf>,
}

impl ForwardArgs {
    /// Whether any forwarding was asked for.
    pub(crate) fn any(&self) -> bool {
        self.forward.is_some() || self.format.is_some()
    }
}

/// This machine's name, the syslog HOSTNAME and OCSF `device.hostname`.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default()
}

/// Prints each event on stdout, one line each: RFC 5424 messages or OCSF
/// objects.
struct Print<'a> {
    out: &'a Output,
    format: AuditFormat,
    options: Option<MessageOptions>,
    hostname: String,
}

impl Sink for Print<'_> {
    fn send(&mut self, event: &ForwardEvent) -> Result<(), ForwardError> {
        let line = match (&self.format, &self.options) {
            (AuditFormat::Syslog, Some(options)) => format_message(event, options),
            _ => to_ocsf(event, &self.hostname).to_string(),
        };
        self.out.data(&format!("{line}\n"));
        Ok(())
    }

    fn finish(&mut self) -> Result<(), ForwardError> {
        use std::io::Write;
        std::io::stdout().flush().map_err(ForwardError::Output)
    }
}

/// `repo audit DIR --forward URL | --format FORMAT [--sd-id] [--cursor] [--ca]`.
pub(crate) fn audit_forward(dir: &Path, args: ForwardArgs, out: &Output) -> Result<(), Failure> {
    let format = args.format.unwrap_or(AuditFormat::Syslog);
    if args.forward.is_some() && format != AuditFormat::Syslog {
        return Err(Failure::usage(
            "--forward sends RFC 5424 syslog; --format ocsf prints OCSF lines instead of sending: give one",
        ));
    }
    if args.forward.is_none() && out.is_json() {
        return Err(Failure::usage(
            "--format prints one event per line on stdout; leave out --json",
        ));
    }
    let hostname = host_name();
    let options = match &args.sd_id {
        Some(text) => Some(MessageOptions {
            sd_id: text.parse::<SdId>()?,
            hostname: hostname.clone(),
        }),
        None if format == AuditFormat::Syslog => {
            return Err(Failure::usage(
                "syslog needs --sd-id NAME@PEN (your organisation's IANA private enterprise number)",
            ));
        }
        None => None,
    };
    if args.ca.is_some() && args.forward.is_none() {
        return Err(Failure::usage(
            "--ca applies to --forward syslog+tls:// only",
        ));
    }
    let cursor = args.cursor.as_ref().map(Cursor::new);
    let repo: Repository = open(dir)?;
    let _lock = lock(&repo, LockKind::Shared, "repo audit --forward", out)?;
    let report = match (&args.forward, options) {
        (Some(url), Some(options)) => {
            let server: SyslogServer = url.parse()?;
            let mut sink = SyslogSink::new(server.clone(), options, args.ca.clone())?;
            let report = forward_new(&repo, cursor.as_ref(), now(), &mut sink)?;
            out.say(format!(
                "sent {} event(s) to {server}{}",
                report.sent,
                report
                    .first
                    .map(|first| format!(" (audit lines {first} to {})", head_line(&report.head)))
                    .unwrap_or_default()
            ));
            out.result(&json!({
                "ok": true,
                "server": server.to_string(),
                "sent": report.sent,
                "first_line": report.first,
                "head": report.head,
            }));
            report
        }
        (_, options) => {
            let mut sink = Print {
                out,
                format,
                options,
                hostname,
            };
            forward_new(&repo, cursor.as_ref(), now(), &mut sink)?
        }
    };
    if let (Some(cursor), Some(head)) = (&cursor, &report.head) {
        out.say(format!("cursor {}: {head}", cursor.path().display()));
    }
    Ok(())
}

fn head_line(head: &Option<fwsign_repo::audit::AuditHead>) -> u64 {
    head.as_ref().map(|h| h.line).unwrap_or(0)
}

/// The repository a changing command locked, and its log's last line at
/// that moment: what `forward_appended` sends after.
static APPENDED_AFTER: Mutex<Option<(PathBuf, u64)>> = Mutex::new(None);

/// Notes `repo`'s log head when a command takes it exclusively, if
/// `FWSIGN_SYSLOG` is set (the first note of a run wins).
pub(crate) fn note_exclusive(dir: &Path, kind: LockKind) {
    if kind != LockKind::Exclusive || std::env::var_os(SYSLOG_ENV).is_none() {
        return;
    }
    let log = fwsign_repo::audit::AuditLog::new(dir.join("audit.log"));
    let Ok(head) = log.head() else {
        return;
    };
    if let Ok(mut noted) = APPENDED_AFTER.lock()
        && noted.is_none()
    {
        *noted = Some((dir.to_path_buf(), head.map(|h| h.line).unwrap_or(0)));
    }
}

/// After a command that changed a repository: sends the lines it appended
/// to the server `FWSIGN_SYSLOG` names. Best effort: a failure is a
/// warning and leaves the exit code as it was; the scheduled job's cursor
/// catches up.
pub(crate) fn forward_appended(out: &Output) {
    let Some(url) = std::env::var_os(SYSLOG_ENV) else {
        return;
    };
    let Some((dir, after)) = APPENDED_AFTER.lock().ok().and_then(|mut n| n.take()) else {
        return;
    };
    if let Err(e) = send_appended(&url.to_string_lossy(), &dir, after) {
        out.warn(format!(
            "{SYSLOG_ENV}: this command's audit events were not forwarded ({e}); \
             the scheduled `repo audit --forward --cursor` job will send them"
        ));
    }
}

/// [`forward_appended`]'s sending: the lines of `dir`'s log after `after`.
fn send_appended(url: &str, dir: &Path, after: u64) -> Result<usize, ForwardError> {
    let server: SyslogServer = url.parse()?;
    let sd_id = std::env::var(SD_ID_ENV).map_err(|_| ForwardError::InvalidSdId {
        sd_id: String::new(),
        reason: "FWSIGN_SYSLOG_SD_ID is not set (NAME@PEN)",
    })?;
    let options = MessageOptions {
        sd_id: sd_id.parse()?,
        hostname: host_name(),
    };
    let ca = std::env::var_os("FWSIGN_SYSLOG_CA").map(PathBuf::from);
    let mut sink = SyslogSink::new(server, options, ca)?;
    let log = fwsign_repo::audit::AuditLog::new(dir.join("audit.log"));
    Ok(forward_after(&log, after, &mut sink)?.sent)
}
