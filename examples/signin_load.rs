//! The sign-in benchmark, on the real binaries: complete sign-ins (create → WebSocket → scan →
//! approve → screen notified → redeem) by many screens and phones at once, against `qrlogin`
//! (embedded store) or `qrlogin-desktop` + `qrlogin-mobile` on a Redis of the benchmark's own,
//! each service its own process on loopback.
//!
//! ```sh
//! cargo build --release
//! cargo run --release --example signin_load -- [--redis | --redis-cluster] \
//!   [--sign-ins 5000] [--concurrency 50] [--password-sign-ins 1000] [--bin-dir target/release]
//! ```
//!
//! `--concurrency 1` is the serial mode: one sign-in at a time. `--bin-dir` points at another
//! build (a worktree of an older commit) to compare the same load on both. It prints, per run:
//! sign-ins per second; each sign-in's duration and approve→notified (from sending the approval
//! to the screen's socket reading `approved`) at p50/p99, from the client; the same latency from
//! the server's own histogram (bucket bounds); each step's p50 (create, socket, scan, approve,
//! redeem, close); the server processes' CPU per sign-in (from
//! /proc), and Redis's; Redis commands (`INFO commandstats`, script bodies included) and the
//! services' store round trips per sign-in; RSS of each process before and after; and, with
//! `--password-sign-ins`, the RSS after that many phone sign-ins with a password.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use qrlogin_testkit::mentra::FakeMentraCloud;
use qrlogin_testkit::{RedisCluster, RedisServer, commands_processed};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[path = "support/instance.rs"]
mod instance;
#[path = "support/options.rs"]
mod options;
use options::{flag, number, value};
#[path = "support/process.rs"]
mod process;
use instance::{Deployment, Instance, browser};

const PASSWORD: &str = "correct horse battery staple";
/// `/proc` counts CPU time in clock ticks, which Linux reports at 100 per second.
const TICK_MS: f64 = 10.0;

struct Options {
    redis: bool,
    /// A local three-node Redis Cluster instead of one server.
    redis_cluster: bool,
    sign_ins: usize,
    concurrency: usize,
    password_sign_ins: usize,
    bin_dir: PathBuf,
}

fn options() -> Options {
    Options {
        redis: flag("--redis"),
        redis_cluster: flag("--redis-cluster"),
        sign_ins: number("--sign-ins", 5000),
        concurrency: number("--concurrency", 50),
        password_sign_ins: number("--password-sign-ins", 0),
        bin_dir: value("--bin-dir").map_or_else(|| "target/release".into(), PathBuf::from),
    }
}

/// The Redis the services share, when they share one.
enum OwnRedis {
    None,
    Server(RedisServer),
    Cluster(RedisCluster),
}

impl OwnRedis {
    fn deployment(&self) -> Deployment {
        match self {
            Self::None => Deployment::Embedded,
            Self::Server(server) => Deployment::Shared {
                variable: "REDIS_URL",
                value: server.url(),
            },
            Self::Cluster(cluster) => Deployment::Shared {
                variable: "REDIS_CLUSTER_URLS",
                value: cluster.urls().join(","),
            },
        }
    }

    fn servers(&self) -> Vec<&RedisServer> {
        match self {
            Self::None => Vec::new(),
            Self::Server(server) => vec![server],
            Self::Cluster(cluster) => cluster.nodes.iter().collect(),
        }
    }

    /// Commands run so far over every node, by name.
    fn commands(&self) -> BTreeMap<String, u64> {
        let mut total = BTreeMap::new();
        for server in self.servers() {
            for (name, calls) in commands_processed(server.port) {
                *total.entry(name).or_insert(0) += calls;
            }
        }
        // The generator's own questions, and the connections' keep-alive.
        total.retain(|name, _| !matches!(name.as_str(), "info" | "ping" | "xinfo|stream"));
        total
    }

    /// Audit records the global trail has taken so far (its `entries-added`, which trimming
    /// does not lower); on a cluster the trail is on one node, and the others have none.
    fn audit_records_stored(&self) -> u64 {
        self.servers()
            .iter()
            .map(|server| {
                let output = std::process::Command::new("redis-cli")
                    .args(["-p", &server.port.to_string()])
                    .args(["XINFO", "STREAM", "qrlogin:audit:all"])
                    .output()
                    .expect("redis-cli runs");
                let text = String::from_utf8_lossy(&output.stdout).into_owned();
                let mut lines = text.lines();
                lines.find(|line| *line == "entries-added");
                lines.next().and_then(|n| n.parse().ok()).unwrap_or(0)
            })
            .sum()
    }

    fn cpu_ticks(&self) -> u64 {
        self.servers()
            .iter()
            .map(|s| process::cpu_ticks(s.pid()))
            .sum()
    }
}

/// What the server side has used so far.
struct Reading {
    cpu_ticks: Vec<u64>,
    rss_kib: Vec<u64>,
    redis_cpu_ticks: u64,
    commands: BTreeMap<String, u64>,
    round_trips: f64,
}

async fn read(instance: &Instance, redis: &OwnRedis) -> Reading {
    let mut round_trips = 0.0;
    for process in &instance.processes {
        round_trips += metric_sum(&process.metrics, "qrlogin_store_round_trips_total").await;
    }
    Reading {
        cpu_ticks: instance
            .processes
            .iter()
            .map(|p| process::cpu_ticks(p.pid()))
            .collect(),
        rss_kib: instance
            .processes
            .iter()
            .map(|p| process::rss_kib(p.pid()))
            .collect(),
        redis_cpu_ticks: redis.cpu_ticks(),
        commands: redis.commands(),
        round_trips,
    }
}

async fn scrape(metrics: &str) -> String {
    reqwest::get(metrics).await.unwrap().text().await.unwrap()
}

/// The sum of a metric's samples over all its labels.
async fn metric_sum(metrics: &str, name: &str) -> f64 {
    scrape(metrics)
        .await
        .lines()
        .filter(|line| line.starts_with(name) && !line.starts_with('#'))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The server's approve→notified histogram: the bucket bound each quantile falls under.
async fn server_quantiles(metrics: &str, quantiles: &[f64]) -> Vec<String> {
    let text = scrape(metrics).await;
    let buckets: Vec<(f64, f64)> = text
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("qrlogin_approval_notify_seconds_bucket{le=\"")?;
            let (bound, count) = rest.split_once("\"} ")?;
            Some((bound.parse().unwrap_or(f64::INFINITY), count.parse().ok()?))
        })
        .collect();
    let total = buckets.last().map_or(0.0, |(_, count)| *count);
    quantiles
        .iter()
        .map(|q| {
            buckets
                .iter()
                .find(|(_, count)| *count >= q * total && total > 0.0)
                .map_or("-".to_owned(), |(bound, _)| format!("≤{} ms", bound * 1e3))
        })
        .collect()
}

/// Audit records are written off the request path, in batches: wait until Redis holds every
/// record the services have counted (`qrlogin_events_total` counts each record once; the global
/// trail takes each once) before reading what the run cost.
async fn commands_once_audit_is_stored(
    instance: &Instance,
    redis: &OwnRedis,
) -> BTreeMap<String, u64> {
    if matches!(redis, OwnRedis::None) {
        return BTreeMap::new(); // the embedded store: no Redis commands to count
    }
    let mut recorded = 0.0;
    for process in &instance.processes {
        recorded += metric_sum(&process.metrics, "qrlogin_events_total").await;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while (redis.audit_records_stored() as f64) < recorded {
        assert!(
            Instant::now() < deadline,
            "Redis never held the {recorded} audit records the services counted"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    redis.commands()
}

#[tokio::main]
async fn main() {
    let options = options();
    let cloud = FakeMentraCloud::start().await;
    let redis = match (options.redis, options.redis_cluster) {
        (true, _) => OwnRedis::Server(RedisServer::start().expect("redis-server is installed")),
        (_, true) => OwnRedis::Cluster(RedisCluster::start().expect("redis-server is installed")),
        _ => OwnRedis::None,
    };
    // One load generator is one IP: lift the per-IP and per-user limits it would hit.
    let settings = [
        ("QR_TTL", "5m"),
        ("LOCAL_ACCOUNTS", "true"),
        ("RATE_LIMIT_CREATE_PER_IP", "1000000/1s"),
        ("RATE_LIMIT_SCAN_PER_USER", "1000000/1s"),
        ("RATE_LIMIT_SCAN_PER_IP", "1000000/1s"),
        ("RATE_LIMIT_WEBVIEW_PER_IP", "1000000/1s"),
        ("RATE_LIMIT_LOGIN_PER_IP", "1000000/1s"),
        ("RATE_LIMIT_LOGIN_PER_ACCOUNT", "1000000/1s"),
        ("RATE_LIMIT_LOGIN_PER_ACCOUNT_IP", "1000000/1s"),
        ("WEBSOCKETS_PER_IP", "1000000"),
    ];
    let instance = Instance::start(&options.bin_dir, &redis.deployment(), &cloud, &settings).await;
    let phones = signed_in_phones(&cloud, &instance.mobile, options.concurrency).await;
    let before = read(&instance, &redis).await;
    let started = Instant::now();
    let timings = run_sign_ins(&instance, phones, options.sign_ins).await;
    let elapsed = started.elapsed();
    let commands = commands_once_audit_is_stored(&instance, &redis).await;
    let after = read(&instance, &redis).await;
    let desktop_metrics = &instance.processes[0].metrics;
    let server = server_quantiles(desktop_metrics, &[0.5, 0.99]).await;
    report(&options, &timings, elapsed, &server);
    report_costs(&instance, &before, &after, &commands, timings.len());
    if options.password_sign_ins > 0 {
        password_sign_ins(&instance, &options).await;
    }
}

/// One signed-in phone per worker, through the MentraOS webview.
async fn signed_in_phones(
    cloud: &FakeMentraCloud,
    mobile: &str,
    count: usize,
) -> Vec<reqwest::Client> {
    let mut phones = Vec::new();
    for i in 0..count {
        let phone = browser();
        let token = cloud.issue_temp_token(&format!("user{i}@example.com"));
        let answer = phone
            .get(format!("{mobile}/webview?aos_temp_token={token}"))
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_redirection(), "webview sign-in failed");
        phones.push(phone);
    }
    phones
}

/// One sign-in's duration, its approve→notified, and each of its `STEPS`.
struct Timing {
    whole: Duration,
    notified: Duration,
    steps: [Duration; STEPS.len()],
}

type Timings = Vec<Timing>;

async fn run_sign_ins(instance: &Instance, phones: Vec<reqwest::Client>, total: usize) -> Timings {
    let per_worker = total / phones.len();
    let screen = reqwest::Client::new();
    let workers = phones.into_iter().map(|phone| {
        let (screen, desktop, mobile) = (
            screen.clone(),
            instance.desktop.clone(),
            instance.mobile.clone(),
        );
        tokio::spawn(async move {
            let mut timings = Vec::with_capacity(per_worker);
            for _ in 0..per_worker {
                timings.push(sign_in(&screen, &phone, &desktop, &mobile).await);
            }
            timings
        })
    });
    futures_util::future::join_all(workers)
        .await
        .into_iter()
        .flat_map(Result::unwrap)
        .collect()
}

fn quantile(sorted: &[Duration], q: f64) -> f64 {
    let at = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted.get(at).map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
}

fn report(options: &Options, timings: &Timings, elapsed: Duration, server: &[String]) {
    let sorted = |of: &dyn Fn(&Timing) -> Duration| {
        let mut durations: Vec<Duration> = timings.iter().map(of).collect();
        durations.sort();
        durations
    };
    let (whole, notified) = (sorted(&|t| t.whole), sorted(&|t| t.notified));
    let store = match (options.redis, options.redis_cluster) {
        (true, _) => "redis",
        (_, true) => "redis-cluster",
        _ => "embedded",
    };
    println!(
        "store={store} sign-ins={} concurrency={} elapsed={:.2}s rate={:.0}/s",
        timings.len(),
        options.concurrency,
        elapsed.as_secs_f64(),
        timings.len() as f64 / elapsed.as_secs_f64(),
    );
    println!(
        "  sign-in p50={:.2}ms p99={:.2}ms; approve→notified p50={:.2}ms p99={:.2}ms (client), p50 {} p99 {} (server histogram)",
        quantile(&whole, 0.5),
        quantile(&whole, 0.99),
        quantile(&notified, 0.5),
        quantile(&notified, 0.99),
        server[0],
        server[1],
    );
    let steps: Vec<String> = STEPS
        .iter()
        .enumerate()
        .map(|(step, name)| format!("{name} {:.2}", quantile(&sorted(&|t| t.steps[step]), 0.5)))
        .collect();
    println!("  steps p50 (ms): {}", steps.join(", "));
}

fn report_costs(
    instance: &Instance,
    before: &Reading,
    after: &Reading,
    commands: &BTreeMap<String, u64>,
    sign_ins: usize,
) {
    let per = |value: f64| value / sign_ins as f64;
    for (i, process) in instance.processes.iter().enumerate() {
        println!(
            "  {}: CPU {:.3} ms per sign-in; RSS {} → {} MiB",
            process.name,
            per((after.cpu_ticks[i] - before.cpu_ticks[i]) as f64 * TICK_MS),
            before.rss_kib[i] / 1024,
            after.rss_kib[i] / 1024,
        );
    }
    if commands.is_empty() {
        return;
    }
    let mut used: Vec<(&String, u64)> = commands
        .iter()
        .map(|(name, calls)| {
            (
                name,
                calls - before.commands.get(name).copied().unwrap_or(0),
            )
        })
        .filter(|(_, calls)| *calls > 0)
        .collect();
    used.sort_by_key(|(_, calls)| std::cmp::Reverse(*calls));
    let total: u64 = used.iter().map(|(_, calls)| calls).sum();
    let detail: Vec<String> = used
        .iter()
        .map(|(name, calls)| format!("{name} {:.1}", per(*calls as f64)))
        .collect();
    println!(
        "  redis: CPU {:.3} ms per sign-in; {:.1} commands per sign-in ({}); {:.1} round trips per sign-in",
        per((after.redis_cpu_ticks - before.redis_cpu_ticks) as f64 * TICK_MS),
        per(total as f64),
        detail.join(", "),
        per(after.round_trips - before.round_trips),
    );
}

/// Phones signing in with a local account's password (argon2id each), as many at once as
/// the sign-ins ran, then each process's RSS: memory that grows with password checks shows.
async fn password_sign_ins(instance: &Instance, options: &Options) {
    let accounts = options.concurrency;
    for i in 0..accounts {
        instance.command_line(&["users", "add", &format!("bench{i}")], PASSWORD);
    }
    let per_worker = options.password_sign_ins / accounts;
    let started = Instant::now();
    let workers = (0..accounts).map(|i| {
        let mobile = instance.mobile.clone();
        tokio::spawn(async move {
            for _ in 0..per_worker {
                let answer = browser()
                    .post(format!("{mobile}/api/local/login"))
                    .json(&json!({ "username": format!("bench{i}"), "password": PASSWORD }))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(answer.status(), 200, "password sign-in");
            }
        })
    });
    futures_util::future::join_all(workers).await;
    let elapsed = started.elapsed();
    let rss: Vec<String> = instance
        .processes
        .iter()
        .map(|p| format!("{} {} MiB", p.name, process::rss_kib(p.pid()) / 1024))
        .collect();
    println!(
        "password sign-ins={} concurrency={accounts} rate={:.0}/s; RSS after: {}",
        per_worker * accounts,
        (per_worker * accounts) as f64 / elapsed.as_secs_f64(),
        rss.join(", ")
    );
}

/// The steps of one sign-in, as the client sees them, in order.
const STEPS: [&str; 6] = ["create", "socket", "scan", "approve", "redeem", "close"];

/// One complete sign-in, timed. "socket" lasts until the screen reads `pending`, "scan" until
/// it reads `claimed`, "approve" until the screen has read `approved` and the phone has its
/// answer.
async fn sign_in(
    screen: &reqwest::Client,
    phone: &reqwest::Client,
    desktop: &str,
    mobile: &str,
) -> Timing {
    let mut steps = [Duration::ZERO; STEPS.len()];
    let mut step_started = Instant::now();
    let mut lap = |step: usize| {
        steps[step] = step_started.elapsed();
        step_started = Instant::now();
    };
    let created: Value = screen
        .post(format!("{desktop}/api/login-requests"))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    lap(0);
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
    // Nagle off, as a browser has it: the close below is not held back.
    let (mut socket, _) = tokio_tungstenite::connect_async_with_config(request, None, true)
        .await
        .unwrap();
    let mut next_state = async || loop {
        if let Some(Ok(Message::Text(text))) = socket.next().await {
            return serde_json::from_str::<Value>(&text).unwrap()["state"]
                .as_str()
                .unwrap()
                .to_owned();
        }
    };
    assert_eq!(next_state().await, "pending");
    lap(1);
    let scanned = phone
        .post(format!("{mobile}/api/scan"))
        .json(&json!({ "id": id }))
        .send()
        .await
        .unwrap();
    assert_eq!(scanned.status(), 200);
    assert_eq!(next_state().await, "claimed");
    lap(2);
    let approve = phone
        .post(format!("{mobile}/api/login-requests/{id}/approve"))
        .json(&json!({}))
        .send();
    let approving = Instant::now();
    let (approved, (state, notified)) =
        tokio::join!(approve, async { (next_state().await, approving.elapsed()) });
    assert_eq!(approved.unwrap().status(), 200);
    assert_eq!(state, "approved");
    lap(3);
    let redeemed = screen
        .post(format!("{desktop}/api/login-requests/{id}/redeem"))
        .header("x-desktop-secret", secret)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(redeemed.status(), 200);
    lap(4);
    socket.close(None).await.ok();
    lap(5);
    Timing {
        whole: steps.iter().sum(),
        notified,
        steps,
    }
}
