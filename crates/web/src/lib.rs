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
pub mod websocket;

pub use error::{ApiError, ErrorCode};
pub use state::AppState;

/// Every process of ours allocates with jemalloc. glibc's allocator keeps what a thread freed
/// in that thread's arena: each password check (argon2id, 19 MiB, on a blocking thread) left
/// its block behind, and a server that had checked 1,000 passwords held 5 GB. jemalloc hands
/// blocks that large back to the system when they are freed, and its small size classes keep a
/// waiting socket's buffers compact.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
