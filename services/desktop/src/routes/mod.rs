pub mod device_links;
pub mod events;
pub mod link_events;
pub mod login_requests;
pub mod me;
pub mod oauth;
pub mod oidc;
