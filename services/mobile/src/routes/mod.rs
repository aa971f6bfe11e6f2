pub mod local;
pub mod scan;
pub mod webview;
