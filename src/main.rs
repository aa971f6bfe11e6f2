use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

#[actix_web::main]
async fn main() -> ExitCode {
    match qrlogin::cli::run(qrlogin::cli::Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "qrlogin: {error:#}");
            ExitCode::FAILURE
        }
    }
}
