//! Who is on the other end of a request: IP (believing `X-Forwarded-For` only from
//! configured proxies), user agent, and a readable browser and OS.

use std::future::{Ready, ready};
use std::net::IpAddr;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use ipnet::IpNet;

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
    pub fn from_request(request: &HttpRequest, trusted_proxies: &TrustedProxies) -> Self {
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

/// The proxies whose `X-Forwarded-For` is believed (`TRUST_PROXY`): addresses, and CIDR
/// ranges for proxies whose address is not fixed (a Compose network, an ingress controller's
/// pods).
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// A comma-separated list of IP addresses and CIDR ranges; an empty list trusts no one.
    pub fn parse(list: &str) -> Result<Self, String> {
        list.split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("{entry:?} is neither an IP address nor a CIDR range"))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    pub fn contains(&self, ip: &IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(ip))
    }
}

/// The address of the client: the peer, unless the peer is a trusted proxy, in which case the
/// right-most `X-Forwarded-For` entry that is not itself a trusted proxy.
pub fn client_ip(
    peer: Option<IpAddr>,
    forwarded_for: Option<&str>,
    trusted: &TrustedProxies,
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
        let info = match request.app_data::<web::Data<AppState>>() {
            Some(state) => Self::from_request(request, &state.settings.trust_proxy),
            None => Self::from_request(request, &TrustedProxies::default()),
        };
        ready(Ok(info))
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
        let trusted = TrustedProxies::parse("10.0.0.1").unwrap();
        assert_eq!(
            client_ip(Some(ip("198.51.100.9")), Some("203.0.113.7"), &trusted),
            Some(ip("198.51.100.9"))
        );
        assert_eq!(
            client_ip(Some(proxy), Some("1.2.3.4, 203.0.113.7"), &trusted),
            Some(ip("203.0.113.7"))
        );
        assert_eq!(
            client_ip(Some(proxy), Some("203.0.113.7, 10.0.0.1"), &trusted),
            Some(ip("203.0.113.7"))
        );
        assert_eq!(
            client_ip(Some(proxy), Some("garbage"), &trusted),
            Some(proxy)
        );
    }

    #[test]
    fn proxies_are_trusted_by_address_or_by_range() {
        let trusted = TrustedProxies::parse(" 172.28.0.0/16, ::1,10.1.2.3 ").unwrap();
        for inside in ["172.28.0.5", "172.28.255.254", "::1", "10.1.2.3"] {
            assert!(trusted.contains(&ip(inside)), "{inside}");
        }
        for outside in ["172.29.0.1", "10.1.2.4", "127.0.0.1"] {
            assert!(!trusted.contains(&ip(outside)), "{outside}");
        }
        assert_eq!(
            client_ip(
                Some(ip("172.28.0.9")),
                Some("203.0.113.7, 172.28.3.3"),
                &trusted
            ),
            Some(ip("203.0.113.7"))
        );
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.local").is_err());
        assert!(
            !TrustedProxies::parse("")
                .unwrap()
                .contains(&ip("127.0.0.1"))
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
