//! `qrlogin-mobile` on its own: one of many replicas sharing Redis.

use std::io::Write;
use std::process::ExitCode;

#[actix_web::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let _ = writeln!(std::io::stderr(), "qrlogin-mobile: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let settings = qrlogin_web::config::Settings::from_env()?;
    settings.require_redis("qrlogin-mobile")?;
    qrlogin_web::telemetry::init(settings.log_format, &settings.rust_log, std::io::stdout);
    let listener =
        qrlogin_web::server::bind(settings.bind_addr, settings.mobile_port, "MOBILE_PORT")?;
    let mentra = actix_web::web::Data::new(qrlogin_mobile::MentraLogin::from_settings(&settings)?);
    let state = actix_web::web::Data::new(qrlogin_web::AppState::build(settings).await?);
    state.shutdown.on_signals();
    qrlogin_mobile::build(state, mentra, listener)?
        .run_until_stopped()
        .await?;
    Ok(())
}
