#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test
//! Every parser of outside input, fed arbitrary strings: it never panics, and it accepts
//! exactly what it should.

use proptest::prelude::*;
use qrlogin_auth::RequestId;
use qrlogin_auth::flows::ScanTarget;
use qrlogin_auth::login_request::is_well_formed_pin;
use qrlogin_auth::session::SessionToken;
use qrlogin_auth::tokens::SigningKeys;
use qrlogin_auth::user_code::UserCode;

const MOBILE: &str = "https://m.example.com";

fn keys() -> SigningKeys {
    SigningKeys::from_pem(
        &SigningKeys::generate_pem().unwrap(),
        "https://d.example.com".into(),
    )
    .unwrap()
}

proptest! {
    #[test]
    fn request_ids_are_22_url_safe_characters_or_nothing(input in "\\PC{0,40}|[A-Za-z0-9_-]{22}") {
        match RequestId::parse(&input) {
            Some(id) => {
                prop_assert_eq!(id.as_str(), input.as_str());
                prop_assert_eq!(input.len(), 22);
                prop_assert!(input.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
            }
            None => prop_assert!(
                input.len() != 22 || !input.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            ),
        }
    }

    #[test]
    fn qr_text_names_a_request_only_as_our_own_link(input in "\\PC{0,120}", id in "[A-Za-z0-9_-]{22}") {
        // Arbitrary text: never a panic, and a hit is always our exact link.
        if let Some(ScanTarget::Id(found)) = ScanTarget::from_qr_text(&input, MOBILE) {
            prop_assert_eq!(input.trim(), format!("{MOBILE}/s/{found}"));
        }
        // Our link, with or without surrounding whitespace, names its request.
        let link = format!("  {MOBILE}/s/{id}\n");
        let found = ScanTarget::from_qr_text(&link, MOBILE);
        prop_assert!(matches!(found, Some(ScanTarget::Id(ref f)) if f.as_str() == id));
        // Another host's look-alike does not.
        let lookalike = format!("https://m.example.com.evil.test/s/{id}");
        prop_assert!(ScanTarget::from_qr_text(&lookalike, MOBILE).is_none());
    }

    #[test]
    fn user_codes_typed_any_way_parse_or_are_refused(input in "\\PC{0,80}") {
        if let Some(code) = UserCode::parse(&input) {
            prop_assert_eq!(code.as_str().len(), 8);
        }
    }

    #[test]
    fn session_cookies_of_any_shape_are_handled(input in "\\PC{0,100}") {
        if let Some(token) = SessionToken::from_cookie(&input) {
            prop_assert_eq!(input.len(), 43);
            prop_assert_eq!(token.session_id().len(), 22);
        }
    }

    #[test]
    fn pins_are_six_ascii_digits(input in "\\PC{0,12}|[0-9]{6}") {
        prop_assert_eq!(
            is_well_formed_pin(&input),
            input.len() == 6 && input.chars().all(|c| c.is_ascii_digit())
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Arbitrary bearer tokens, including ones shaped like JWTs with arbitrary parts, are
    /// refused without a panic.
    #[test]
    fn arbitrary_access_tokens_are_refused(
        junk in "\\PC{0,200}",
        parts in proptest::collection::vec("[A-Za-z0-9_-]{0,60}", 3),
    ) {
        let keys = keys();
        prop_assert!(keys.verify(&junk, 0).is_err());
        prop_assert!(keys.verify(&parts.join("."), 0).is_err());
    }
}
