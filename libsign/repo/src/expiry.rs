//! When each published role expires, and who re-signs it.
//!
//! `repo status` lists every published role with its expiry and flags the
//! ones that have expired or expire soon; `--check-expiry` and `refresh` ask
//! the same questions. Whether a role has expired is the verification
//! core's rule ([`check_expiry`]: expired when `expires <= now`), so
//! fwsign never calls a role fresh that a client would refuse.

use fwsign_manifest_schema::expiry::{UnixTime, parse_expires};
use serde::Serialize;

use super::{ExpiryPolicy, Published};
use fwsign_core::workflow::check_expiry;

/// How close a role is to its expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExpiryState {
    /// More than its "soon" window left.
    Ok,
    /// Within its "soon" window: a quarter of the role's configured expiry
    /// period ([`soon_window`]).
    Expiring,
    /// Expired (or its `expires` is unreadable): clients refuse it.
    Expired,
}

/// One published role's expiry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleExpiry {
    /// The role.
    pub role: String,
    /// Its published version.
    pub version: u64,
    /// Its `expires`, as published.
    pub expires: String,
    /// Seconds from `now` to its expiry (negative once expired; `None` when
    /// `expires` is unreadable).
    pub expires_in_secs: Option<i64>,
    /// The "soon" window used for it, in seconds.
    pub soon_secs: i64,
    /// Expired, expiring soon, or fine.
    pub state: ExpiryState,
}

/// The "soon" window of `role`: a quarter of the expiry period the
/// repository gives it (root 1y: about 91 days; targets and delegated roles
/// 90d: 22.5 days; snapshot 1w: 42 hours; timestamp 1d: 6 hours). A quarter
/// scales with how often the role is re-signed: a daily timestamp is not
/// "soon" three days ahead, a yearly root is.
pub fn soon_window(policy: &ExpiryPolicy, role: &str) -> i64 {
    policy.for_role(role) / 4
}

/// Whether `expires` has passed at `now`, by the core's rule. An unreadable
/// `expires` counts as expired: no client accepts it.
pub fn is_expired(expires: &str, now: UnixTime) -> bool {
    match parse_expires(expires.as_bytes()) {
        Some(expires) => check_expiry(expires, Some(now)).is_err(),
        None => true,
    }
}

impl Published {
    /// Every published role with its version and `expires`: root,
    /// timestamp, snapshot, targets, then delegated roles by name.
    pub fn all_roles_with_expiry(&self) -> Vec<(String, u64, String)> {
        let mut roles = vec![(
            "root".to_owned(),
            self.root.signed.version,
            self.root.signed.expires.clone(),
        )];
        if let Some(t) = &self.timestamp {
            roles.push((
                "timestamp".into(),
                t.signed.version,
                t.signed.expires.clone(),
            ));
        }
        if let Some(s) = &self.snapshot {
            roles.push((
                "snapshot".into(),
                s.signed.version,
                s.signed.expires.clone(),
            ));
        }
        if let Some(t) = self.targets.get("targets") {
            roles.push(("targets".into(), t.signed.version, t.signed.expires.clone()));
        }
        for (name, t) in self.targets.iter().filter(|(n, _)| *n != "targets") {
            roles.push((name.clone(), t.signed.version, t.signed.expires.clone()));
        }
        roles
    }

    /// Every published role's expiry at `now`, with the "soon" window of
    /// `policy` ([`soon_window`]).
    pub fn role_expiries(&self, policy: &ExpiryPolicy, now: UnixTime) -> Vec<RoleExpiry> {
        self.all_roles_with_expiry()
            .into_iter()
            .map(|(role, version, expires)| {
                let soon_secs = soon_window(policy, &role);
                let expires_in_secs =
                    parse_expires(expires.as_bytes()).map(|t| t.0.saturating_sub(now.0));
                let state = if is_expired(&expires, now) {
                    ExpiryState::Expired
                } else if is_expired(&expires, UnixTime(now.0.saturating_add(soon_secs))) {
                    ExpiryState::Expiring
                } else {
                    ExpiryState::Ok
                };
                RoleExpiry {
                    role,
                    version,
                    expires,
                    expires_in_secs,
                    soon_secs,
                    state,
                }
            })
            .collect()
    }
}

/// The roles of `published` that expire within `secs` of `now` (expired
/// ones included): role, version, `expires`.
pub fn expiring_within(
    published: &Published,
    now: UnixTime,
    secs: i64,
) -> Vec<(String, u64, String)> {
    let limit = UnixTime(now.0.saturating_add(secs));
    published
        .all_roles_with_expiry()
        .into_iter()
        .filter(|(_, _, expires)| is_expired(expires, limit))
        .collect()
}

/// An expired published role and who must re-sign it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExpiredRole {
    /// The role.
    pub role: String,
    /// Its published version.
    pub version: u64,
    /// Its `expires`.
    pub expires: String,
    /// Who authorises its keys: `root`, or the delegating targets role.
    pub delegator: String,
    /// The key IDs whose signatures re-signing it needs (a threshold of
    /// them).
    pub keyids: Vec<String>,
    /// How many of them must sign.
    pub threshold: u64,
    /// The owners of those keys, as the delegator names them
    /// ([`key_owners::lookup`](crate::key_owners::lookup)); left out when
    /// none is named.
    #[serde(skip_serializing_if = "crate::key_owners::KeyOwners::is_empty")]
    pub owners: crate::key_owners::KeyOwners,
}

impl std::fmt::Display for ExpiredRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} v{} expired at {}; clients refuse it until {} of its {} key(s) ({} lists them) sign a new version (`fwsign repo extend --role {} --expires DURATION`, then `repo sign`, then `repo publish`): {}",
            self.role,
            self.version,
            self.expires,
            self.threshold,
            self.keyids.len(),
            self.delegator,
            self.role,
            self.owners.labels(&self.keyids)
        )
    }
}

impl Published {
    /// Root, targets and delegated roles that have expired at `now`, with
    /// the keys that must re-sign each (snapshot and timestamp are left
    /// out: the online key renews them, and `refresh` is what does).
    pub fn expired_approved_roles(&self, now: UnixTime) -> Vec<ExpiredRole> {
        let mut expired = Vec::new();
        for (role, version, expires) in self.all_roles_with_expiry() {
            if role == "snapshot" || role == "timestamp" || !is_expired(&expires, now) {
                continue;
            }
            let (delegator, keyids, threshold) = self.approvers_of(&role);
            let owners = self.owners_given_by(&delegator).only(&keyids);
            expired.push(ExpiredRole {
                role,
                version,
                expires,
                delegator,
                keyids,
                threshold,
                owners,
            });
        }
        expired
    }

    /// The names `delegator` (`root` or a published targets role) gives
    /// the keys it lists: the one look-up, [`crate::key_owners::lookup`].
    fn owners_given_by(&self, delegator: &str) -> crate::key_owners::KeyOwners {
        if delegator == "root" {
            return crate::key_owners::lookup(&self.root.signed);
        }
        self.targets
            .get(delegator)
            .map(|doc| crate::key_owners::lookup(&doc.signed))
            .unwrap_or_default()
    }

    /// Who authorises `role`'s keys in the published state, its key IDs and
    /// threshold: the root for top-level roles, else the targets role that
    /// delegates it (none found: empty).
    pub fn approvers_of(&self, role: &str) -> (String, Vec<String>, u64) {
        if super::names::TOP_LEVEL_ROLES.contains(&role) {
            let keys = self.root.signed.roles.get(role);
            return (
                "root".into(),
                keys.map(|k| k.keyids.clone()).unwrap_or_default(),
                keys.map_or(0, |k| k.threshold),
            );
        }
        for (name, doc) in &self.targets {
            if let Some(d) = doc
                .signed
                .delegations
                .as_ref()
                .and_then(|d| d.roles.iter().find(|r| r.name == role))
            {
                return (name.clone(), d.keyids.clone(), d.threshold);
            }
        }
        (String::new(), Vec::new(), 0)
    }
}

#[cfg(test)]
mod tests {
    use fwsign_manifest_schema::expiry::UnixTime;

    use super::{ExpiryPolicy, is_expired, soon_window};

    /// The status report and `refresh` must not call a role fresh that a
    /// client refuses: at its `expires` second it has expired (the core's
    /// `expires <= now`), and an `expires` no client can read counts as
    /// expired.
    #[test]
    fn expiry_follows_the_clients_rule() {
        let at = "2030-01-01T00:00:00Z";
        let t = 1_893_456_000;
        assert!(!is_expired(at, UnixTime(t - 1)));
        assert!(is_expired(at, UnixTime(t)));
        assert!(is_expired("2030-01-01 00:00:00", UnixTime(0)));
        let policy = ExpiryPolicy::default();
        assert_eq!(soon_window(&policy, "timestamp"), 6 * 3600);
        assert_eq!(soon_window(&policy, "board-a"), policy.delegated / 4);
    }
}
