//! The OCPP messages: which version to build, the firmware status and
//! security event names a charger reports, the `UpdateFirmwareRequest` /
//! `SignedUpdateFirmware.req` payload fwsign writes, and the parts of a
//! received request the checks read.
//!
//! Separate from signing and verification because the message shapes and
//! their length limits come from the OCPP schemas, not from the crypto.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::cert::parse_rfc3339;

use super::error::OcppError;
use super::{
    MAX_LOCATION_CHARS, MAX_SIGNATURE_CHARS, MAX_SIGNING_CERTIFICATE_CHARS, MAX_VENDOR_ID_CHARS,
};

/// Which OCPP message to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OcppVersion {
    /// OCPP 1.6 with the security extension: `SignedUpdateFirmware.req`.
    V16,
    /// OCPP 2.0.1: `UpdateFirmwareRequest`.
    V201,
}

impl OcppVersion {
    /// `1.6` or `2.0.1`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::V16 => "1.6",
            Self::V201 => "2.0.1",
        }
    }

    /// The OCPP-J action name: `SignedUpdateFirmware` or `UpdateFirmware`.
    pub fn action(self) -> &'static str {
        match self {
            Self::V16 => "SignedUpdateFirmware",
            Self::V201 => "UpdateFirmware",
        }
    }
}

impl fmt::Display for OcppVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OcppVersion {
    type Err = OcppError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "1.6" => Ok(Self::V16),
            "2.0.1" => Ok(Self::V201),
            other => Err(OcppError::UnknownVersion(other.to_owned())),
        }
    }
}

/// The firmware status a charger reports for a signed update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FirmwareStatus {
    /// `FirmwareStatusNotification` `SignatureVerified`: the certificate
    /// path and the signature are good; installation may go on.
    SignatureVerified,
    /// `FirmwareStatusNotification` `InvalidSignature`: the signature does
    /// not verify over the downloaded file (or is missing or malformed).
    InvalidSignature,
    /// The `UpdateFirmware` response status `InvalidCertificate`: the
    /// signing certificate does not lead to the manufacturer root.
    InvalidCertificate,
}

impl FirmwareStatus {
    /// The status as OCPP spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SignatureVerified => "SignatureVerified",
            Self::InvalidSignature => "InvalidSignature",
            Self::InvalidCertificate => "InvalidCertificate",
        }
    }

    /// The security event a charger raises with this status, if any.
    pub fn security_event(self) -> Option<SecurityEvent> {
        match self {
            Self::SignatureVerified => None,
            Self::InvalidSignature => Some(SecurityEvent::InvalidFirmwareSignature),
            Self::InvalidCertificate => Some(SecurityEvent::InvalidFirmwareSigningCertificate),
        }
    }
}

impl fmt::Display for FirmwareStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The security event (OCPP security whitepaper / 2.0.1 appendix) a charger
/// reports with a refused firmware update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecurityEvent {
    /// `InvalidFirmwareSignature`.
    InvalidFirmwareSignature,
    /// `InvalidFirmwareSigningCertificate`.
    InvalidFirmwareSigningCertificate,
}

impl SecurityEvent {
    /// The event type as OCPP spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidFirmwareSignature => "InvalidFirmwareSignature",
            Self::InvalidFirmwareSigningCertificate => "InvalidFirmwareSigningCertificate",
        }
    }
}

impl fmt::Display for SecurityEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An `UpdateFirmwareRequest` (2.0.1) or `SignedUpdateFirmware.req` (1.6)
/// payload.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateFirmwareRequest {
    /// Which message.
    pub version: OcppVersion,
    /// `requestId`.
    pub request_id: i32,
    /// `retries`: download attempts before giving up (not negative).
    pub retries: Option<i32>,
    /// `retryInterval`: seconds between attempts (not negative).
    pub retry_interval: Option<i32>,
    /// `firmware.location`: the download URI.
    pub location: String,
    /// `firmware.retrieveDateTime` (RFC 3339), written as given.
    pub retrieve_date_time: String,
    /// `firmware.installDateTime` (RFC 3339), written as given.
    pub install_date_time: Option<String>,
    /// `firmware.signingCertificate`: PEM, signing certificate first
    /// (required in 1.6).
    pub signing_certificate: Option<String>,
    /// `firmware.signature`: Base64 DER (required in 1.6).
    pub signature: Option<String>,
    /// `customData` (2.0.1 only): an object with a `vendorId` string.
    pub custom_data: Option<Map<String, Value>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PayloadOut<'a> {
    request_id: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    retries: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_interval: Option<i32>,
    firmware: FirmwareOut<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    custom_data: Option<&'a Map<String, Value>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FirmwareOut<'a> {
    location: &'a str,
    retrieve_date_time: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    install_date_time: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signing_certificate: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    signature: Option<&'a str>,
}

fn check_length(field: &'static str, text: &str, max: usize) -> Result<(), OcppError> {
    // JSON Schema's maxLength counts characters (code points), not bytes.
    let chars = text.chars().count();
    if chars > max {
        return Err(OcppError::FieldTooLong { field, chars, max });
    }
    Ok(())
}

fn check_date_time(field: &'static str, text: &str) -> Result<(), OcppError> {
    parse_rfc3339(text)
        .map(|_| ())
        .ok_or_else(|| OcppError::DateTime {
            field,
            value: text.to_owned(),
        })
}

impl UpdateFirmwareRequest {
    /// Checks every field against the version's schema: lengths, RFC 3339
    /// times, non-negative retry counts, the fields 1.6 requires, and
    /// `customData` (2.0.1 only, an object with a `vendorId` string of at
    /// most [`MAX_VENDOR_ID_CHARS`]).
    pub fn check(&self) -> Result<(), OcppError> {
        if self.location.is_empty() {
            return Err(OcppError::InvalidField {
                field: "firmware.location",
                detail: "empty".to_owned(),
            });
        }
        if self
            .location
            .chars()
            .any(|c| c.is_control() || c.is_whitespace())
        {
            return Err(OcppError::InvalidField {
                field: "firmware.location",
                detail: "a URI has no spaces or control characters".to_owned(),
            });
        }
        check_length("firmware.location", &self.location, MAX_LOCATION_CHARS)?;
        check_date_time("firmware.retrieveDateTime", &self.retrieve_date_time)?;
        if let Some(install) = &self.install_date_time {
            check_date_time("firmware.installDateTime", install)?;
        }
        for (field, value) in [
            ("retries", self.retries),
            ("retryInterval", self.retry_interval),
        ] {
            if let Some(v) = value
                && v < 0
            {
                return Err(OcppError::InvalidField {
                    field,
                    detail: format!("{v} is negative"),
                });
            }
        }
        if let Some(pem) = &self.signing_certificate {
            check_length(
                "firmware.signingCertificate",
                pem,
                MAX_SIGNING_CERTIFICATE_CHARS,
            )?;
        }
        if let Some(sig) = &self.signature {
            check_length("firmware.signature", sig, MAX_SIGNATURE_CHARS)?;
        }
        match self.version {
            OcppVersion::V16 => {
                if self.signing_certificate.is_none() {
                    return Err(OcppError::MissingField {
                        field: "firmware.signingCertificate",
                        version: self.version,
                    });
                }
                if self.signature.is_none() {
                    return Err(OcppError::MissingField {
                        field: "firmware.signature",
                        version: self.version,
                    });
                }
                if self.custom_data.is_some() {
                    return Err(OcppError::CustomDataNotAllowed(self.version));
                }
            }
            OcppVersion::V201 => {
                if let Some(custom) = &self.custom_data {
                    match custom.get("vendorId") {
                        Some(Value::String(id)) => {
                            check_length("customData.vendorId", id, MAX_VENDOR_ID_CHARS)?;
                        }
                        _ => {
                            return Err(OcppError::InvalidField {
                                field: "customData",
                                detail: "needs a \"vendorId\" string".to_owned(),
                            });
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The payload as pretty-printed JSON, fields in the schema's order,
    /// after [`Self::check`].
    pub fn to_json(&self) -> Result<String, OcppError> {
        self.check()?;
        let payload = PayloadOut {
            request_id: self.request_id,
            retries: self.retries,
            retry_interval: self.retry_interval,
            firmware: FirmwareOut {
                location: &self.location,
                retrieve_date_time: &self.retrieve_date_time,
                install_date_time: self.install_date_time.as_deref(),
                signing_certificate: self.signing_certificate.as_deref(),
                signature: self.signature.as_deref(),
            },
            custom_data: self.custom_data.as_ref(),
        };
        let mut text = serde_json::to_string_pretty(&payload)
            .expect("a payload of strings and integers serializes");
        text.push('\n');
        Ok(text)
    }

    /// The payload as a JSON value, after [`Self::check`].
    pub fn to_value(&self) -> Result<Value, OcppError> {
        let text = self.to_json()?;
        Ok(serde_json::from_str(&text).expect("JSON fwsign just wrote parses"))
    }
}

/// The parts of a received firmware update request the charger's checks use.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReceivedRequest {
    /// The action, when the request was an OCPP-J CALL.
    pub action: Option<String>,
    /// `requestId`.
    pub request_id: Option<i64>,
    /// `firmware.location`.
    pub location: String,
    /// `firmware.signingCertificate`.
    pub signing_certificate: Option<String>,
    /// `firmware.signature`.
    pub signature: Option<String>,
}

/// Reads a firmware update request: the payload object of either version,
/// or an OCPP-J CALL `[2, "<id>", "UpdateFirmware" | "SignedUpdateFirmware",
/// {payload}]`. `what` names the source in errors.
pub fn parse_request(json: &str, what: &str) -> Result<ReceivedRequest, OcppError> {
    let bad = |detail: &str| OcppError::NotARequest {
        what: what.to_owned(),
        detail: detail.to_owned(),
    };
    let value: Value = serde_json::from_str(json).map_err(|e| OcppError::NotARequest {
        what: what.to_owned(),
        detail: format!("not JSON: {e}"),
    })?;
    let (action, payload) = match value {
        Value::Array(items) => match items.as_slice() {
            [
                Value::Number(kind),
                Value::String(_),
                Value::String(action),
                payload,
            ] if kind.as_u64() == Some(2) => {
                if action != "UpdateFirmware" && action != "SignedUpdateFirmware" {
                    return Err(bad(&format!("a CALL of {action:?}")));
                }
                (Some(action.clone()), payload.clone())
            }
            _ => return Err(bad("an array that is not an OCPP-J CALL")),
        },
        other => (None, other),
    };
    let firmware = payload
        .get("firmware")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("no \"firmware\" object"))?;
    let text = |key: &str| -> Result<Option<String>, OcppError> {
        match firmware.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(bad(&format!("firmware.{key} is not a string"))),
        }
    };
    Ok(ReceivedRequest {
        action,
        request_id: payload.get("requestId").and_then(Value::as_i64),
        location: text("location")?.ok_or_else(|| bad("no firmware.location"))?,
        signing_certificate: text("signingCertificate")?,
        signature: text("signature")?,
    })
}
