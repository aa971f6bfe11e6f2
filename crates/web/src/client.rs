//! Who is on the other end of a request: IP (believing `X-Forwarded-For` only from
//! configured proxies), user agent, and a readable browser and OS.

use std::future::{Ready, ready};
use std::net::IpAddr;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};

use crate::state::AppState;

#[derive(Clone, Debug)]
pub struct ClientInfo {
    pub ip: String,
    pub user_agent: String,
    /// This HTTP request's id (`x-request-id`), for the audit trail.
    pub request_id: Option<String>,
}

/// The longest user agent we keep: enough for any real browser, not a storage vector.
const MAX_USER_AGENT: usize = 512;

impl ClientInfo {
    pub fn from_request(request: &HttpRequest, trusted_proxies: &[IpAddr]) -> Self {
        let peer = request.peer_addr().map(|a| a.ip());
        let ip = client_ip(
            peer,
            request
                .headers()
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok()),
            trusted_proxies,
        );
        let user_agent: String = request
            .headers()
            .get(header::USER_AGENT)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .unwrap_or_default()
            .chars()
            .take(MAX_USER_AGENT)
            .collect();
        Self {
            ip: ip
                .map(|ip| ip.to_string())
                .unwrap_or_else(|| "unknown".into()),
            user_agent,
            request_id: request
                .extensions()
                .get::<tracing_actix_web::RequestId>()
                .map(|id| id.to_string()),
        }
    }

    pub fn device(&self) -> qrlogin_auth::flows::Device {
        qrlogin_auth::flows::Device {
            ip: self.ip.clone(),
            user_agent: self.user_agent.clone(),
        }
    }
}

/// The address of the client: the peer, unless the peer is a trusted proxy, in which case the
/// right-most `X-Forwarded-For` entry that is not itself a trusted proxy.
pub fn client_ip(
    peer: Option<IpAddr>,
    forwarded_for: Option<&str>,
    trusted: &[IpAddr],
) -> Option<IpAddr> {
    let peer = peer?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let Some(chain) = forwarded_for else {
        return Some(peer);
    };
    for hop in chain.rsplit(',') {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) if trusted.contains(&ip) => continue,
            Ok(ip) => return Some(ip),
            Err(_) => return Some(peer),
        }
    }
    Some(peer)
}

impl FromRequest for ClientInfo {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let trusted = request
            .app_data::<web::Data<AppState>>()
            .map(|s| s.settings.trust_proxy.clone())
            .unwrap_or_default();
        ready(Ok(Self::from_request(request, &trusted)))
    }
}

/// "Firefox on Linux", "Chrome on Windows 10", or "an unknown browser".
pub fn describe_user_agent(user_agent: &str) -> String {
    match woothee::parser::Parser::new().parse(user_agent) {
        Some(r) if r.name != "UNKNOWN" => {
            let os = if r.os == "UNKNOWN" {
                String::new()
            } else {
                format!(" on {}", r.os)
            };
            format!("{}{os}", r.name)
        }
        _ => "an unknown browser".into(),
    }
}

/// Whether two client addresses look like one network: the same IPv4 /24 or IPv6 /64.
pub fn same_network(a: &str, b: &str) -> bool {
    match (a.parse::<IpAddr>(), b.parse::<IpAddr>()) {
        (Ok(IpAddr::V4(a)), Ok(IpAddr::V4(b))) => a.octets()[..3] == b.octets()[..3],
        (Ok(IpAddr::V6(a)), Ok(IpAddr::V6(b))) => a.segments()[..4] == b.segments()[..4],
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxy = ip("10.0.0.1");
        assert_eq!(
            client_ip(Some(ip("198.51.100.9")), Some("203.0.113.7"), &[proxy]),
            Some(ip("198.51.100.9"))
        );
        assert_eq!(
            client_ip(Some(proxy), Some("1.2.3.4, 203.0.113.7"), &[proxy]),
            Some(ip("203.0.113.7"))
        );
        assert_eq!(
            client_ip(Some(proxy), Some("203.0.113.7, 10.0.0.1"), &[proxy]),
            Some(ip("203.0.113.7"))
        );
        assert_eq!(
            client_ip(Some(proxy), Some("garbage"), &[proxy]),
            Some(proxy)
        );
    }

    #[test]
    fn user_agents_read_as_browser_on_os() {
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        assert_eq!(describe_user_agent(firefox), "Firefox on Linux");
        assert_eq!(describe_user_agent("<script>"), "an unknown browser");
    }

    #[test]
    fn networks_compare_by_prefix() {
        assert!(same_network("192.0.2.10", "192.0.2.99"));
        assert!(!same_network("203.0.113.7", "198.51.100.9"));
        assert!(!same_network("unknown", "unknown"));
    }
}
