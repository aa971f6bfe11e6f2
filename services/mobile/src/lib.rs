//! The mobile service (:96): the device that approves. It signs the user in (MentraOS
//! webview, or a local account), claims the request the QR names, shows the screen's context
//! and takes the user's decision.

pub mod pages;
pub mod routes;
pub mod startup;

pub use startup::{MentraLogin, build};
