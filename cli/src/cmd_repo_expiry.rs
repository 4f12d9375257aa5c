//! `repo status`'s expiry report: every published role with its version
//! and expiry, expired and soon-expiring roles flagged, and the
//! `--check-expiry DURATION [--role R]...` gate a CI job runs.

use fwsign_repo::expiry::{ExpiryState, expiring_within};
use fwsign_repo::{Published, Repository};
use serde_json::{Value, json};

use crate::cmd_repo::duration;
use crate::failure::Failure;
use crate::now;
use crate::output::Output;

/// What the expiry report adds to the status document, and the failure
/// `--check-expiry` turns it into.
pub(crate) struct ExpiryReport {
    /// Every published role: role, version, expires, state.
    pub roles: Vec<Value>,
    /// Roles `--check-expiry` caught (role, version, expires, state).
    pub expiring: Vec<Value>,
    /// The failure to report (exit 1), `reason` `expired` when one of the
    /// caught roles has already expired, else `expiring`.
    pub failure: Option<(&'static str, String)>,
}

/// `3d 4h`, `5h 12m`, `40s`: how far away an expiry is, for people.
fn human(secs: i64) -> String {
    let s = secs.unsigned_abs();
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m")
    } else {
        format!("{s}s")
    }
}

/// Lists every published role's expiry (human output) and checks
/// `--check-expiry` over the roles `only` names (all when empty). A role in
/// `only` that is not published is a usage error: a CI job watching a role
/// that does not exist would never fire.
pub(crate) fn expiry_report(
    repo: &Repository,
    published: Option<&Published>,
    check_expiry: Option<&str>,
    only: &[String],
    out: &Output,
) -> Result<ExpiryReport, Failure> {
    let now = now();
    let mut report = ExpiryReport {
        roles: Vec::new(),
        expiring: Vec::new(),
        failure: None,
    };
    let window = check_expiry.map(duration).transpose()?;
    let Some(published) = published else {
        return Ok(report);
    };
    let expiries = published.role_expiries(repo.expiry(), now);
    for r in &expiries {
        let when = match r.expires_in_secs {
            Some(s) if s > 0 => format!("in {}", human(s)),
            Some(s) => format!("{} ago", human(s)),
            None => "unreadable".into(),
        };
        let flag = match r.state {
            ExpiryState::Ok => String::new(),
            ExpiryState::Expiring => format!(
                ": EXPIRES SOON (within a quarter of its {} expiry period)",
                human(r.soon_secs.saturating_mul(4))
            ),
            ExpiryState::Expired => ": EXPIRED, clients refuse it".into(),
        };
        out.say(format!(
            "  {} v{} expires {} ({when}){flag}",
            r.role, r.version, r.expires
        ));
        report.roles.push(json!({
            "role": r.role,
            "version": r.version,
            "expires": r.expires,
            "expires_in_secs": r.expires_in_secs,
            "soon_secs": r.soon_secs,
            "state": r.state,
        }));
    }
    for role in only {
        if !expiries.iter().any(|r| &r.role == role) {
            return Err(Failure::usage(format!(
                "--role {role}: not a published role (published: {})",
                expiries
                    .iter()
                    .map(|r| r.role.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    let (Some(secs), Some(text)) = (window, check_expiry) else {
        return Ok(report);
    };
    let mut any_expired = false;
    for (role, version, expires) in expiring_within(published, now, secs) {
        if !only.is_empty() && !only.contains(&role) {
            continue;
        }
        let state = expiries
            .iter()
            .find(|r| r.role == role)
            .map_or(ExpiryState::Expired, |r| r.state);
        let expired = state == ExpiryState::Expired;
        any_expired |= expired;
        out.say(format!(
            "{role} v{version} {} {expires}, within {text}",
            if expired { "expired" } else { "expires" }
        ));
        report.expiring.push(json!({
            "role": role,
            "version": version,
            "expires": expires,
            "state": state,
        }));
    }
    if !report.expiring.is_empty() {
        let names: Vec<&str> = report
            .expiring
            .iter()
            .filter_map(|e| e["role"].as_str())
            .collect();
        report.failure = Some((
            if any_expired { "expired" } else { "expiring" },
            format!(
                "{} role(s) {} within {text}: {}",
                names.len(),
                if any_expired {
                    "expired or expire"
                } else {
                    "expire"
                },
                names.join(", ")
            ),
        ));
    }
    Ok(report)
}
