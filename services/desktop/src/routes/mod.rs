pub mod events;
pub mod login_requests;
pub mod me;
