//! qrlogin's domain: login requests and their state machine, secrets and codes, sessions,
//! access tokens, local accounts, and the store and event hub they live in. No web framework
//! here: both services and the CLI build on this crate.

pub mod account;
pub mod audit;
pub mod client;
pub mod clock;
pub mod device;
pub mod device_link;
pub mod events;
pub mod flows;
pub mod glasses;
pub mod login_request;
pub mod network;
pub mod oidc;
pub mod passkey;
pub mod rate_limit;
pub mod refusal;
pub mod secret;
pub mod session;
pub mod signin;
pub mod store;
pub mod tokens;
pub mod user;
pub mod user_code;

pub use login_request::{LoginRequest, LoginState, RequestId, UnixMillis};
pub use user::User;
