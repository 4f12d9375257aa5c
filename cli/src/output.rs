//! Where output goes: one JSON document on stdout with `--json`, human text
//! on stderr otherwise, so scripts can always parse stdout.

#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "this module is the CLI's only writer to the terminal"
)]

use std::io::{IsTerminal, Write};

use serde_json::Value;

/// Prints the command's result.
pub(crate) struct Output {
    json: bool,
}

impl Output {
    pub(crate) fn new(json: bool) -> Self {
        Self { json }
    }

    pub(crate) fn is_json(&self) -> bool {
        self.json
    }

    /// A line of human output (stderr; silent with `--json`).
    pub(crate) fn say(&self, line: impl AsRef<str>) {
        if !self.json {
            eprintln!("{}", line.as_ref());
        }
    }

    /// Many lines of human output (one per target of a release), written
    /// through one buffer: a write per line was 10^5 system calls in a
    /// 10^5-target add or publish, each a wake-up of whatever reads the log.
    pub(crate) fn say_each<L: AsRef<str>>(&self, lines: impl IntoIterator<Item = L>) {
        if self.json {
            return;
        }
        let mut err = std::io::BufWriter::with_capacity(1 << 16, std::io::stderr().lock());
        for line in lines {
            // A closed stderr is no reason to fail a command that succeeded.
            if writeln!(err, "{}", line.as_ref()).is_err() {
                return;
            }
        }
        let _ = err.flush();
    }

    /// A warning, shown in both modes (on stderr).
    pub(crate) fn warn(&self, line: impl AsRef<str>) {
        eprintln!("warning: {}", line.as_ref());
    }

    /// The command's result document (stdout, with `--json` only).
    pub(crate) fn result(&self, value: &Value) {
        if self.json {
            println!("{value}");
        }
    }

    /// [`Output::result`] of a typed document, written straight from it: a
    /// `Value` tree of a 10^5-target add's result was a third of the
    /// command's peak memory, built even when nothing is printed.
    pub(crate) fn result_of(&self, value: &impl serde::Serialize) {
        if self.json {
            match serde_json::to_string(value) {
                Ok(text) => println!("{text}"),
                Err(e) => eprintln!("error: cannot write the result document: {e}"),
            }
        }
    }

    /// Plain stdout for commands whose output is data (`key show`).
    pub(crate) fn data(&self, text: &str) {
        print!("{text}");
    }

    /// An error, on stderr; with `--json` also the one document on stdout
    /// (the command's own document when it has one, with the error added).
    pub(crate) fn error(&self, message: &str, code: u8, document: Option<Value>) {
        if self.json {
            let mut doc = match document {
                Some(Value::Object(map)) => Value::Object(map),
                _ => serde_json::json!({}),
            };
            if doc.get("reason").is_none_or(|r| !r.is_string()) {
                doc["reason"] = Value::from(crate::failure::fallback_reason(code));
            }
            doc["ok"] = Value::Bool(false);
            doc["exit_code"] = Value::from(code);
            doc["error"] = Value::from(message);
            println!("{doc}");
        }
        eprintln!("error: {message}");
    }

    /// The `--json` failure document alone (stdout), for a failure whose
    /// message was already printed on stderr (a command line clap refused).
    pub(crate) fn failure_document(&self, message: &str, code: u8) {
        if self.json {
            println!(
                "{}",
                serde_json::json!({
                    "ok": false,
                    "exit_code": code,
                    "error": message,
                    "reason": crate::failure::fallback_reason(code),
                })
            );
        }
    }

    /// Whether progress bars should be drawn.
    pub(crate) fn progress_visible(&self) -> bool {
        !self.json && std::io::stderr().is_terminal()
    }
}
