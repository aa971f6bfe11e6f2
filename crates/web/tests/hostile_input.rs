#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test
//! The web layer's parsers of outside input, fed arbitrary strings: forwarded-for chains,
//! user agents, and every configuration value. None panics; each accepts only what it should.

use std::net::IpAddr;

use proptest::prelude::*;
use qrlogin_web::client::{TrustedProxies, client_ip, describe_user_agent};
use qrlogin_web::config::{Settings, parse_duration, parse_rate_limit};

const VARIABLES: &[&str] = &[
    "QRLOGIN_ENV",
    "BIND_ADDR",
    "DESKTOP_PORT",
    "MOBILE_PORT",
    "DESKTOP_PUBLIC_URL",
    "MOBILE_PUBLIC_URL",
    "QR_TTL",
    "SESSION_TTL",
    "ACCESS_TOKEN_TTL",
    "TRUST_PROXY",
    "LOCAL_ACCOUNTS",
    "RATE_LIMIT_CREATE_PER_IP",
    "RATE_LIMIT_PIN_PER_REQUEST",
    "NETWORK_MISMATCH",
    "LOGIN_CONFIRMATION",
    "MENTRAOS_CLOUD_URL",
    "MENTRAOS_TIMEOUT",
    "HEADER_TIMEOUT",
    "REQUEST_TIMEOUT",
    "KEEP_ALIVE",
    "LOG_FORMAT",
    "APP_NAME",
];

proptest! {
    #[test]
    fn a_forwarded_for_chain_is_believed_only_from_a_trusted_proxy(chain in "\\PC{0,120}") {
        let stranger: IpAddr = "198.51.100.9".parse().unwrap();
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let trusted = TrustedProxies::parse("10.0.0.1").unwrap();
        prop_assert_eq!(client_ip(Some(stranger), Some(&chain), &trusted), Some(stranger));
        let through_proxy = client_ip(Some(proxy), Some(&chain), &trusted).unwrap();
        // Either the proxy itself, or an address that is literally in the chain.
        prop_assert!(
            through_proxy == proxy
                || chain.split(',').any(|hop| hop.trim().parse::<IpAddr>().ok() == Some(through_proxy))
        );
    }

    #[test]
    fn any_user_agent_is_described_in_plain_words(user_agent in "\\PC{0,300}") {
        let described = describe_user_agent(&user_agent);
        prop_assert!(!described.is_empty());
    }

    #[test]
    fn durations_and_rate_limits_parse_or_say_why(input in "\\PC{0,20}") {
        if let Ok(limit) = parse_rate_limit(&input) {
            prop_assert!(!limit.describe().is_empty());
        }
        let _ = parse_duration(&input);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any value in any variable: the settings load, or the error names the variable.
    #[test]
    fn any_configuration_value_is_accepted_or_named(
        index in 0..VARIABLES.len(),
        value in "\\PC{0,40}",
    ) {
        let name = VARIABLES[index];
        match Settings::from_vars(|var| (var == name).then(|| value.clone())) {
            Ok(_) => {}
            Err(error) => prop_assert!(error.to_string().contains(name), "{error}"),
        }
    }
}
