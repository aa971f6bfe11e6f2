pub mod glasses;
pub mod local;
pub mod passkeys;
pub mod scan;
pub mod webview;
