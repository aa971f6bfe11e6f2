//! The desktop service (:98): the screen that signs in. It shows the QR, listens for the
//! phone's decision over a WebSocket, redeems the approval exactly once, and keeps the
//! resulting session.

pub mod openapi;
pub mod pages;
pub mod routes;
pub mod startup;

pub use startup::build;

/// Runs this service alone, as one of many replicas sharing Redis (`qrlogin-desktop`, or
/// `qrlogin desktop`), until SIGTERM or Ctrl-C has drained it.
pub async fn serve(settings: qrlogin_web::config::Settings) -> anyhow::Result<()> {
    settings.require_redis("qrlogin-desktop")?;
    qrlogin_web::telemetry::init(settings.log_format, &settings.rust_log, std::io::stdout);
    let listener =
        qrlogin_web::server::bind(settings.bind_addr, settings.desktop_port, "DESKTOP_PORT")?;
    let metrics = qrlogin_web::metrics::MetricsEndpoint::start(
        settings.metrics_addr,
        qrlogin_web::metrics::MetricsAddr::DESKTOP_PORT,
    )?;
    let state = actix_web::web::Data::new(qrlogin_web::AppState::build(settings).await?);
    state.shutdown.on_signals();
    let served = build(state, listener)?.run_until_stopped().await;
    if let Some(metrics) = metrics {
        metrics.stop().await;
    }
    Ok(served?)
}
