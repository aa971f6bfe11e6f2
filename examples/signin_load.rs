//! Load generator for complete sign-ins (DESIGN §9): create → WebSocket → scan → approve →
//! (screen notified) → redeem, by many screens and phones at once, against both services
//! started in this process on random ports.
//!
//! cargo run --release --example signin_load -- [--redis | --redis-cluster] [--sign-ins N] [--concurrency C]
//!
//! Prints sign-ins per second and the approval→screen latency: from sending the approval to
//! the screen's socket receiving `approved` (an upper bound: it includes the approve call).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::web;
use futures_util::StreamExt;
use qrlogin_auth::clock::{Clock, SystemClock};
use qrlogin_auth::store::Store;
use qrlogin_testkit::mentra::{API_KEY, FakeMentraCloud, PACKAGE_NAME, signing_key};
use qrlogin_testkit::{RedisCluster, RedisServer, commands_processed};
use qrlogin_web::AppState;
use qrlogin_web::config::Settings;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

struct Options {
    redis: bool,
    /// A local three-node Redis Cluster instead of one server.
    redis_cluster: bool,
    sign_ins: usize,
    concurrency: usize,
}

fn options() -> Options {
    let args: Vec<String> = std::env::args().collect();
    let value = |name: &str, default: usize| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map_or(default, |v| v.parse().expect("a number"))
    };
    Options {
        redis: args.iter().any(|a| a == "--redis"),
        redis_cluster: args.iter().any(|a| a == "--redis-cluster"),
        sign_ins: value("--sign-ins", 2000),
        concurrency: value("--concurrency", 50),
    }
}

fn listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    (listener, url)
}

#[actix_web::main]
async fn main() {
    let options = options();
    let cloud = FakeMentraCloud::start().await;
    let (desktop_listener, desktop) = listener();
    let (mobile_listener, mobile) = listener();
    let redis = options
        .redis
        .then(|| RedisServer::start().expect("redis-server is installed"));
    let cluster = options
        .redis_cluster
        .then(|| RedisCluster::start().expect("redis-server is installed"));
    let vars = [
        ("DESKTOP_PUBLIC_URL", desktop.clone()),
        ("MOBILE_PUBLIC_URL", mobile.clone()),
        ("PACKAGE_NAME", PACKAGE_NAME.to_owned()),
        ("MENTRAOS_API_KEY", API_KEY.to_owned()),
        ("MENTRAOS_CLOUD_URL", cloud.url()),
        (
            "MENTRAOS_USER_TOKEN_PUBLIC_KEY",
            signing_key().public_pem.clone(),
        ),
        ("QR_TTL", "5m".to_owned()),
        // One load generator is one IP: lift the per-IP and per-user limits it would hit.
        ("RATE_LIMIT_CREATE_PER_IP", "1000000/1s".to_owned()),
        ("RATE_LIMIT_SCAN_PER_USER", "1000000/1s".to_owned()),
        ("RATE_LIMIT_SCAN_PER_IP", "1000000/1s".to_owned()),
        ("RATE_LIMIT_WEBVIEW_PER_IP", "1000000/1s".to_owned()),
        ("WEBSOCKETS_PER_IP", "1000000".to_owned()),
        (
            "REDIS_URL",
            redis.as_ref().map(RedisServer::url).unwrap_or_default(),
        ),
        (
            "REDIS_CLUSTER_URLS",
            cluster
                .as_ref()
                .map(|c| c.urls().join(","))
                .unwrap_or_default(),
        ),
    ];
    let settings = Settings::from_vars(|name| {
        vars.iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let settings = Settings {
        data_dir: dir.path().to_owned(),
        ..settings
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let store: Arc<dyn Store> = qrlogin_web::state::open_store(&settings, clock.clone(), "bench:")
        .await
        .unwrap();
    let state = web::Data::new(
        AppState::with_store(settings.clone(), store, clock)
            .await
            .unwrap(),
    );
    let mentra = web::Data::new(qrlogin_mobile::MentraLogin::from_settings(&settings).unwrap());
    tokio::spawn(
        qrlogin_desktop::build(state.clone(), desktop_listener)
            .unwrap()
            .run_until_stopped(),
    );
    tokio::spawn(
        qrlogin_mobile::build(state, mentra, mobile_listener)
            .unwrap()
            .run_until_stopped(),
    );

    // One signed-in phone per worker, through the MentraOS webview.
    let mut phones = Vec::new();
    for i in 0..options.concurrency {
        let phone = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let token = cloud.issue_temp_token(&format!("user{i}@example.com"));
        phone
            .get(format!("{mobile}/webview?aos_temp_token={token}"))
            .send()
            .await
            .unwrap();
        phones.push(phone);
    }
    let screen = reqwest::Client::new();
    let per_worker = options.sign_ins / options.concurrency;
    let redis_port = redis.as_ref().map(|r| r.port);
    let commands_before = redis_port.map(commands_processed);
    let started = Instant::now();
    let workers = phones.into_iter().map(|phone| {
        let (screen, desktop, mobile) = (screen.clone(), desktop.clone(), mobile.clone());
        tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_worker);
            for _ in 0..per_worker {
                latencies.push(sign_in(&screen, &phone, &desktop, &mobile).await);
            }
            latencies
        })
    });
    let mut latencies: Vec<Duration> = futures_util::future::join_all(workers)
        .await
        .into_iter()
        .flat_map(Result::unwrap)
        .collect();
    let elapsed = started.elapsed();
    if let (Some(port), Some(before)) = (redis_port, commands_before) {
        // Audit records are written a moment later, in batches: let the writer catch up.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after = commands_processed(port);
        let per_sign_in = |calls: u64| calls as f64 / latencies.len() as f64;
        let mut used: Vec<(String, u64)> = after
            .iter()
            .map(|(name, calls)| (name.clone(), calls - before.get(name).copied().unwrap_or(0)))
            .filter(|(_, calls)| *calls > 0)
            .collect();
        used.sort_by_key(|(_, calls)| std::cmp::Reverse(*calls));
        let total: u64 = used.iter().map(|(_, calls)| calls).sum();
        let detail: Vec<String> = used
            .iter()
            .map(|(name, calls)| format!("{name} {:.1}", per_sign_in(*calls)))
            .collect();
        println!(
            "Redis commands per sign-in: {:.1} ({})",
            per_sign_in(total),
            detail.join(", ")
        );
    }
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 - 1.0) * q).round() as usize];
    println!(
        "store={} sign-ins={} concurrency={} elapsed={:.2}s rate={:.0}/s approve→notified p50={:.2}ms p99={:.2}ms max={:.2}ms",
        match (options.redis, options.redis_cluster) {
            (true, _) => "redis",
            (_, true) => "redis-cluster",
            _ => "sqlite",
        },
        latencies.len(),
        options.concurrency,
        elapsed.as_secs_f64(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        at(0.5).as_secs_f64() * 1e3,
        at(0.99).as_secs_f64() * 1e3,
        at(1.0).as_secs_f64() * 1e3,
    );
}

/// One complete sign-in; returns the approval→screen latency.
async fn sign_in(
    screen: &reqwest::Client,
    phone: &reqwest::Client,
    desktop: &str,
    mobile: &str,
) -> Duration {
    let created: Value = screen
        .post(format!("{desktop}/api/login-requests"))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let (id, secret) = (
        created["id"].as_str().unwrap(),
        created["desktop_secret"].as_str().unwrap(),
    );
    let mut request = format!(
        "{}/api/login-requests/{id}/events",
        desktop.replace("http", "ws")
    )
    .into_client_request()
    .unwrap();
    request
        .headers_mut()
        .insert("x-desktop-secret", secret.parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let mut next_state = async || loop {
        if let Some(Ok(Message::Text(text))) = socket.next().await {
            return serde_json::from_str::<Value>(&text).unwrap()["state"]
                .as_str()
                .unwrap()
                .to_owned();
        }
    };
    assert_eq!(next_state().await, "pending");
    let scanned = phone
        .post(format!("{mobile}/api/scan"))
        .json(&json!({ "id": id }))
        .send()
        .await
        .unwrap();
    assert_eq!(scanned.status(), 200);
    assert_eq!(next_state().await, "claimed");
    let approving = Instant::now();
    let approve = phone
        .post(format!("{mobile}/api/login-requests/{id}/approve"))
        .json(&json!({}))
        .send();
    let (approved, notified) = tokio::join!(approve, async {
        let state = next_state().await;
        (state, approving.elapsed())
    });
    assert_eq!(approved.unwrap().status(), 200);
    assert_eq!(notified.0, "approved");
    let redeemed = screen
        .post(format!("{desktop}/api/login-requests/{id}/redeem"))
        .header("x-desktop-secret", secret)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(redeemed.status(), 200);
    notified.1
}
