//! The desktop service (:98): the screen that signs in. It shows the QR, listens for the
//! phone's decision over a WebSocket, redeems the approval exactly once, and keeps the
//! resulting session.

pub mod pages;
pub mod routes;
pub mod startup;

pub use startup::build;
