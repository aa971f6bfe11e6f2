//! The 8-letter code a person can type instead of scanning (RFC 8628 §6.1 alphabet).

use serde::{Deserialize, Serialize};

/// Consonants only: no vowels (no words), no easily confused letters.
pub const ALPHABET: &[u8; 20] = b"BCDFGHJKLMNPQRSTVWXZ";
/// 20^8 ≈ 2^34.6 codes.
pub const LENGTH: usize = 8;

/// A user code in canonical form: 8 upper-case letters from [`ALPHABET`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserCode(String);

impl UserCode {
    /// A fresh code from the OS CSPRNG. Rejection sampling: bytes ≥ 240 are discarded, so every
    /// letter is exactly equally likely (240 = 12 × 20).
    pub fn generate() -> Self {
        let mut code = String::with_capacity(LENGTH);
        while code.len() < LENGTH {
            for byte in crate::secret::random_bytes::<16>() {
                if byte < 240 && code.len() < LENGTH {
                    code.push(char::from(ALPHABET[usize::from(byte % 20)]));
                }
            }
        }
        Self(code)
    }

    /// Accepts what people type: any case, spaces, dashes or other separators. `wdjb mjht`,
    /// `WDJB-MJHT` and `wdjbmjht` are one code. Letters outside the alphabet make it invalid
    /// rather than being dropped, so a typo is not silently turned into another code.
    pub fn parse(input: &str) -> Option<Self> {
        if input.len() > 64 {
            return None;
        }
        let mut code = String::with_capacity(LENGTH);
        for c in input.chars() {
            if c.is_ascii_alphanumeric() {
                let upper = c.to_ascii_uppercase();
                if !ALPHABET.contains(&(upper as u8)) {
                    return None;
                }
                code.push(upper);
            } else if !(c.is_whitespace() || c.is_ascii_punctuation()) {
                return None;
            }
        }
        (code.len() == LENGTH).then_some(Self(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `WDJB-MJHT`: how the code is shown to people.
    pub fn display(&self) -> String {
        format!("{}-{}", &self.0[..4], &self.0[4..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn typed_forms_of_one_code_are_equal() {
        let forms = ["wdjb mjht", "WDJB-MJHT", "wdjbmjht", " Wdjb_mJht "];
        for form in forms {
            assert_eq!(
                UserCode::parse(form).unwrap().as_str(),
                "WDJBMJHT",
                "{form}"
            );
        }
        assert_eq!(UserCode::parse("wdjbmjht").unwrap().display(), "WDJB-MJHT");
    }

    #[test]
    fn letters_outside_the_alphabet_and_wrong_lengths_are_rejected() {
        for bad in [
            "WDJBMJHA",
            "WDJBMJH",
            "WDJBMJHTB",
            "",
            "WDJB MJH1",
            "wdjb\u{e9}mjht",
        ] {
            assert!(UserCode::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn generated_codes_are_unbiased() {
        // 20,000 codes × 8 letters = 8,000 expected per letter. With 19 degrees of freedom,
        // chi-square above 43.8 happens by chance once in 1,000 runs; the modulo bias of
        // `byte % 20` without rejection (13/256 vs 12/256) would add about 156.
        let mut counts = [0u32; 20];
        for _ in 0..20_000 {
            for b in UserCode::generate().as_str().bytes() {
                let index = ALPHABET.iter().position(|&a| a == b).unwrap();
                counts[index] += 1;
            }
        }
        let expected = 8_000.0;
        let chi_square: f64 = counts
            .iter()
            .map(|&c| (f64::from(c) - expected).powi(2) / expected)
            .sum();
        assert!(chi_square < 43.8, "chi-square {chi_square} for {counts:?}");
    }

    proptest! {
        #[test]
        fn parsing_never_panics_and_round_trips(input in ".{0,80}") {
            if let Some(code) = UserCode::parse(&input) {
                prop_assert_eq!(UserCode::parse(&code.display()), Some(code.clone()));
                prop_assert_eq!(code.as_str().len(), LENGTH);
            }
        }

        #[test]
        fn generated_codes_parse_to_themselves(_ in 0..50u8) {
            let code = UserCode::generate();
            prop_assert_eq!(UserCode::parse(&code.display()), Some(code));
        }
    }
}
