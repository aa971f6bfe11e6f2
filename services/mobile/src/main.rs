//! `qrlogin-mobile` on its own: one of many replicas sharing Redis.

use std::io::Write;
use std::process::ExitCode;

#[actix_web::main]
async fn main() -> ExitCode {
    let served = match qrlogin_web::config::Settings::from_env() {
        Ok(settings) => qrlogin_mobile::serve(settings).await,
        Err(error) => Err(error.into()),
    };
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "qrlogin-mobile: {error:#}");
            ExitCode::FAILURE
        }
    }
}
