//! The audit log forwarded to a central log, checked against a real syslog
//! server: rsyslog from Debian, run in the foreground with its own
//! configuration on 127.0.0.1, parsing each RFC 5424 message (its
//! structured data with `mmpstrucdata`) into a JSON line per event. What a
//! SIEM operator relies on: every event arrives once parsed into its
//! fields; a scheduled job with a cursor sends nothing twice; an
//! unreachable server leaves the cursor where it was (exit 3); a log
//! rewritten under the cursor is a critical event and exit 1.
//!
//! Without `rsyslogd` on the PATH the rsyslog tests say they skipped,
//! unless `FWSIGN_REQUIRE_PEERS=1` (then they fail).

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fwsign_tests::{IO, SECURITY};
use serde_json::Value;

use crate::release_support::{Release, firmware};

const SD_ID: &str = "fwsign@32473";

/// An rsyslogd of this test, killed when dropped.
struct Rsyslog {
    child: Child,
    port: u16,
    received: PathBuf,
}

impl Rsyslog {
    /// Starts rsyslogd in `dir`, or `None` (after saying so) without one.
    fn start(dir: &Path) -> Option<Self> {
        Self::start_with(dir, None)
    }

    /// [`Self::start`], listening with TLS (certificate and key files) when
    /// given.
    fn start_with(dir: &Path, tls: Option<(&Path, &Path, &Path)>) -> Option<Self> {
        let Some(bin) = rsyslogd() else {
            if std::env::var("FWSIGN_REQUIRE_PEERS").as_deref() == Ok("1") {
                panic!("rsyslogd is not installed but FWSIGN_REQUIRE_PEERS=1: run scripts/test");
            }
            eprintln!("skipped: rsyslogd not found (apt-get install rsyslog)");
            return None;
        };
        let work = dir.join("rsyslog-work");
        std::fs::create_dir_all(&work).unwrap();
        let received = dir.join("received.jsonl");
        let port = free_port();
        // One JSON object per message: the header fields rsyslog parsed,
        // the raw structured data, and mmpstrucdata's parse of it.
        let (driver, imtcp) = match tls {
            Some((ca, cert, key)) => (
                format!(
                    r#"global(DefaultNetstreamDriver="gtls" DefaultNetstreamDriverCAFile="{}" DefaultNetstreamDriverCertFile="{}" DefaultNetstreamDriverKeyFile="{}")"#,
                    ca.display(),
                    cert.display(),
                    key.display()
                ),
                r#"module(load="imtcp" StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.AuthMode="anon")"#,
            ),
            None => (String::new(), r#"module(load="imtcp")"#),
        };
        let conf = format!(
            r#"global(workDirectory="{work}")
{driver}
{imtcp}
module(load="mmpstrucdata")
template(name="fields" type="string" string="{{\"severity\":%syslogseverity%,\"facility\":%syslogfacility%,\"msgid\":\"%msgid:::json%\",\"app\":\"%app-name:::json%\",\"host\":\"%hostname:::json%\",\"procid\":\"%procid:::json%\",\"time\":\"%timereported:::date-rfc3339%\",\"sd\":\"%structured-data:::json%\",\"parsed\":%$!rfc5424-sd%}}\n")
ruleset(name="audit") {{
  action(type="mmpstrucdata" sd_name.lowercase="off")
  action(type="omfile" file="{received}" template="fields")
}}
input(type="imtcp" port="{port}" address="127.0.0.1" ruleset="audit")
"#,
            work = work.display(),
            received = received.display(),
        );
        let conf_path = dir.join("rsyslog.conf");
        std::fs::write(&conf_path, conf).unwrap();
        let child = Command::new(bin)
            .arg("-n")
            .arg("-f")
            .arg(&conf_path)
            .arg("-i")
            .arg(dir.join("rsyslog.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            // Its complaints (the readiness probe's empty connections, the
            // refused TLS handshake) go to a file beside its configuration.
            .stderr(std::fs::File::create(dir.join("rsyslog.stderr")).unwrap())
            .spawn()
            .unwrap();
        let mut server = Self {
            child,
            port,
            received,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("rsyslogd exited ({status}) before listening on {port}");
            }
            assert!(
                Instant::now() < deadline,
                "rsyslogd did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(server)
    }

    fn url(&self) -> String {
        format!("syslog://127.0.0.1:{}", self.port)
    }

    /// The messages rsyslog wrote, waiting until there are at least `n`.
    #[track_caller]
    fn received_at_least(&self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "rsyslog received {} message(s), expected {n}: {got:#?}",
                got.len()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn received(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.received)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn rsyslogd() -> Option<PathBuf> {
    for dir in std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .chain(["/usr/sbin", "/sbin"])
    {
        let candidate = Path::new(dir).join("rsyslogd");
        if candidate.is_file() {
            return Some(candidate);
        }
    }
    None
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The audit log's lines, parsed.
fn log_lines(r: &Release) -> Vec<Value> {
    std::fs::read_to_string(r.dir.join("audit.log"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// `fwsign --json repo audit DIR --forward URL --sd-id fwsign@32473 --cursor FILE`.
fn forward(r: &Release, url: &str, cursor: &Path) -> fwsign_tests::Run {
    r.fw.run([
        "--json",
        "repo",
        "audit",
        Release::arg(&r.dir),
        "--forward",
        url,
        "--sd-id",
        SD_ID,
        "--cursor",
        Release::arg(cursor),
    ])
}

/// The structured-data element rsyslog parsed out of one message.
fn params(message: &Value) -> &Value {
    &message["parsed"][SD_ID]
}

#[test]
fn every_audit_event_arrives_at_rsyslog_parsed_into_its_fields_and_a_second_run_sends_nothing_new()
{
    let r = Release::new("audit_forward_rsyslog");
    let Some(server) = Rsyslog::start(r.scratch.path()) else {
        return;
    };
    r.first_release();
    // A refused publish: a new firmware staged but not approved.
    let file = r.write_file("fw-2.0.0.bin", &firmware(2, 3000));
    r.add(&file, "board-a/fw-2.0.0.bin", "2.0.0", &[]).ok();
    r.publish().code(SECURITY);
    let cursor = r.scratch.join("audit-cursor.json");

    let run = forward(&r, &server.url(), &cursor);
    run.ok();
    let lines = log_lines(&r);
    let summary: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(summary["sent"], lines.len(), "{run}");
    let received = server.received_at_least(lines.len());
    assert_eq!(received.len(), lines.len(), "{received:#?}");
    for (line, message) in lines.iter().zip(&received) {
        let action = line["action"].as_str().unwrap();
        assert_eq!(message["msgid"], action, "{message}");
        assert_eq!(message["app"], "fwsign");
        assert_eq!(message["procid"], "-");
        assert_eq!(message["facility"], 13, "log audit");
        let severity = if action == "refuse" { 3 } else { 5 };
        assert_eq!(message["severity"], severity, "{message}");
        let time = message["time"].as_str().unwrap();
        assert_eq!(
            time.get(..19),
            line["time"].as_str().unwrap().get(..19),
            "the event's own time: {message}"
        );
        let p = params(message);
        assert_eq!(p["event"], action, "{message}");
        assert_eq!(p["line"], line["seq"].to_string(), "{message}");
        assert_eq!(p["sha256"], line["hash"], "{message}");
        for field in ["role", "keyid", "detail"] {
            if let Some(value) = line.get(field) {
                assert_eq!(&p[field], value, "{field} of {message}");
            }
        }
        if let Some(version) = line.get("version") {
            assert_eq!(p["version"], version.to_string(), "{message}");
        }
        // Repeated `target` params: every name is in the raw structured
        // data, escaped as RFC 5424 asks.
        if let Some(targets) = line["targets"].as_object() {
            let sd = message["sd"].as_str().unwrap();
            for name in targets.keys() {
                assert!(sd.contains(&format!("target=\"{name}\"")), "{name} in {sd}");
            }
        }
    }
    assert!(
        received
            .iter()
            .any(|m| m["msgid"] == "refuse" && m["severity"] == 3),
        "the refused publish arrives as an error"
    );
    let stored: Value = serde_json::from_slice(&std::fs::read(&cursor).unwrap()).unwrap();
    let last = lines.last().unwrap();
    assert_eq!(stored["line"], last["seq"]);
    assert_eq!(stored["sha256"], last["hash"]);

    // The scheduled job runs again: nothing new, nothing sent.
    let again = forward(&r, &server.url(), &cursor);
    again.ok();
    assert!(again.stdout.contains("\"sent\":0"), "{again}");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        server.received().len(),
        lines.len(),
        "a second run sent nothing"
    );

    // A command run with FWSIGN_SYSLOG forwards its own events at once;
    // the next scheduled run sends them again (at least once: a collector
    // drops duplicates by sha256).
    let before = server.received().len();
    r.repo_env(
        "sign",
        &["--role", "targets", "--key", Release::arg(&r.key("alice"))],
        &[
            ("FWSIGN_SYSLOG", &server.url()),
            ("FWSIGN_SYSLOG_SD_ID", SD_ID),
        ],
    )
    .ok();
    let now = server.received_at_least(before + 1);
    assert_eq!(now.len(), before + 1, "{now:#?}");
    assert_eq!(now[before]["msgid"], "sign");
    forward(&r, &server.url(), &cursor).ok();
    let after = server.received_at_least(before + 2);
    assert_eq!(
        params(&after[before + 1])["sha256"],
        params(&after[before])["sha256"]
    );
}

#[test]
fn an_audit_log_rewritten_under_the_cursor_is_a_critical_event_and_exit_1() {
    let r = Release::new("audit_forward_rewritten");
    let Some(server) = Rsyslog::start(r.scratch.path()) else {
        return;
    };
    r.first_release();
    let cursor = r.scratch.join("audit-cursor.json");
    forward(&r, &server.url(), &cursor).ok();
    let sent = log_lines(&r).len();
    server.received_at_least(sent);
    let cursor_before = std::fs::read(&cursor).unwrap();

    // Line 2 edited by hand.
    let text = std::fs::read_to_string(r.dir.join("audit.log")).unwrap();
    let edited = text.replacen("\"action\":\"stage\"", "\"action\":\"stagE\"", 1);
    assert_ne!(text, edited);
    std::fs::write(r.dir.join("audit.log"), edited).unwrap();

    let run = forward(&r, &server.url(), &cursor);
    run.code(SECURITY).stderr_has("audit log was rewritten");
    assert!(
        run.stdout.contains("\"reason\":\"audit-log-rewritten\""),
        "{run}"
    );
    let received = server.received_at_least(sent + 1);
    let alert = &received[sent];
    assert_eq!(alert["msgid"], "audit-log-rewritten", "{alert}");
    assert_eq!(alert["severity"], 2, "crit: {alert}");
    assert!(
        params(alert)["detail"]
            .as_str()
            .unwrap()
            .contains("audit.log:2"),
        "names the line: {alert}"
    );
    assert_eq!(
        std::fs::read(&cursor).unwrap(),
        cursor_before,
        "the cursor did not move"
    );
}

#[test]
fn an_unreachable_syslog_server_is_exit_3_and_the_cursor_does_not_move() {
    let r = Release::new("audit_forward_unreachable");
    r.first_release();
    let cursor = r.scratch.join("audit-cursor.json");
    // Mark everything so far as sent (OCSF to stdout), then add events.
    r.repo(
        "audit",
        &["--format", "ocsf", "--cursor", Release::arg(&cursor)],
    )
    .ok();
    let cursor_before = std::fs::read(&cursor).unwrap();
    let file = r.write_file("fw-2.0.0.bin", &firmware(2, 3000));
    r.add(&file, "board-a/fw-2.0.0.bin", "2.0.0", &[]).ok();

    let closed = format!("syslog://127.0.0.1:{}", free_port());
    let run = forward(&r, &closed, &cursor);
    run.code(IO).stderr_has("cannot connect to syslog server");
    assert!(
        run.stdout.contains("\"reason\":\"syslog-unreachable\""),
        "{run}"
    );
    assert_eq!(
        std::fs::read(&cursor).unwrap(),
        cursor_before,
        "the cursor did not move"
    );

    // A command with FWSIGN_SYSLOG pointing at it still succeeds, with a warning.
    r.repo_env(
        "sign",
        &["--role", "targets", "--key", Release::arg(&r.key("alice"))],
        &[("FWSIGN_SYSLOG", &closed), ("FWSIGN_SYSLOG_SD_ID", SD_ID)],
    )
    .ok()
    .stderr_has("warning: FWSIGN_SYSLOG");
}

#[test]
fn ocsf_lines_carry_every_event_once_and_a_truncated_log_is_reported() {
    let r = Release::new("audit_forward_ocsf");
    r.first_release();
    let cursor = r.scratch.join("ocsf-cursor.json");
    let ocsf = |r: &Release| {
        r.repo(
            "audit",
            &["--format", "ocsf", "--cursor", Release::arg(&cursor)],
        )
    };
    let run = ocsf(&r);
    run.ok();
    let lines = log_lines(&r);
    let objects: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(objects.len(), lines.len(), "{run}");
    for (line, object) in lines.iter().zip(&objects) {
        assert_eq!(object["class_uid"], 3004, "Entity Management");
        assert_eq!(object["metadata"]["version"], "1.3.0");
        assert_eq!(object["metadata"]["uid"], line["hash"]);
        assert_eq!(object["unmapped"]["event"], line["action"]);
        assert!(
            object["time"].as_i64().unwrap() > 1_600_000_000_000,
            "milliseconds"
        );
    }
    assert_eq!(ocsf(&r).ok().stdout, "", "nothing new");

    // The last line cut off: the cursor's line is gone.
    let text = std::fs::read_to_string(r.dir.join("audit.log")).unwrap();
    let mut kept: Vec<&str> = text.lines().collect();
    kept.pop();
    std::fs::write(r.dir.join("audit.log"), format!("{}\n", kept.join("\n"))).unwrap();
    let run = ocsf(&r);
    run.code(SECURITY).stderr_has("audit log was rewritten");
    let alert: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(alert["unmapped"]["event"], "audit-log-rewritten");
    assert_eq!(alert["severity_id"], 5, "Critical");
}

/// A CA and a server certificate for 127.0.0.1 made with the openssl CLI:
/// (ca.pem, server.pem, server.key).
fn certificates(dir: &Path, name: &str) -> (PathBuf, PathBuf, PathBuf) {
    let dir = dir.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("openssl");
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=fwsign test syslog CA",
    ]);
    openssl(&ca);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    openssl(&csr);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    (
        dir.join("ca.pem"),
        dir.join("server.pem"),
        dir.join("server.key"),
    )
}

#[test]
fn events_sent_over_tls_arrive_and_a_server_the_ca_did_not_certify_is_refused() {
    let r = Release::new("audit_forward_tls");
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("skipped: openssl not found");
        return;
    }
    let (ca, cert, key) = certificates(r.scratch.path(), "pki");
    if !Path::new("/usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so").exists()
        && std::env::var("FWSIGN_REQUIRE_PEERS").as_deref() != Ok("1")
    {
        eprintln!("skipped: rsyslog's TLS driver not installed (apt-get install rsyslog-gnutls)");
        return;
    }
    let Some(server) = Rsyslog::start_with(r.scratch.path(), Some((&ca, &cert, &key))) else {
        return;
    };
    r.first_release();
    let url = format!("syslog+tls://127.0.0.1:{}", server.port);
    let cursor = r.scratch.join("tls-cursor.json");
    let send = |ca: &Path| {
        r.fw.run([
            "--json",
            "repo",
            "audit",
            Release::arg(&r.dir),
            "--forward",
            &url,
            "--sd-id",
            SD_ID,
            "--cursor",
            Release::arg(&cursor),
            "--ca",
            Release::arg(ca),
        ])
    };
    // Another CA: the server's certificate does not chain to it.
    let (other_ca, _, _) = certificates(r.scratch.path(), "other");
    send(&other_ca)
        .code(IO)
        .stderr_has("cannot connect to syslog server");
    assert!(!cursor.exists(), "nothing was sent, no cursor");

    send(&ca).ok();
    let lines = log_lines(&r);
    let received = server.received_at_least(lines.len());
    assert_eq!(received.len(), lines.len());
    for (line, message) in lines.iter().zip(&received) {
        assert_eq!(params(message)["sha256"], line["hash"], "{message}");
    }
}

#[test]
fn forwarding_set_up_wrong_is_a_usage_error_before_anything_is_sent() {
    let r = Release::new("audit_forward_usage");
    r.first_release();
    let run = |extra: &[&str]| {
        let mut args = vec!["repo", "audit", Release::arg(&r.dir)];
        args.extend_from_slice(extra);
        r.fw.run(args)
    };
    let unused = format!("syslog://127.0.0.1:{}", free_port());
    // A cursor beside the log could be rewritten with it.
    let inside = r.dir.join("cursor.json");
    run(&[
        "--forward",
        &unused,
        "--sd-id",
        SD_ID,
        "--cursor",
        Release::arg(&inside),
    ])
    .code(fwsign_tests::USAGE)
    .stderr_has("outside the repository");
    assert!(!inside.exists());
    run(&["--forward", &unused, "--sd-id", "fwsign"])
        .code(fwsign_tests::USAGE)
        .stderr_has("private enterprise number");
    let tls = unused.replace("syslog://", "syslog+tls://");
    run(&["--forward", &tls, "--sd-id", SD_ID])
        .code(fwsign_tests::USAGE)
        .stderr_has("--ca");
    run(&["--format", "syslog"])
        .code(fwsign_tests::USAGE)
        .stderr_has("--sd-id");
}
