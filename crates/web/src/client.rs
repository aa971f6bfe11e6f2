//! Who is on the other end of a request: IP (believing `X-Forwarded-For` only from
//! configured proxies), user agent, and a readable browser and OS.

use std::future::{Ready, ready};
use std::net::IpAddr;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use ipnet::IpNet;
use qrlogin_auth::signin::Caller;
pub use qrlogin_auth::signin::prompt::{DeviceName, describe_user_agent};

use crate::state::AppState;

/// The caller of this HTTP request, as the use-case layer knows callers.
#[derive(Clone, Debug)]
pub struct ClientInfo(pub Caller);

impl std::ops::Deref for ClientInfo {
    type Target = Caller;

    fn deref(&self) -> &Caller {
        &self.0
    }
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
        Self(Caller {
            ip: ip
                .map(|ip| ip.to_string())
                .unwrap_or_else(|| "unknown".into()),
            user_agent,
            request_id: request
                .extensions()
                .get::<tracing_actix_web::RequestId>()
                .map(|id| id.to_string()),
        })
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
}
