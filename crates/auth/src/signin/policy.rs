//! The rules every entry point shares: what a network mismatch does, which codes in a picture
//! may be claimed, and the deployment's defaults. Settings become a [`Policy`] once, at start.

use crate::client::ConfirmationMode;
use crate::flows::Lifetimes;
use crate::network::NetworkGrouping;

/// What a phone on another network than the screen may do (`NETWORK_MISMATCH`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetworkMismatch {
    /// Allowed; the phone shows a warning and the audit trail notes it.
    Warn,
    /// Refused.
    Deny,
}

/// What glasses may do with a screen on another network (`GLASSES_NETWORK_MISMATCH`). A
/// wearer cannot read a warning, and a relayed QR on a second monitor is exactly what a
/// camera on the wearer's head would pick up, so refusing is the default. It can only be
/// stricter than `NETWORK_MISMATCH`: where phones are refused, so are glasses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GlassesNetworkMismatch {
    Refuse,
    /// Allowed, and the wearer hears that the screen is on another network.
    Allow,
}

/// Whether the signed-in screen must allow a device that opened its link (`LINK_CONFIRMATION`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkConfirmation {
    Confirm,
    /// The new device still asks with a click of its own; the signed-in screen is not asked.
    None,
}

/// Where a claim comes from: it decides what the claimant can be shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entry {
    /// A phone page (scanned, typed, or a camera frame): it shows the full confirmation.
    Phone,
    /// Camera glasses without a display: the wearer only hears a sentence.
    Glasses,
}

#[derive(Clone, Debug)]
pub struct Policy {
    /// The app's own name, for requests made by no registered client.
    pub app_name: String,
    /// The QR of a request is exactly `{mobile_public_url}/s/{id}`.
    pub mobile_public_url: String,
    /// Where a device link points: `{desktop_public_url}/link/{id}`.
    pub desktop_public_url: String,
    pub network_mismatch: NetworkMismatch,
    pub glasses_network_mismatch: GlassesNetworkMismatch,
    /// Tap or PIN, for requests whose client does not choose.
    pub confirmation: ConfirmationMode,
    pub lifetimes: Lifetimes,
    pub link_confirmation: LinkConfirmation,
    pub link_ttl_ms: i64,
    /// What counts as one network: for per-IP budgets and for "same network".
    pub networks: NetworkGrouping,
}

/// What the policy makes of a claim from another network than the screen's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetworkVerdict {
    SameNetwork,
    /// Allowed, with a warning to the claimant and a note in the audit trail.
    Flagged,
    Refused,
}

impl Policy {
    pub fn network_verdict(&self, entry: Entry, screen_ip: &str, phone_ip: &str) -> NetworkVerdict {
        if self.networks.same_network(screen_ip, phone_ip) {
            NetworkVerdict::SameNetwork
        } else if self.refuses_mismatch(entry) {
            NetworkVerdict::Refused
        } else {
            NetworkVerdict::Flagged
        }
    }

    /// Whether the signed-in screen must allow a device that opens its link.
    pub fn confirms_links(&self) -> bool {
        self.link_confirmation == LinkConfirmation::Confirm
    }

    /// Whether a claim from `entry` on another network than the screen is refused (else it
    /// is allowed and flagged). Glasses are refused wherever phones are.
    pub fn refuses_mismatch(&self, entry: Entry) -> bool {
        let phones_refused = self.network_mismatch == NetworkMismatch::Deny;
        match entry {
            Entry::Phone => phones_refused,
            Entry::Glasses => {
                phones_refused || self.glasses_network_mismatch == GlassesNetworkMismatch::Refuse
            }
        }
    }
}

/// How a relayed-looking claim is described in the audit trail.
pub fn network_mismatch_detail(screen_ip: &str, phone_ip: &str) -> String {
    format!("network mismatch: screen {screen_ip}, phone {phone_ip}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(phone: NetworkMismatch, glasses: GlassesNetworkMismatch) -> Policy {
        Policy {
            app_name: "qrlogin".into(),
            mobile_public_url: "http://m".into(),
            desktop_public_url: "http://d".into(),
            network_mismatch: phone,
            glasses_network_mismatch: glasses,
            confirmation: ConfirmationMode::Tap,
            lifetimes: Lifetimes {
                qr_ttl_ms: 1,
                session_ttl_ms: 1,
                access_token_ttl_ms: 1,
            },
            link_confirmation: LinkConfirmation::Confirm,
            link_ttl_ms: 1,
            networks: NetworkGrouping::default(),
        }
    }

    #[test]
    fn glasses_are_refused_a_mismatch_that_a_phone_is_warned_of() {
        let defaults = policy(NetworkMismatch::Warn, GlassesNetworkMismatch::Refuse);
        let (screen, elsewhere) = ("203.0.113.7", "198.51.100.9");
        assert_eq!(
            defaults.network_verdict(Entry::Phone, screen, elsewhere),
            NetworkVerdict::Flagged
        );
        assert_eq!(
            defaults.network_verdict(Entry::Glasses, screen, elsewhere),
            NetworkVerdict::Refused
        );
        assert_eq!(
            defaults.network_verdict(Entry::Glasses, screen, screen),
            NetworkVerdict::SameNetwork
        );
        let opted_in = policy(NetworkMismatch::Warn, GlassesNetworkMismatch::Allow);
        assert_eq!(
            opted_in.network_verdict(Entry::Glasses, screen, elsewhere),
            NetworkVerdict::Flagged
        );
        // Where phones, which can show a warning, are refused, glasses are refused too.
        let strict = policy(NetworkMismatch::Deny, GlassesNetworkMismatch::Allow);
        assert_eq!(
            strict.network_verdict(Entry::Phone, screen, elsewhere),
            NetworkVerdict::Refused
        );
        assert_eq!(
            strict.network_verdict(Entry::Glasses, screen, elsewhere),
            NetworkVerdict::Refused
        );
    }
}
