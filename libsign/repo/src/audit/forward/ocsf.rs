//! The OCSF form of an event: one JSON object per event
//! ([`to_ocsf`]), for a SIEM that ingests OCSF instead of syslog.
//!
//! ## Why Entity Management (class 3004)
//!
//! Every audit event is something done to a managed entity, the TUF role
//! (its metadata file): a version staged (Update, or Create for `init`),
//! signed or approved (Other), published (Activate), refused (Other, with
//! status Failure). OCSF's Entity Management class, in the Identity &
//! Access Management category, is the class for "create, read, update,
//! and delete operation on a managed entity" by a user at a management
//! console, and its required attributes (`entity`, `activity_id`) are all
//! things the log holds. API Activity (6003) would need a source endpoint
//! and an API call the log does not record; Account Change (3001) is about
//! user accounts, not signed metadata.
//!
//! The role is `entity` (`name`, `type` "TUF role", `version`); the key
//! that acted is `actor.user.uid`; the log line's hash is `metadata.uid`
//! (a collector's duplicate key) and its number `metadata.sequence`; every
//! field of the syslog structured data is also under `unmapped`, with the
//! same names.

use fwsign_manifest_schema::expiry::parse_expires;
use serde_json::{Value, json};

use super::{ForwardEvent, REWRITTEN_ACTION, Severity};

/// The OCSF schema version the objects follow.
pub const OCSF_VERSION: &str = "1.3.0";

/// Entity Management.
pub const CLASS_UID: u64 = 3004;

/// Identity & Access Management.
pub const CATEGORY_UID: u64 = 3;

/// The OCSF object for `event`; `hostname` names the device that sent it.
pub fn to_ocsf(event: &ForwardEvent, hostname: &str) -> Value {
    let (activity_id, activity_name) = activity(&event.action);
    let (severity_id, severity) = match event.severity {
        Severity::Critical => (5, "Critical"),
        Severity::Error => (4, "High"),
        Severity::Warning => (3, "Medium"),
        _ => (1, "Informational"),
    };
    let failed = event.action == "refuse" || event.action == REWRITTEN_ACTION;
    let (status_id, status) = if failed {
        (2, "Failure")
    } else {
        (1, "Success")
    };
    let time_ms = parse_expires(event.time.as_bytes()).map(|t| t.0.saturating_mul(1000));
    let mut object = json!({
        "activity_id": activity_id,
        "activity_name": activity_name,
        "category_uid": CATEGORY_UID,
        "category_name": "Identity & Access Management",
        "class_uid": CLASS_UID,
        "class_name": "Entity Management",
        "type_uid": CLASS_UID * 100 + activity_id,
        "time": time_ms,
        "severity_id": severity_id,
        "severity": severity,
        "status_id": status_id,
        "status": status,
        "message": event.message,
        "metadata": {
            "version": OCSF_VERSION,
            "product": {
                "name": "fwsign",
                "vendor_name": "fwsign",
                "version": env!("CARGO_PKG_VERSION"),
            },
            "log_name": "audit.log",
        },
        "device": { "hostname": hostname },
        "entity": {
            "name": event.role.clone().unwrap_or_else(|| "audit.log".to_owned()),
            "type": if event.role.is_some() { "TUF role" } else { "audit log" },
        },
        "unmapped": {
            "event": event.action,
            "role": event.role,
            "keyid": event.keyid,
            "approver": event.approver,
            "target": event.targets,
            "version": event.version,
            "line": event.line,
            "sha256": event.sha256,
            "detail": event.detail,
            "time": event.time,
        },
    });
    if let Some(version) = event.version {
        object["entity"]["version"] = json!(version.to_string());
    }
    if let Some(keyid) = &event.keyid {
        object["actor"] = json!({ "user": { "uid": keyid, "type": "key" } });
        if let Some(name) = &event.approver {
            object["actor"]["user"]["name"] = json!(name);
        }
    }
    if let Some(detail) = &event.detail {
        object["status_detail"] = json!(detail);
    }
    if let Some(sha256) = &event.sha256 {
        object["metadata"]["uid"] = json!(sha256);
    }
    if let Some(line) = event.line {
        object["metadata"]["sequence"] = json!(line);
    }
    object
}

/// The Entity Management activity of an audit action.
/// Other activities are named by the action itself, as OCSF asks.
fn activity(action: &str) -> (u64, String) {
    let (id, name) = match action {
        "init" => (1, "Create"),
        "stage" | "refresh" | "approvals-dropped" => (3, "Update"),
        "publish" => (10, "Activate"),
        other => (99, other),
    };
    (id, name.to_owned())
}
