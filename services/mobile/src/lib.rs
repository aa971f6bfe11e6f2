//! The mobile service (:96): the device that approves. It signs the user in (MentraOS
//! webview, or a local account), claims the request the QR names, shows the screen's context
//! and takes the user's decision.

pub mod frames;
pub mod glasses;
pub mod openapi;
pub mod pages;
pub mod routes;
pub mod signed_in;
pub mod startup;

pub use startup::{MentraLogin, build};

/// Runs this service alone, as one of many replicas sharing Redis (`qrlogin-mobile`, or
/// `qrlogin mobile`), until SIGTERM or Ctrl-C has drained it.
pub async fn serve(settings: qrlogin_web::config::Settings) -> anyhow::Result<()> {
    settings.require_redis("qrlogin-mobile")?;
    qrlogin_web::telemetry::init(settings.log_format, &settings.rust_log, std::io::stdout);
    let listener =
        qrlogin_web::server::bind(settings.bind_addr, settings.mobile_port, "MOBILE_PORT")?;
    let mentra = actix_web::web::Data::new(MentraLogin::from_settings(&settings)?);
    let metrics = qrlogin_web::metrics::MetricsEndpoint::start(
        settings.metrics_addr,
        qrlogin_web::metrics::MetricsAddr::MOBILE_PORT,
    )?;
    let state = actix_web::web::Data::new(qrlogin_web::AppState::build(settings).await?);
    state.shutdown.on_signals();
    let served = build(state, mentra, listener)?.run_until_stopped().await;
    if let Some(metrics) = metrics {
        metrics.stop().await;
    }
    Ok(served?)
}
