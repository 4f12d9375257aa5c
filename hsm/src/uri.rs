//! PKCS#11 URIs (RFC 7512): parsing, printing without the PIN, and reading
//! the PIN from its `pin-source`.

use core::fmt::{self, Write as _};
use core::str::FromStr;
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::HsmError;

/// Where the PIN comes from: `pin-source=env:VAR` or `pin-source=PATH`
/// (also `file:PATH` / `file:///PATH`, RFC 7512's own form).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PinSource {
    /// An environment variable of this name.
    Env(String),
    /// A file whose contents, less one trailing newline, are the PIN.
    File(PathBuf),
}

impl PinSource {
    fn parse(value: &str) -> Result<Self, String> {
        if let Some(var) = value.strip_prefix("env:") {
            if var.is_empty() || var.contains('=') || var.contains('\0') {
                return Err(format!(
                    "pin-source {value:?} does not name an environment variable"
                ));
            }
            return Ok(Self::Env(var.to_owned()));
        }
        let path = match value.strip_prefix("file:") {
            // `file:///p` and `file://localhost/p` are `/p`; another host is
            // not a file this machine can read.
            Some(rest) => match rest.strip_prefix("//") {
                Some(rest) => {
                    let slash = rest.find('/').unwrap_or(rest.len());
                    let (host, path) = rest.split_at(slash);
                    if !host.is_empty() && host != "localhost" {
                        return Err(format!("pin-source {value:?} names another host"));
                    }
                    path
                }
                None => rest,
            },
            None => value,
        };
        if path.is_empty() {
            return Err("pin-source is empty".to_owned());
        }
        Ok(Self::File(PathBuf::from(path)))
    }

    /// The source as written in a URI (`env:VAR` or the file path): what
    /// error messages show instead of the PIN.
    pub fn describe(&self) -> String {
        match self {
            Self::Env(var) => format!("env:{var}"),
            Self::File(path) => path.display().to_string(),
        }
    }

    /// Reads the PIN. A file's final `\n` (or `\r\n`) is dropped, since
    /// `echo PIN > file` writes one; nothing else is trimmed.
    pub fn read(&self) -> Result<Zeroizing<Vec<u8>>, HsmError> {
        let fail = |why: String| HsmError::PinSource {
            source_name: self.describe(),
            why,
        };
        let pin = match self {
            Self::Env(var) => {
                let value = std::env::var_os(var)
                    .ok_or_else(|| fail("the environment variable is not set".to_owned()))?;
                Zeroizing::new(os_string_bytes(value))
            }
            Self::File(path) => {
                fwsign_keys::secret_file::check_owner_only(path)
                    .map_err(HsmError::PinFileExposed)?;
                // Not `read_to_string`: its error for non-UTF-8 content is
                // fine, but some tokens take binary PINs.
                let mut bytes =
                    Zeroizing::new(std::fs::read(path).map_err(|e| fail(e.to_string()))?);
                let mut len = bytes.len();
                if bytes.ends_with(b"\n") {
                    len -= 1;
                    if bytes[..len].ends_with(b"\r") {
                        len -= 1;
                    }
                }
                bytes.truncate(len);
                bytes
            }
        };
        if pin.is_empty() {
            return Err(fail("it is empty".to_owned()));
        }
        Ok(pin)
    }
}

#[cfg(unix)]
fn os_string_bytes(value: std::ffi::OsString) -> Vec<u8> {
    use std::os::unix::ffi::OsStringExt as _;
    value.into_vec()
}

#[cfg(not(unix))]
fn os_string_bytes(value: std::ffi::OsString) -> Vec<u8> {
    value.to_string_lossy().as_bytes().to_vec()
}

/// A parsed PKCS#11 URI naming a token and, usually, a key on it.
///
/// `Display` prints the URI back in RFC 7512 form without `pin-value`, so
/// printing a URI can never leak a PIN; `Debug` likewise.
///
/// Attributes fwsign does not know are refused rather than ignored (RFC 7512
/// lets a consumer do either): a misspelt `objet=release` silently ignored
/// would match every key on the token. Vendor attributes (`x-...`) are
/// accepted and ignored, as the RFC asks.
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Pkcs11Uri {
    /// `token`: the token's label. Tokens are found by label, never by slot
    /// number, which SoftHSM2 and others change between runs.
    pub token: Option<String>,
    /// `manufacturer`: the token's manufacturer ID.
    pub manufacturer: Option<String>,
    /// `model`: the token's model.
    pub model: Option<String>,
    /// `serial`: the token's serial number.
    pub serial: Option<String>,
    /// `slot-id`: a slot number (discouraged; see `token`).
    pub slot_id: Option<u64>,
    /// `slot-description`.
    pub slot_description: Option<String>,
    /// `slot-manufacturer`.
    pub slot_manufacturer: Option<String>,
    /// `library-manufacturer`.
    pub library_manufacturer: Option<String>,
    /// `library-description`.
    pub library_description: Option<String>,
    /// `library-version`, as `MAJOR` or `MAJOR.MINOR`.
    pub library_version: Option<(u8, Option<u8>)>,
    /// `object`: the key's label (`CKA_LABEL`).
    pub object: Option<String>,
    /// `id`: the key's `CKA_ID`, raw bytes.
    pub id: Option<Vec<u8>>,
    /// `type`: `private`, `public`, `cert`, `secret-key` or `data`.
    pub object_type: Option<String>,
    /// `module-path`: the PKCS#11 module to load.
    pub module_path: Option<PathBuf>,
    /// `module-name`: a module looked up by name (`softhsm2` finds
    /// `libsofthsm2.so` in the usual PKCS#11 directories).
    pub module_name: Option<String>,
    /// `pin-source`.
    pub pin_source: Option<PinSource>,
    /// `pin-value`, only when the caller allowed it.
    pin_value: Option<Zeroizing<String>>,
}

impl fmt::Debug for Pkcs11Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URI form is what people read; it is the form without the PIN.
        f.debug_tuple("Pkcs11Uri").field(&self.to_string()).finish()
    }
}

/// Whether `s` is a PKCS#11 URI rather than a key file path: where a command
/// takes either, this decides which.
pub fn is_pkcs11_uri(s: &str) -> bool {
    s.get(..7)
        .is_some_and(|p| p.eq_ignore_ascii_case("pkcs11:"))
}

/// Path attributes in the order `Display` writes them.
const PATH_ATTRS: [&str; 13] = [
    "token",
    "manufacturer",
    "model",
    "serial",
    "slot-id",
    "slot-description",
    "slot-manufacturer",
    "library-manufacturer",
    "library-description",
    "library-version",
    "object",
    "type",
    "id",
];
const QUERY_ATTRS: [&str; 4] = ["module-name", "module-path", "pin-source", "pin-value"];
const OBJECT_TYPES: [&str; 5] = ["private", "public", "cert", "secret-key", "data"];

impl Pkcs11Uri {
    /// Parses `s`, refusing `pin-value` unless `allow_pin_value` (a PIN in a
    /// URI ends up in shell history and process listings).
    pub fn parse(s: &str, allow_pin_value: bool) -> Result<Self, HsmError> {
        let invalid = |why: String| HsmError::InvalidUri {
            uri: redact(s),
            why,
        };
        if !is_pkcs11_uri(s) {
            return Err(invalid("a PKCS#11 URI starts with \"pkcs11:\"".to_owned()));
        }
        let rest = &s[7..];
        if rest.contains('#') {
            return Err(invalid("a PKCS#11 URI has no fragment (\"#\")".to_owned()));
        }
        let (path, query) = match rest.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (rest, None),
        };
        let mut uri = Self::default();
        let mut seen: Vec<&str> = Vec::new();
        let segments = path.split(';').map(|seg| (seg, true)).chain(
            query
                .into_iter()
                .flat_map(|q| q.split('&'))
                .map(|seg| (seg, false)),
        );
        for (segment, in_path) in segments {
            if segment.is_empty() {
                // `pkcs11:` has an empty path; `a=1;;b=2` is tolerated too.
                continue;
            }
            let Some((name, raw)) = segment.split_once('=') else {
                return Err(invalid(format!(
                    "attribute {:?} has no value",
                    cut(segment)
                )));
            };
            let name_lower = name.to_ascii_lowercase();
            if name_lower.starts_with("x-") {
                continue;
            }
            let known = if in_path {
                &PATH_ATTRS[..]
            } else {
                &QUERY_ATTRS[..]
            };
            if !known.contains(&name_lower.as_str()) {
                let other = if in_path {
                    &QUERY_ATTRS[..]
                } else {
                    &PATH_ATTRS[..]
                };
                let why = if other.contains(&name_lower.as_str()) {
                    let (part, sep) = if in_path {
                        ("query", "after \"?\"")
                    } else {
                        ("path", "before \"?\"")
                    };
                    format!("{name_lower} belongs in the URI's {part} ({sep})")
                } else {
                    format!("unknown attribute {:?}", cut(name))
                };
                return Err(invalid(why));
            }
            if seen.contains(&name_lower.as_str()) {
                return Err(invalid(format!("attribute {name_lower} appears twice")));
            }
            let name = known
                .iter()
                .copied()
                .find(|k| *k == name_lower)
                .expect("checked just above");
            seen.push(name);
            if name == "pin-value" {
                if !allow_pin_value {
                    return Err(HsmError::PinValueRefused);
                }
                let bytes = Zeroizing::new(
                    percent_decode(raw)
                        .map_err(|_| invalid("bad percent-encoding in pin-value".to_owned()))?,
                );
                let pin = std::str::from_utf8(&bytes)
                    .map_err(|_| invalid("pin-value is not UTF-8".to_owned()))?;
                uri.pin_value = Some(Zeroizing::new(pin.to_owned()));
                continue;
            }
            let bytes = percent_decode(raw).map_err(|why| invalid(format!("{name}: {why}")))?;
            if name == "id" {
                uri.id = Some(bytes);
                continue;
            }
            let text = String::from_utf8(bytes)
                .map_err(|_| invalid(format!("{name} is not UTF-8 once percent-decoded")))?;
            uri.set_text(name, text).map_err(invalid)?;
        }
        Ok(uri)
    }

    fn set_text(&mut self, name: &str, text: String) -> Result<(), String> {
        match name {
            "token" => self.token = Some(text),
            "manufacturer" => self.manufacturer = Some(text),
            "model" => self.model = Some(text),
            "serial" => self.serial = Some(text),
            "slot-description" => self.slot_description = Some(text),
            "slot-manufacturer" => self.slot_manufacturer = Some(text),
            "library-manufacturer" => self.library_manufacturer = Some(text),
            "library-description" => self.library_description = Some(text),
            "object" => self.object = Some(text),
            "slot-id" => {
                let id = text
                    .parse::<u64>()
                    .map_err(|_| format!("slot-id {text:?} is not a decimal number"))?;
                self.slot_id = Some(id);
            }
            "library-version" => {
                let bad = || format!("library-version {text:?} is not MAJOR or MAJOR.MINOR");
                let (major, minor) = match text.split_once('.') {
                    Some((a, b)) => (a, Some(b)),
                    None => (text.as_str(), None),
                };
                let major = major.parse::<u8>().map_err(|_| bad())?;
                let minor = minor
                    .map(|m| m.parse::<u8>().map_err(|_| bad()))
                    .transpose()?;
                self.library_version = Some((major, minor));
            }
            "type" => {
                if !OBJECT_TYPES.contains(&text.as_str()) {
                    return Err(format!(
                        "type {text:?} is not one of {}",
                        OBJECT_TYPES.join(", ")
                    ));
                }
                self.object_type = Some(text);
            }
            "module-path" => {
                if text.is_empty() {
                    return Err("module-path is empty".to_owned());
                }
                self.module_path = Some(PathBuf::from(text));
            }
            "module-name" => {
                if text.is_empty() || text.contains('/') {
                    return Err(format!("module-name {text:?} is not a module name"));
                }
                self.module_name = Some(text);
            }
            "pin-source" => self.pin_source = Some(PinSource::parse(&text)?),
            _ => unreachable!("only known attribute names reach here"),
        }
        Ok(())
    }

    /// The `pin-value`, if the URI had one and it was allowed.
    pub fn pin_value(&self) -> Option<&str> {
        self.pin_value.as_deref().map(String::as_str)
    }

    /// The PIN this URI provides: `pin-value`, else `pin-source`, else none.
    pub fn read_pin(&self) -> Result<Option<Zeroizing<Vec<u8>>>, HsmError> {
        if let Some(pin) = &self.pin_value {
            return Ok(Some(Zeroizing::new(pin.as_bytes().to_vec())));
        }
        self.pin_source.as_ref().map(PinSource::read).transpose()
    }

    /// The key this URI names, for messages: `object="x"`, `id=0a1b`, both,
    /// or `(any key)`.
    pub fn key_description(&self) -> String {
        let mut parts = Vec::new();
        if let Some(label) = &self.object {
            parts.push(format!("object={label:?}"));
        }
        if let Some(id) = &self.id {
            parts.push(format!("id={}", hex(id)));
        }
        if parts.is_empty() {
            return "(any key)".to_owned();
        }
        parts.join(" ")
    }

    /// The token this URI names, for messages.
    pub fn token_description(&self) -> String {
        let mut parts = Vec::new();
        for (name, value) in [
            ("token", &self.token),
            ("manufacturer", &self.manufacturer),
            ("model", &self.model),
            ("serial", &self.serial),
        ] {
            if let Some(v) = value {
                parts.push(format!("{name}={v:?}"));
            }
        }
        if let Some(slot) = self.slot_id {
            parts.push(format!("slot-id={slot}"));
        }
        if parts.is_empty() {
            return "(any token)".to_owned();
        }
        parts.join(" ")
    }

    /// The module to load: `module-path`, else `module-name` looked up in
    /// the usual PKCS#11 directories, else `FWSIGN_PKCS11_MODULE`.
    pub fn resolve_module(&self) -> Result<PathBuf, HsmError> {
        if let Some(path) = &self.module_path {
            return Ok(path.clone());
        }
        if let Some(name) = &self.module_name {
            return find_module_by_name(name);
        }
        match std::env::var_os(MODULE_ENV) {
            Some(path) if !path.is_empty() => Ok(PathBuf::from(path)),
            _ => Err(HsmError::NoModule),
        }
    }
}

/// The environment variable naming the PKCS#11 module when the URI does not.
pub const MODULE_ENV: &str = "FWSIGN_PKCS11_MODULE";

/// Where distributions put PKCS#11 modules (p11-kit's module directory and
/// SoftHSM2's own).
fn module_dirs() -> Vec<PathBuf> {
    let triple = format!("{}-linux-gnu", std::env::consts::ARCH);
    let mut dirs = Vec::new();
    for base in ["/usr/lib", "/usr/lib64", "/usr/local/lib"] {
        let base = Path::new(base);
        dirs.push(base.join(&triple).join("pkcs11"));
        dirs.push(base.join("pkcs11"));
        dirs.push(base.join(&triple).join("softhsm"));
        dirs.push(base.join("softhsm"));
        dirs.push(base.join(&triple));
        dirs.push(base.to_path_buf());
    }
    dirs
}

fn find_module_by_name(name: &str) -> Result<PathBuf, HsmError> {
    let files = [
        format!("lib{name}.so"),
        format!("{name}.so"),
        name.to_owned(),
    ];
    for dir in module_dirs() {
        for file in &files {
            let candidate = dir.join(file);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    Err(HsmError::ModuleNotFound {
        path: PathBuf::from(format!("lib{name}.so (module-name={name})")),
    })
}

impl FromStr for Pkcs11Uri {
    type Err = HsmError;

    /// Parses with `pin-value` refused; see [`Pkcs11Uri::parse`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s, false)
    }
}

impl fmt::Display for Pkcs11Uri {
    /// The URI in RFC 7512 form, attributes in a fixed order, `id` fully
    /// percent-encoded, and never `pin-value`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("pkcs11:")?;
        let version = self.library_version.map(|(major, minor)| match minor {
            Some(minor) => format!("{major}.{minor}"),
            None => major.to_string(),
        });
        let slot_id = self.slot_id.map(|s| s.to_string());
        let path: [(&str, Option<&str>); 12] = [
            ("token", self.token.as_deref()),
            ("manufacturer", self.manufacturer.as_deref()),
            ("model", self.model.as_deref()),
            ("serial", self.serial.as_deref()),
            ("slot-id", slot_id.as_deref()),
            ("slot-description", self.slot_description.as_deref()),
            ("slot-manufacturer", self.slot_manufacturer.as_deref()),
            ("library-manufacturer", self.library_manufacturer.as_deref()),
            ("library-description", self.library_description.as_deref()),
            ("library-version", version.as_deref()),
            ("object", self.object.as_deref()),
            ("type", self.object_type.as_deref()),
        ];
        let mut first = true;
        for (name, value) in path {
            if let Some(value) = value {
                if !first {
                    f.write_char(';')?;
                }
                first = false;
                write!(f, "{name}={}", encode(value.as_bytes(), PATH_SAFE))?;
            }
        }
        if let Some(id) = &self.id {
            if !first {
                f.write_char(';')?;
            }
            f.write_str("id=")?;
            for b in id {
                write!(f, "%{b:02X}")?;
            }
        }
        let module_path = self
            .module_path
            .as_ref()
            .map(|p| p.to_string_lossy().into_owned());
        let pin_source = self.pin_source.as_ref().map(PinSource::describe);
        let query: [(&str, Option<&str>); 3] = [
            ("module-name", self.module_name.as_deref()),
            ("module-path", module_path.as_deref()),
            ("pin-source", pin_source.as_deref()),
        ];
        let mut first = true;
        for (name, value) in query {
            if let Some(value) = value {
                f.write_char(if first { '?' } else { '&' })?;
                first = false;
                write!(f, "{name}={}", encode(value.as_bytes(), QUERY_SAFE))?;
            }
        }
        Ok(())
    }
}

/// Characters RFC 7512 lets stand unencoded in a path value
/// (`pk11-res-avail`, besides the unreserved ones).
const PATH_SAFE: &[u8] = b":[]@!$'()*+,=&";
/// Likewise for a query value (`pk11-qres-avail`).
const QUERY_SAFE: &[u8] = b":[]@!$'()*+,;/?|";

fn encode(bytes: &[u8], safe: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || safe.contains(&b) {
            out.push(char::from(b));
        } else {
            write!(out, "%{b:02X}").expect("writing to a String cannot fail");
        }
    }
    out
}

fn percent_decode(s: &str) -> Result<Vec<u8>, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| {
                    "bad percent-encoding (a \"%\" not followed by two hex digits)".to_owned()
                })?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// Lowercase hex of an ID, for messages.
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        write!(out, "{b:02x}").expect("writing to a String cannot fail");
    }
    out
}

/// At most 40 characters of a name, for messages about text that could be
/// anything (a whole URI pasted into the wrong place).
fn cut(s: &str) -> String {
    s.chars().take(40).collect()
}

/// `s` with the value of any `pin-value` attribute replaced by `***`, so an
/// error about a URI can quote it.
pub(crate) fn redact(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    loop {
        let cut_at = rest.find([';', '?', '&']).unwrap_or(rest.len());
        let (segment, tail) = rest.split_at(cut_at);
        let name = segment.split_once('=').map_or(segment, |(n, _)| n);
        // The segment right after the scheme starts with `pkcs11:`.
        let bare = name.rsplit(':').next().unwrap_or(name);
        if bare.eq_ignore_ascii_case("pin-value") {
            out.push_str(name);
            out.push_str("=***");
        } else {
            out.push_str(segment);
        }
        let Some(sep) = tail.chars().next() else {
            return out;
        };
        out.push(sep);
        rest = &tail[1..];
    }
}

#[cfg(test)]
mod tests;
