//! RFC 5424 syslog messages, RFC 6587 octet-counting framing, and the TCP
//! (optionally TLS, RFC 5425) connection that carries them.
//!
//! A message, as [`format_message`] writes it:
//!
//! ```text
//! <109>1 2025-01-01T00:00:00Z build-host fwsign - publish [fwsign@32473 event="publish" role="snapshot" version="3" line="7" sha256="…"] fwsign publish snapshot v3
//! ```
//!
//! PRI is facility 13 ("log audit") times 8 plus the severity; VERSION 1;
//! TIMESTAMP the log line's time (UTC, `Z`); APP-NAME `fwsign`; PROCID `-`;
//! MSGID the event's action. The structured data has one element under the
//! caller's SD-ID with the parameters `event`, `role`, `keyid`, `approver`
//! (the key owner's name), `target`
//! (once per target name), `version`, `line`, `sha256` and `detail`, each
//! only when the event has it. Over TCP each message is framed as
//! `LEN SP MSG` (RFC 6587 section 3.4.1), so it may contain any byte.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use super::{ForwardError, ForwardEvent, SdId, Sink};

/// Facility 13, "log audit" (RFC 5424 section 6.2.1).
pub const FACILITY_LOG_AUDIT: u8 = 13;

/// APP-NAME.
pub const APP_NAME: &str = "fwsign";

/// How long connecting, each write, and the server's confirmation of the
/// end of the stream may take.
const TIMEOUT: Duration = Duration::from_secs(10);

/// What is the same in every message of a run: the SD-ID and the sender's
/// host name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageOptions {
    /// The SD-ID of the structured-data element.
    pub sd_id: SdId,
    /// HOSTNAME; `-` is written when it is empty or not printable ASCII.
    pub hostname: String,
}

/// The RFC 5424 message for `event` (without framing).
pub fn format_message(event: &ForwardEvent, options: &MessageOptions) -> String {
    let pri = u16::from(FACILITY_LOG_AUDIT) * 8 + u16::from(event.severity.code());
    let mut message = format!(
        "<{pri}>1 {} {} {APP_NAME} - {} [{}",
        header_field(&event.time, 128),
        header_field(&options.hostname, 255),
        header_field(&event.action, 32),
        options.sd_id
    );
    let mut param = |name: &str, value: &str| {
        message.push(' ');
        message.push_str(name);
        message.push_str("=\"");
        message.push_str(&escape_param_value(value));
        message.push('"');
    };
    param("event", &event.action);
    if let Some(role) = &event.role {
        param("role", role);
    }
    if let Some(keyid) = &event.keyid {
        param("keyid", keyid);
    }
    if let Some(approver) = &event.approver {
        param("approver", approver);
    }
    for target in &event.targets {
        param("target", target);
    }
    if let Some(version) = event.version {
        param("version", &version.to_string());
    }
    if let Some(line) = event.line {
        param("line", &line.to_string());
    }
    if let Some(sha256) = &event.sha256 {
        param("sha256", sha256);
    }
    if let Some(detail) = &event.detail {
        param("detail", detail);
    }
    message.push_str("] ");
    if !event.message.is_ascii() {
        // MSG-UTF8 starts with a byte order mark (section 6.4).
        message.push('\u{feff}');
    }
    message.extend(
        event
            .message
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c }),
    );
    message
}

/// A header field: printable US-ASCII, at most `max` characters, `-` when
/// nothing usable is left (the NILVALUE).
fn header_field(text: &str, max: usize) -> String {
    let field: String = text
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if field.is_empty() {
        "-".to_owned()
    } else {
        field
    }
}

/// PARAM-VALUE escaping (RFC 5424 section 6.3.3): `"`, `\` and `]` are
/// preceded by a backslash. Control characters, which the log never holds,
/// become spaces so that a message stays one line.
pub fn escape_param_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '"' | '\\' | ']' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// RFC 6587 octet-counting framing: `MSG-LEN SP SYSLOG-MSG`, the length in
/// bytes.
pub fn frame(message: &str) -> Vec<u8> {
    let mut framed = format!("{} ", message.len()).into_bytes();
    framed.extend_from_slice(message.as_bytes());
    framed
}

/// A server: `syslog://HOST[:PORT]` (TCP, port 514 by default) or
/// `syslog+tls://HOST[:PORT]` (TLS, port 6514 by default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogServer {
    /// The host name or address (an IPv6 address without its brackets).
    pub host: String,
    /// The TCP port.
    pub port: u16,
    /// Whether the connection is TLS.
    pub tls: bool,
}

impl std::fmt::Display for SyslogServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.tls { "syslog+tls" } else { "syslog" };
        if self.host.contains(':') {
            write!(f, "{scheme}://[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{scheme}://{}:{}", self.host, self.port)
        }
    }
}

impl std::str::FromStr for SyslogServer {
    type Err = ForwardError;

    fn from_str(text: &str) -> Result<Self, ForwardError> {
        let invalid = |reason: &str| ForwardError::InvalidServer {
            server: text.to_owned(),
            reason: reason.to_owned(),
        };
        let (tls, rest) = if let Some(rest) = text.strip_prefix("syslog+tls://") {
            (true, rest)
        } else if let Some(rest) = text.strip_prefix("syslog://") {
            (false, rest)
        } else {
            return Err(invalid(
                "expected syslog://HOST:PORT or syslog+tls://HOST:PORT",
            ));
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains(['/', '?', '#', '@']) {
            return Err(invalid("expected only HOST:PORT after the scheme"));
        }
        let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
            let (host, after) = bracketed
                .split_once(']')
                .ok_or_else(|| invalid("an IPv6 address needs its closing ']'"))?;
            (host, after.strip_prefix(':'))
        } else {
            match rest.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (rest, None),
            }
        };
        if host.is_empty() {
            return Err(invalid("no host"));
        }
        let port = match port {
            Some(port) => port
                .parse::<u16>()
                .ok()
                .filter(|&p| p != 0)
                .ok_or_else(|| invalid("the port is not a number from 1 to 65535"))?,
            None if tls => 6514,
            None => 514,
        };
        Ok(Self {
            host: host.to_owned(),
            port,
            tls,
        })
    }
}

/// Sends events to a syslog server, one framed message each, on a
/// connection opened at the first event (a run with nothing to send never
/// connects).
pub struct SyslogSink {
    server: SyslogServer,
    options: MessageOptions,
    roots: Option<rustls::RootCertStore>,
    stream: Option<Box<dyn Stream>>,
}

/// A connection: TCP or TLS over TCP.
pub(super) trait Stream: Read + Write {
    /// Ends the sending direction (after a TLS close_notify).
    fn shutdown_write(&mut self) -> io::Result<()>;
}

impl Stream for TcpStream {
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.shutdown(std::net::Shutdown::Write)
    }
}

impl SyslogSink {
    /// A sink for `server`; `ca` is the CA certificate file (PEM) a TLS
    /// server's certificate must chain to, required for `syslog+tls://`
    /// (and read now, so that a bad file is refused before anything else).
    pub fn new(
        server: SyslogServer,
        options: MessageOptions,
        ca: Option<PathBuf>,
    ) -> Result<Self, ForwardError> {
        if server.tls && ca.is_none() {
            return Err(ForwardError::TlsSetup(format!(
                "{server} needs the CA certificate that signed the server's certificate (--ca FILE)"
            )));
        }
        if !server.tls && ca.is_some() {
            return Err(ForwardError::TlsSetup(format!(
                "{server} is plain TCP: a CA certificate only applies to syslog+tls://"
            )));
        }
        let roots = match &ca {
            Some(ca) => Some(super::tls::roots(ca)?),
            None => None,
        };
        Ok(Self {
            server,
            options,
            roots,
            stream: None,
        })
    }

    fn connect(&self) -> Result<Box<dyn Stream>, ForwardError> {
        let connect_error = |source| ForwardError::Connect {
            server: self.server.to_string(),
            source,
        };
        let addresses = (self.server.host.as_str(), self.server.port)
            .to_socket_addrs()
            .map_err(connect_error)?;
        let mut last = io::Error::new(io::ErrorKind::NotFound, "the host has no address");
        for address in addresses {
            match TcpStream::connect_timeout(&address, TIMEOUT) {
                Ok(tcp) => {
                    tcp.set_write_timeout(Some(TIMEOUT))
                        .map_err(connect_error)?;
                    tcp.set_read_timeout(Some(TIMEOUT)).map_err(connect_error)?;
                    return match &self.roots {
                        Some(roots) => super::tls::connect(&self.server.host, roots.clone(), tcp),
                        None => Ok(Box::new(tcp) as Box<dyn Stream>),
                    }
                    .map_err(connect_error);
                }
                Err(e) => last = e,
            }
        }
        Err(connect_error(last))
    }

    fn send_error(&self, source: io::Error) -> ForwardError {
        ForwardError::Send {
            server: self.server.to_string(),
            source,
        }
    }
}

impl Sink for SyslogSink {
    fn send(&mut self, event: &ForwardEvent) -> Result<(), ForwardError> {
        if self.stream.is_none() {
            self.stream = Some(self.connect()?);
        }
        let framed = frame(&format_message(event, &self.options));
        let written = match self.stream.as_mut() {
            Some(stream) => stream.write_all(&framed),
            None => Ok(()),
        };
        written.map_err(|e| self.send_error(e))
    }

    /// Ends the stream and waits for the server to close its side: a
    /// server closes only after reading everything before the end, so
    /// this is as close to an acknowledgement as syslog offers.
    fn finish(&mut self) -> Result<(), ForwardError> {
        let Some(mut stream) = self.stream.take() else {
            return Ok(());
        };
        let result = stream
            .flush()
            .and_then(|()| stream.shutdown_write())
            .and_then(|()| {
                let mut rest = Vec::new();
                // A reset instead (data the server did not read) is an
                // error: the events may be lost.
                stream.read_to_end(&mut rest).map(|_| ())
            });
        result.map_err(|e| self.send_error(e))
    }
}
