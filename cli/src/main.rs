//! `fwsign`: a thin binary over the `libsign/` crates (`fwsign-core`, `-keys`,
//! `-repo`, `-client`, `-ocpp`). It parses arguments, resolves
//! key references, calls the libraries, prints, and maps errors to the
//! documented exit codes (0 success, 1 security refusal, 2 usage or input
//! error, 3 I/O or HSM failure). All trust decisions are the libraries'.

#![forbid(unsafe_code)]

mod args;
mod args_client;
mod args_device;
mod args_ocpp;
mod args_push;
mod cmd_bundle;
mod cmd_cert;
mod cmd_client;
mod cmd_device;
mod cmd_device_inspect;
mod cmd_device_verify;
mod cmd_docs;
mod cmd_identify;
mod cmd_key;
mod cmd_key_backup;
mod cmd_ocpp;
mod cmd_repo;
mod cmd_repo_batch;
mod cmd_repo_delegations;
mod cmd_repo_expiry;
mod cmd_repo_forward;
mod cmd_repo_owners;
mod cmd_repo_push;
mod cmd_repo_report;
mod cmd_repo_targets;
mod cmd_repo_verify;
mod failure;
mod key_ref;
mod output;

use std::process::ExitCode;
use std::sync::OnceLock;
use std::time::Duration;

use clap::Parser;
use fwsign_manifest_schema::expiry::UnixTime;

use crate::args::{Cli, Command};
use crate::failure::Failure;
use crate::output::Output;

/// The current time, read once per command so every expiry in one run is
/// checked and written against the same instant.
pub(crate) fn now() -> UnixTime {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    UnixTime(i64::try_from(secs).unwrap_or(i64::MAX))
}

/// This build's date (Unix seconds), compiled in by `build.rs`.
const BUILD_EPOCH: &str = env!("FWSIGN_BUILD_EPOCH");

/// Refuses a system clock that reads earlier than this build: every expiry
/// check against it would accept metadata that expired long ago (a device
/// or CI runner whose clock fell back to 1970). Exit 1 under the client's
/// contract, 2 (the machine's setup) otherwise.
fn check_clock(client: bool) -> Result<(), Failure> {
    let build = BUILD_EPOCH.parse::<i64>().unwrap_or(0);
    let now = now();
    if now.0 >= build {
        return Ok(());
    }
    let text = |t: i64| {
        UnixTime(t)
            .to_expires()
            .unwrap_or_else(|| format!("{t} (Unix time)"))
    };
    let message = format!(
        "the system clock reads {}, earlier than this fwsign build ({}); expiry checks \
         against it would accept expired metadata: set the clock (NTP) and run again",
        text(now.0),
        text(build)
    );
    Err(if client {
        Failure::security(message)
    } else {
        Failure::usage(message)
    })
}

/// `--lock-timeout`, set once from the command line.
static LOCK_TIMEOUT: OnceLock<Duration> = OnceLock::new();

/// How long a command waits for the repository lock (`--lock-timeout`).
pub(crate) fn lock_timeout() -> Duration {
    LOCK_TIMEOUT
        .get()
        .copied()
        .unwrap_or(fwsign_repo::lock::DEFAULT_TIMEOUT)
}

/// mimalloc: commands over 10^5 targets allocate and free millions of small
/// strings and map nodes, where glibc's allocator spent a tenth of `repo
/// add`'s time (freeing and consolidating).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // The `client` subcommands follow the TUF client contract: any failure,
    // usage errors included, is exit 1.
    let client_contract = std::env::args().nth(1).as_deref() == Some("client");
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help and version itself (exit 0) and usage errors
            // (exit 2), matching the documented codes.
            let _ = e.print();
            let code = match (e.use_stderr(), client_contract) {
                (false, _) => 0,
                (true, true) => failure::SECURITY,
                (true, false) => failure::USAGE,
            };
            // A script that asked for `--json` gets its one document, with
            // a reason, for a mistyped command line too.
            if code != 0 && std::env::args().any(|a| a == "--json") {
                let text = e.to_string();
                let first = text.lines().next().unwrap_or_default();
                Output::new(true).failure_document(first.trim_start_matches("error: "), code);
            }
            return ExitCode::from(code);
        }
    };
    let out = Output::new(cli.json);
    let _ = LOCK_TIMEOUT.set(Duration::from_secs(cli.lock_timeout));
    // Every command but the two that only print documentation reads the
    // clock for some decision (expiry, versions, audit times).
    if !matches!(
        cli.command,
        Command::Completions { .. } | Command::Man { .. }
    ) && let Err(f) = check_clock(matches!(
        cli.command,
        Command::Client(_)
            | Command::Identify {
                metadata_url: Some(_),
                ..
            }
    )) {
        out.error(&f.message, f.code, f.document);
        return ExitCode::from(f.code);
    }
    let result: Result<(), Failure> = match cli.command {
        Command::Key(cmd) => cmd_key::run(cmd, &out),
        Command::Repo(cmd) => cmd_repo::run(*cmd, &out),
        Command::SignPayload(args) => cmd_repo::sign_payload(args, &out),
        Command::Client(args) => {
            // Never a panic's exit 101 for the client contract: a bug is
            // still a failure, reported as exit 1.
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cmd_client::run(args, &out)))
                .unwrap_or_else(|_| Err(Failure::security("internal error (panic) in the client")))
        }
        Command::Bundle(cmd) => cmd_bundle::run(cmd, &out),
        Command::Device(cmd) => cmd_device::run(cmd, &out),
        Command::Cert(cmd) => cmd_cert::run(cmd, &out),
        Command::Ocpp(cmd) => cmd_ocpp::run(cmd, &out),
        Command::Identify {
            file,
            repo,
            metadata_url,
            root,
            sbom_out,
            target_base_url,
        } => cmd_identify::run(
            &file,
            repo.as_deref(),
            metadata_url.zip(root),
            sbom_out
                .as_deref()
                .map(|path| (path, target_base_url.as_deref())),
            &out,
        ),
        Command::Completions { shell } => cmd_docs::completions(shell),
        Command::Man { out_dir } => cmd_docs::man(out_dir.as_deref(), &out),
    };
    // A command that changed a repository (refused ones too: a refusal is
    // an event) forwards the lines it appended when FWSIGN_SYSLOG is set.
    cmd_repo_forward::forward_appended(&out);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            out.error(&f.message, f.code, f.document);
            ExitCode::from(f.code)
        }
    }
}
