//! RFC 8628 (OAuth 2.0 device authorization grant) over login requests: the device code is
//! the request's id and desktop secret, and the polling pace is kept per device code. The
//! grant's rules (which clients may use it, polling, what each state answers) are
//! [`crate::signin::device_grant`]'s.

use serde::{Deserialize, Serialize};

use crate::login_request::{RequestId, UnixMillis};

/// The `grant_type` of a device-code token request.
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// Seconds a device waits between polls, to begin with.
pub const POLL_INTERVAL_S: i64 = 5;
/// What each `slow_down` adds to the interval, for that poll and all later ones (§3.5).
pub const SLOW_DOWN_STEP_S: i64 = 5;
/// The store's kind for polling paces.
pub const PACES: &str = "device-pace";

/// `{request id}.{desktop secret}`: whoever holds it may redeem, as the screen may.
pub fn device_code(id: &RequestId, desktop_secret: &str) -> String {
    format!("{id}.{desktop_secret}")
}

/// The request and secret a device code holds (nothing is known to be true of them yet).
pub fn parse_device_code(code: &str) -> Option<(RequestId, &str)> {
    let (id, secret) = code.split_once('.')?;
    let id = RequestId::parse(id)?;
    (!secret.is_empty()).then_some((id, secret))
}

/// How fast a device may poll, and when it last did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pace {
    pub last_poll: UnixMillis,
    pub interval_s: i64,
}

impl Pace {
    /// A poll at `now`: the pace from here on, and whether this poll came too soon (to be
    /// answered `slow_down`). The first poll is never too soon.
    pub fn poll(previous: Option<Self>, now: UnixMillis) -> (Self, bool) {
        match previous {
            None => (
                Self {
                    last_poll: now,
                    interval_s: POLL_INTERVAL_S,
                },
                false,
            ),
            Some(pace) if now - pace.last_poll < pace.interval_s * 1000 => (
                Self {
                    last_poll: now,
                    interval_s: pace.interval_s + SLOW_DOWN_STEP_S,
                },
                true,
            ),
            Some(pace) => (
                Self {
                    last_poll: now,
                    ..pace
                },
                false,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slowing_down_is_asked_for_polls_too_soon_and_the_step_persists() {
        let (first, too_soon) = Pace::poll(None, 0);
        assert!(!too_soon);
        let (second, too_soon) = Pace::poll(Some(first), 1_000);
        assert!(too_soon);
        assert_eq!(second.interval_s, 10);
        // 6 s later: within the new 10 s, so too soon again, and slower still.
        let (third, too_soon) = Pace::poll(Some(second), 7_000);
        assert!(too_soon);
        assert_eq!(third.interval_s, 15);
        let (fourth, too_soon) = Pace::poll(Some(third), 22_000);
        assert!(!too_soon);
        assert_eq!(fourth.interval_s, 15);
    }

    #[test]
    fn a_device_code_carries_its_request_and_secret() {
        let id = RequestId::generate();
        let code = device_code(&id, "s3cret");
        assert_eq!(parse_device_code(&code), Some((id, "s3cret")));
        assert_eq!(parse_device_code("nonsense"), None);
        assert_eq!(parse_device_code("a.b.c"), None);
    }
}
