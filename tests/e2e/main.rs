//! Cross-service end-to-end tests: real servers on random ports, one binary.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

mod helpers;

mod audit;
mod binary;
mod browser;
mod cli;
mod clients;
mod concurrency;
mod connections;
mod device_links;
mod errors;
mod events;
mod expiry;
mod faults;
mod flow;
mod frames;
mod glasses;
mod hostile;
mod kiosk;
mod limits;
mod mentra;
mod metrics;
mod oidc;
mod oidc_libraries;
mod openapi;
mod pin;
mod regressions;
mod sessions;
mod shutdown;
mod store_cost;
mod topology;
