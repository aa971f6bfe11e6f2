//! qrlogin in one process: both services on one store (embedded SQLite by default, Redis
//! when `REDIS_URL` is set), and the operator's command line.

use std::io::Write;

use actix_web::web;
use qrlogin_auth::account::Username;
use qrlogin_auth::flows;
use qrlogin_auth::secret::random_token;
use qrlogin_web::config::{Environment, Settings};
use qrlogin_web::metrics::{MetricsAddr, MetricsEndpoint};
use qrlogin_web::server::bind;
use qrlogin_web::{AppState, telemetry};

pub mod cli;
pub mod clients;
pub mod health;

/// The account dev mode creates at first start, so the flow can be tried at once.
pub const DEMO_USERNAME: &str = "demo";

/// Runs the desktop and the mobile service until the process is told to stop.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    telemetry::init(settings.log_format, &settings.rust_log, std::io::stdout);
    let desktop_listener = bind(settings.bind_addr, settings.desktop_port, "DESKTOP_PORT")?;
    let mobile_listener = bind(settings.bind_addr, settings.mobile_port, "MOBILE_PORT")?;
    let mentra = web::Data::new(qrlogin_mobile::MentraLogin::from_settings(&settings)?);
    let metrics = MetricsEndpoint::start(settings.metrics_addr, MetricsAddr::DESKTOP_PORT)?;
    let state = web::Data::new(AppState::build(settings).await?);
    state.shutdown.on_signals();
    if let Some(password) = ensure_demo_account(&state).await? {
        announce_demo_account(&password)?;
    }
    let settings = &state.settings;
    tracing::info!(
        desktop = settings.desktop_public_url.as_str(),
        mobile = settings.mobile_public_url.as_str(),
        "qrlogin is running: open the desktop address in a browser"
    );
    let desktop = qrlogin_desktop::build(state.clone(), desktop_listener)?;
    let mobile = qrlogin_mobile::build(state, mentra, mobile_listener)?;
    let served = tokio::try_join!(desktop.run_until_stopped(), mobile.run_until_stopped());
    if let Some(metrics) = metrics {
        metrics.stop().await;
    }
    served?;
    Ok(())
}

/// In dev mode with local accounts on, creates `demo` with a random password the first time;
/// returns that password (it is shown once and never stored in clear).
pub async fn ensure_demo_account(state: &AppState) -> anyhow::Result<Option<String>> {
    let settings = &state.settings;
    if settings.environment != Environment::Dev || !settings.local_accounts {
        return Ok(None);
    }
    let username = Username::parse(DEMO_USERNAME).map_err(anyhow::Error::msg)?;
    if state.store.load_account(&username).await?.is_some() {
        return Ok(None);
    }
    let password = random_token::<12>();
    let created = flows::create_account(
        &*state.store,
        username,
        "Demo User".into(),
        password.clone().into(),
        state.now(),
    )
    .await?;
    Ok((created == flows::NewAccount::Created).then_some(password))
}

/// The demo password goes to the terminal once, not into the log.
fn announce_demo_account(password: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "\n  A demo account was created for trying qrlogin (shown only this once):"
    )?;
    writeln!(
        out,
        "    username: {DEMO_USERNAME}\n    password: {password}"
    )?;
    writeln!(out, "  Add more with `qrlogin users add NAME`.\n")
}
