//! The rules every entry point shares: what a network mismatch does, which codes in a picture
//! may be claimed, and the deployment's defaults. Settings become a [`Policy`] once, at start.

use crate::client::{ClientPasskey, ConfirmationMode};
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

/// When an approval needs a passkey (`PASSKEY_APPROVAL`). Glasses keep their button presses
/// whatever this says (a wearer has no WebAuthn); a client that requires passkeys refuses them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasskeyApproval {
    /// A tap approves, even on an account with passkeys (an assertion, if sent, is still
    /// checked and recorded).
    Off,
    /// An account with a passkey approves with it; one without approves with a tap.
    WhenRegistered,
    /// Every approval needs a passkey: an account without one adds one first.
    Required,
}

/// What an approval of a request will take, as the approver is told before deciding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalNeed {
    Tap,
    /// A check with one of the account's passkeys, asked for this request.
    Passkey,
    /// A passkey is needed and the account has none: the phone adds one first.
    PasskeyFirst,
}

/// The passkey rules and the relying party they are checked for.
#[derive(Clone, Debug)]
pub struct PasskeyPolicy {
    pub approval: PasskeyApproval,
    /// None where the phone pages are on an IP address (WebAuthn needs a host name).
    pub relying_party: Option<crate::signin::passkeys::RelyingParty>,
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
    pub passkeys: PasskeyPolicy,
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

    /// What approving a request of `client`'s takes from an account that has passkeys or not.
    pub fn approval_need(&self, client: ClientPasskey, has_passkeys: bool) -> ApprovalNeed {
        let needed = client == ClientPasskey::Required
            || match self.passkeys.approval {
                PasskeyApproval::Off => false,
                PasskeyApproval::WhenRegistered => has_passkeys,
                PasskeyApproval::Required => true,
            };
        match (needed, has_passkeys) {
            (false, _) => ApprovalNeed::Tap,
            (true, true) => ApprovalNeed::Passkey,
            (true, false) => ApprovalNeed::PasskeyFirst,
        }
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
            passkeys: crate::signin::testing::passkey_policy(),
        }
    }

    #[test]
    fn a_passkey_is_needed_where_the_setting_or_the_client_asks_for_one() {
        let mut policy = policy(NetworkMismatch::Warn, GlassesNetworkMismatch::Refuse);
        let (any, required) = (ClientPasskey::AsDeployment, ClientPasskey::Required);
        let table = [
            (PasskeyApproval::Off, any, false, ApprovalNeed::Tap),
            (PasskeyApproval::Off, any, true, ApprovalNeed::Tap),
            (
                PasskeyApproval::Off,
                required,
                false,
                ApprovalNeed::PasskeyFirst,
            ),
            (PasskeyApproval::Off, required, true, ApprovalNeed::Passkey),
            (
                PasskeyApproval::WhenRegistered,
                any,
                false,
                ApprovalNeed::Tap,
            ),
            (
                PasskeyApproval::WhenRegistered,
                any,
                true,
                ApprovalNeed::Passkey,
            ),
            (
                PasskeyApproval::Required,
                any,
                false,
                ApprovalNeed::PasskeyFirst,
            ),
            (PasskeyApproval::Required, any, true, ApprovalNeed::Passkey),
        ];
        for (setting, client, has_passkeys, need) in table {
            policy.passkeys.approval = setting;
            assert_eq!(
                policy.approval_need(client, has_passkeys),
                need,
                "{setting:?}, {client:?}, passkeys: {has_passkeys}"
            );
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
