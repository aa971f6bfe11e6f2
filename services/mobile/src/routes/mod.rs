pub mod glasses;
pub mod local;
pub mod scan;
pub mod webview;
