//! The web glue both services share, written once: configuration, the JSON error shape,
//! request ids and logging, security headers and the cross-site check, cookies, client
//! information, authentication extractors and the shared application state.

pub mod audit;
pub mod auth;
pub mod client;
pub mod config;
pub mod cookies;
pub mod error;
pub mod http;
pub mod i18n;
pub mod json;
pub mod limits;
pub mod live;
pub mod metrics;
pub mod openapi;
pub mod pages;
pub mod server;
pub mod shutdown;
pub mod sockets;
pub mod state;
pub mod telemetry;

pub use error::{ApiError, ErrorCode};
pub use state::AppState;
