//! What the approver is shown before deciding, the same for every entry point: the phone page
//! renders it, the glasses speak it.

use serde::Serialize;

use crate::LoginState;
use crate::login_request::{LoginRequest, UnixMillis};
use crate::network::NetworkGrouping;

/// Everything the screen reported about itself, and how the claim relates to it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Prompt {
    pub id: String,
    pub state: LoginState,
    /// `WDJB-MJHT`: to compare with what the screen shows.
    pub user_code: String,
    pub client_name: String,
    /// "Firefox on Linux".
    pub screen_device: String,
    /// `screen_device`'s parts, for a page to word in its reader's language.
    pub screen_device_name: DeviceName,
    pub screen_ip: String,
    /// Whether the screen and the device that claimed it look like one network.
    pub same_network: bool,
    pub started_seconds_ago: i64,
    pub expires_in: i64,
    /// In PIN mode, after approval: how many wrong PINs the screen has typed so far.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pin_failed_attempts: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pin_attempts_left: Option<u8>,
    /// The screen typed the right PIN.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pin_confirmed: Option<bool>,
    /// What approving takes (a tap, or the account's passkey), once the request is claimed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approval: Option<crate::signin::policy::ApprovalNeed>,
}

impl Prompt {
    /// The request as its claimant (whose address is `claimant_ip`) sees it at `now`.
    pub fn of(
        request: &LoginRequest,
        claimant_ip: &str,
        networks: &NetworkGrouping,
        now: UnixMillis,
    ) -> Self {
        Self {
            id: request.id.to_string(),
            state: request.state_at(now),
            user_code: request.user_code.display(),
            client_name: request.screen.client_name.clone(),
            screen_device: describe_user_agent(&request.screen.user_agent),
            screen_device_name: DeviceName::of(&request.screen.user_agent),
            screen_ip: request.screen.ip.clone(),
            same_network: networks.same_network(&request.screen.ip, claimant_ip),
            started_seconds_ago: (now - request.created_at).max(0) / 1000,
            expires_in: (request.expires_at - now).max(0) / 1000,
            pin_failed_attempts: request.pin.as_ref().map(|pin| pin.failed_attempts),
            pin_attempts_left: request.pin.as_ref().map(|pin| pin.attempts_left()),
            pin_confirmed: request.pin.as_ref().map(|pin| pin.confirmed),
            approval: None,
        }
    }

    /// The prompt as the wearer of camera glasses hears it: the app, the screen's browser and
    /// system, its code letter by letter, and a warning when it is on another network.
    pub fn spoken(&self) -> String {
        let code: Vec<String> = self
            .user_code
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .map(String::from)
            .collect();
        let warning = match self.same_network {
            true => "",
            false => " Warning: that screen is on a different network from you.",
        };
        format!(
            "Sign in to {} on {}, code {}?{warning} Press again to confirm.",
            self.client_name,
            self.screen_device.replace(" on ", ", "),
            code.join(" "),
        )
    }
}

/// "Firefox on Linux", "Chrome on Windows 10", or "an unknown browser".
pub fn describe_user_agent(user_agent: &str) -> String {
    DeviceName::of(user_agent).to_string()
}

/// A browser and its system as a user agent names them (proper names, the same in every
/// language): what pages put into words of the reader's language.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DeviceName {
    pub browser: Option<String>,
    pub system: Option<String>,
}

impl DeviceName {
    pub fn of(user_agent: &str) -> Self {
        let known = |name: &str| (name != "UNKNOWN").then(|| name.to_owned());
        match woothee::parser::Parser::new().parse(user_agent) {
            Some(r) if r.name != "UNKNOWN" => Self {
                browser: Some(r.name.to_owned()),
                system: known(r.os),
            },
            _ => Self::default(),
        }
    }
}

/// In English, for the API's `device` fields, logs and the glasses' spoken prompt.
impl std::fmt::Display for DeviceName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (&self.browser, &self.system) {
            (Some(browser), Some(system)) => write!(f, "{browser} on {system}"),
            (Some(browser), None) => f.write_str(browser),
            (None, _) => f.write_str("an unknown browser"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::login_request::ScreenContext;

    #[test]
    fn the_spoken_prompt_names_app_device_code_and_network() {
        let screen = ScreenContext {
            client_name: "Space".into(),
            ip: "203.0.113.7".into(),
            user_agent: "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
                .into(),
            ..ScreenContext::default()
        };
        let request = LoginRequest::create(screen, 0, 60_000).request;
        let networks = NetworkGrouping::default();
        let near = Prompt::of(&request, "203.0.113.7", &networks, 0).spoken();
        let code: String = request.user_code.display().replace('-', "");
        assert!(
            near.starts_with("Sign in to Space on Firefox, Linux, code "),
            "{near}"
        );
        assert!(near.contains(&code.chars().map(String::from).collect::<Vec<_>>().join(" ")));
        assert!(!near.contains("different network"));
        let far = Prompt::of(&request, "198.51.100.9", &networks, 0).spoken();
        assert!(far.contains("different network"), "{far}");
        assert!(far.ends_with("Press again to confirm."));
    }

    #[test]
    fn user_agents_read_as_browser_on_os() {
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        assert_eq!(describe_user_agent(firefox), "Firefox on Linux");
        assert_eq!(describe_user_agent("<script>"), "an unknown browser");
        let parts = DeviceName::of(firefox);
        assert_eq!(
            (parts.browser.as_deref(), parts.system.as_deref()),
            (Some("Firefox"), Some("Linux"))
        );
    }
}
