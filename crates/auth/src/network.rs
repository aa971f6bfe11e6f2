//! Client addresses grouped as networks: what one home, office or phone connection holds.
//! Per-address budgets are void for IPv6, where one connection gets a /64 (2^64 addresses, a
//! fresh one for every try), so every per-IP budget and socket cap counts a network, and the
//! same grouping decides whether a phone is on the screen's network.

use std::net::IpAddr;

/// Prefix lengths that make one network (`NETWORK_PREFIX_IPV4`, `NETWORK_PREFIX_IPV6`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NetworkGrouping {
    /// 32: an IPv4 address is a network of its own (a home's or office's NAT shares one).
    pub ipv4_prefix: u8,
    /// 64: what an IPv6 connection is given.
    pub ipv6_prefix: u8,
}

impl Default for NetworkGrouping {
    fn default() -> Self {
        Self {
            ipv4_prefix: 32,
            ipv6_prefix: 64,
        }
    }
}

impl NetworkGrouping {
    /// The network `ip` belongs to, as a key (`198.51.100.7/32`, `2001:db8:1:2::/64`). An
    /// IPv4 address written as IPv6 (`::ffff:198.51.100.7`) is the IPv4 one; text that is no
    /// address is its own key.
    pub fn network_of(&self, ip: &str) -> String {
        match self.masked(ip) {
            Some((network, prefix)) => format!("{network}/{prefix}"),
            None => ip.to_owned(),
        }
    }

    /// Whether two client addresses are on one network. Unknown addresses never are.
    pub fn same_network(&self, a: &str, b: &str) -> bool {
        match (self.masked(a), self.masked(b)) {
            (Some(a), Some(b)) => a == b,
            _ => false,
        }
    }

    fn masked(&self, ip: &str) -> Option<(IpAddr, u8)> {
        match ip.trim().parse::<IpAddr>().ok()?.to_canonical() {
            IpAddr::V4(v4) => {
                let prefix = self.ipv4_prefix.min(32);
                let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
                Some((IpAddr::from((u32::from(v4) & mask).to_be_bytes()), prefix))
            }
            IpAddr::V6(v6) => {
                let prefix = self.ipv6_prefix.min(128);
                let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
                Some((IpAddr::from((u128::from(v6) & mask).to_be_bytes()), prefix))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_connection_is_one_network_and_an_ipv4_address_is_one() {
        let networks = NetworkGrouping::default();
        assert_eq!(
            networks.network_of("2001:db8:1:2:aaaa::1"),
            networks.network_of("2001:db8:1:2:ffff:ffff:ffff:ffff"),
            "every address of a /64 spends from one budget"
        );
        assert_ne!(
            networks.network_of("2001:db8:1:2::1"),
            networks.network_of("2001:db8:1:3::1")
        );
        assert_eq!(networks.network_of("2001:db8:1:2::1"), "2001:db8:1:2::/64");
        assert_eq!(networks.network_of("198.51.100.7"), "198.51.100.7/32");
        assert_eq!(
            networks.network_of("::ffff:198.51.100.7"),
            "198.51.100.7/32",
            "an IPv4 address is the same network however it is written"
        );
        assert_eq!(networks.network_of("unknown"), "unknown");
    }

    #[test]
    fn same_network_follows_the_grouping() {
        let networks = NetworkGrouping::default();
        assert!(networks.same_network("2001:db8:1:2::1", "2001:db8:1:2:ffff::9"));
        assert!(networks.same_network("203.0.113.7", "203.0.113.7"));
        assert!(!networks.same_network("203.0.113.7", "203.0.113.99"));
        assert!(!networks.same_network("203.0.113.7", "2001:db8::1"));
        assert!(!networks.same_network("unknown", "unknown"));
        let lan = NetworkGrouping {
            ipv4_prefix: 24,
            ipv6_prefix: 56,
        };
        assert!(lan.same_network("192.168.1.20", "192.168.1.30"));
        assert!(lan.same_network("2001:db8:1:200::1", "2001:db8:1:2ff::1"));
        assert!(!lan.same_network("192.168.1.20", "192.168.2.20"));
        let everyone = NetworkGrouping {
            ipv4_prefix: 0,
            ipv6_prefix: 0,
        };
        assert!(everyone.same_network("1.2.3.4", "5.6.7.8"));
    }
}
