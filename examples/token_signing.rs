//! What signing one access token costs (one is signed at every screen's sign-in): issues
//! tokens with a fresh Ed25519 key, one after another on one thread, and prints the time per
//! token for each of a few rounds.
//!
//! ```sh
//! cargo run --release --example token_signing -- [--tokens 20000] [--rounds 3]
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::Instant;

use qrlogin_auth::User;
use qrlogin_auth::tokens::SigningKeys;

#[path = "support/options.rs"]
mod options;
use options::number;

fn main() {
    let (tokens, rounds) = (number("--tokens", 20_000), number("--rounds", 3));
    let pem = SigningKeys::generate_pem().unwrap();
    let keys = SigningKeys::from_pem(&pem, "https://login.example".into()).unwrap();
    let user = User {
        id: "mentra:ann@example.com".into(),
        name: "Ann".into(),
    };
    for round in 1..=rounds {
        let started = Instant::now();
        for i in 0..tokens {
            let issued = keys.issue(&user, &format!("session{i}"), 1_000_000, 60_000);
            std::hint::black_box(issued.unwrap());
        }
        let per_token = started.elapsed().as_secs_f64() * 1e6 / tokens as f64;
        println!("round {round}: {per_token:.1} µs per access token ({tokens} tokens)");
    }
}
