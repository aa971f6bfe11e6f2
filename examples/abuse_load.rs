//! Ordinary sign-ins while one address attacks: the abuse benchmark.
//!
//! Starts the release binary (`qrlogin`, both services on the embedded store, PIN mode) as its
//! own process, signs 50 phones in through a fake MentraOS cloud, then runs three phases of
//! equal length: calm, under attack, and calm again. Throughout, 50 screens and their phones
//! sign in, each sign-in from a fresh address (as many kiosks would); during the attack one
//! address, as fast as it can,
//! - opens WebSockets on the requests it creates (and creates more),
//! - sends junk bearer tokens and desktop secrets,
//! - guesses typed codes with its signed-in phone,
//! - creates requests, approves them with its own phone and guesses their PINs,
//! - posts 8 MiB noise frames to the camera endpoint.
//!
//! Addresses come through `X-Forwarded-For` from a trusted proxy (`TRUST_PROXY=127.0.0.1`).
//! Every limit stays at its default except `RATE_LIMIT_SCAN_PER_USER`: each benchmark phone
//! signs in several times a second, which no person does.
//!
//! ```sh
//! cargo build --release
//! cargo run --release --example abuse_load -- [--seconds 20] [--concurrency 50] \
//!   [--bin-dir target/release] [--attacks sockets,tokens,codes,pins,frames] \
//!   [--frame-type image/png]
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use qrlogin_testkit::mentra::FakeMentraCloud;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[path = "support/instance.rs"]
mod instance;
#[path = "support/options.rs"]
mod options;
use options::{number, value};
#[path = "support/process.rs"]
mod process;
use instance::{Deployment, Instance, browser};

/// The attacker's one address.
const ATTACKER: &str = "203.0.113.66";

struct Options {
    seconds: u64,
    concurrency: usize,
    /// Where the release binaries are (`qrlogin` is started from here).
    bin_dir: std::path::PathBuf,
    /// Which attacks run (all by default): sockets, tokens, codes, pins, frames.
    attacks: Vec<String>,
    frame_type: String,
}

fn options() -> Options {
    Options {
        seconds: number("--seconds", 20),
        concurrency: number("--concurrency", 50),
        bin_dir: value("--bin-dir").map_or_else(|| "target/release".into(), Into::into),
        attacks: value("--attacks")
            .unwrap_or_else(|| "sockets,tokens,codes,pins,frames".into())
            .split(',')
            .map(str::to_owned)
            .collect(),
        frame_type: value("--frame-type").unwrap_or_else(|| "image/png".into()),
    }
}

/// A phone signed in through the MentraOS webview.
async fn signed_in_phone(
    cloud: &FakeMentraCloud,
    mobile: &str,
    user: &str,
    from: &str,
) -> reqwest::Client {
    let phone = browser();
    let token = cloud.issue_temp_token(user);
    let answer = phone
        .get(format!("{mobile}/webview?aos_temp_token={token}"))
        .header("x-forwarded-for", from)
        .send()
        .await
        .unwrap();
    assert!(
        answer.status().is_redirection(),
        "webview sign-in: {}",
        answer.status()
    );
    phone
}

/// One ordinary sign-in from `address`, the phone at the same place: create, the page's
/// socket, scan, approve (the phone shows a PIN), the screen types it, redeem.
async fn ordinary_sign_in(
    instance: (&str, &str),
    (screen, phone): (&reqwest::Client, &reqwest::Client),
    address: &str,
) -> Result<(), String> {
    let (desktop, mobile) = instance;
    let create = screen
        .post(format!("{desktop}/api/login-requests"))
        .header("x-forwarded-for", address);
    let created = expect_json(create.json(&json!({})), "create").await?;
    let id = created["id"].as_str().ok_or("no id")?.to_owned();
    let secret = created["desktop_secret"]
        .as_str()
        .ok_or("no secret")?
        .to_owned();
    let mut socket = open_socket(desktop, &id, &secret, address)
        .await
        .map_err(|status| format!("events socket: {status}"))?;
    wait_for_state(&mut socket, "pending").await?;
    let scan = phone
        .post(format!("{mobile}/api/scan"))
        .header("x-forwarded-for", address);
    expect_json(scan.json(&json!({ "id": id })), "scan").await?;
    let approve = phone
        .post(format!("{mobile}/api/login-requests/{id}/approve"))
        .header("x-forwarded-for", address);
    let approved = expect_json(approve.json(&json!({})), "approve").await?;
    let pin = approved["pin"].as_str().ok_or("no pin")?;
    wait_for_state(&mut socket, "approved").await?;
    let typed = screen
        .post(format!("{desktop}/api/login-requests/{id}/pin"))
        .header("x-forwarded-for", address)
        .header("x-desktop-secret", &secret);
    expect_json(typed.json(&json!({ "pin": pin })), "pin").await?;
    let redeem = screen
        .post(format!("{desktop}/api/login-requests/{id}/redeem"))
        .header("x-forwarded-for", address)
        .header("x-desktop-secret", &secret);
    expect_json(redeem.json(&json!({})), "redeem").await?;
    Ok(())
}

async fn expect_json(request: reqwest::RequestBuilder, step: &str) -> Result<Value, String> {
    let response = request.send().await.map_err(|e| format!("{step}: {e}"))?;
    let status = response.status();
    let body = response.text().await.map_err(|e| format!("{step}: {e}"))?;
    if !status.is_success() {
        return Err(format!(
            "{step}: {status} {}",
            body.chars().take(120).collect::<String>()
        ));
    }
    serde_json::from_str(&body).map_err(|e| format!("{step}: {e}"))
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a request's events socket; the HTTP status when it is refused.
async fn open_socket(desktop: &str, id: &str, secret: &str, from: &str) -> Result<Socket, u16> {
    let url = format!(
        "{}/api/login-requests/{id}/events",
        desktop.replacen("http", "ws", 1)
    );
    let mut request = url.into_client_request().unwrap();
    let headers = request.headers_mut();
    headers.insert("x-desktop-secret", secret.parse().unwrap());
    headers.insert("x-forwarded-for", from.parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(_) => Err(0),
    }
}

async fn wait_for_state(socket: &mut Socket, wanted: &str) -> Result<(), String> {
    let read = async {
        while let Some(message) = socket.next().await {
            if let Ok(Message::Text(text)) = message {
                let state: Value = serde_json::from_str(&text).unwrap_or_default();
                if state["state"] == wanted {
                    return Ok(());
                }
            }
        }
        Err(format!("the socket closed before `{wanted}`"))
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .map_err(|_| format!("no `{wanted}` within 10 s"))?
}

/// What one phase measured.
#[derive(Default)]
struct Phase {
    ordinary: Tally,
    attacker: BTreeMap<String, usize>,
    peak_rss_kib: u64,
    peak_descriptors: usize,
    elapsed: Duration,
    /// CPU seconds used by the instance and by this load generator (ordinary users and
    /// attacker together) during the phase.
    instance_cpu: f64,
    generator_cpu: f64,
}

/// The ordinary users' results, shared by the workers and read at each phase's end.
#[derive(Default)]
struct Tally {
    durations: Vec<Duration>,
    errors: BTreeMap<String, usize>,
}

/// Worker `worker` signs in over and over, each time from a fresh address, until `stop`.
async fn ordinary_worker(
    instance: (String, String),
    phone: reqwest::Client,
    worker: usize,
    tally: Arc<Mutex<Tally>>,
    stop: Arc<AtomicBool>,
) {
    let screen = browser();
    let mut n = 0usize;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let address = format!("10.{}.{}.{}", worker % 200, (n >> 8) % 256, n % 256);
        let started = Instant::now();
        let outcome =
            ordinary_sign_in((&instance.0, &instance.1), (&screen, &phone), &address).await;
        let mut tally = tally.lock().unwrap();
        match outcome {
            Ok(()) => tally.durations.push(started.elapsed()),
            Err(why) => *tally.errors.entry(why).or_default() += 1,
        }
    }
}

/// What the attacker's requests were answered, by kind and status.
type Answers = Arc<Mutex<BTreeMap<String, usize>>>;

fn count(answers: &Answers, kind: &str, status: impl std::fmt::Display) {
    *answers
        .lock()
        .unwrap()
        .entry(format!("{kind} {status}"))
        .or_default() += 1;
}

/// The attacker's requests, from its one address.
#[derive(Clone)]
struct Attacker {
    desktop: String,
    mobile: String,
    browser: reqwest::Client,
    phone: reqwest::Client,
    answers: Answers,
    stop: Arc<AtomicBool>,
    /// The noise frames' `Content-Type`: `image/png`, or a type the server refuses before
    /// decoding, to tell the upload's cost from the decoder's.
    frame_type: String,
}

impl Attacker {
    fn post(&self, client: &reqwest::Client, url: String) -> reqwest::RequestBuilder {
        client.post(url).header("x-forwarded-for", ATTACKER)
    }

    /// A request of its own: `(id, secret)`, or `None` when creating is refused.
    async fn create(&self) -> Option<(String, String)> {
        let response = self
            .post(
                &self.browser,
                format!("{}/api/login-requests", self.desktop),
            )
            .json(&json!({}))
            .send()
            .await
            .ok()?;
        count(&self.answers, "create", response.status().as_u16());
        let created: Value = response.json().await.ok()?;
        Some((
            created["id"].as_str()?.to_owned(),
            created["desktop_secret"].as_str()?.to_owned(),
        ))
    }

    /// Opens sockets as fast as it can on the requests it has, holding every one it gets.
    async fn flood_sockets(self) {
        let mut held = Vec::new();
        let mut requests: Vec<(String, String)> = Vec::new();
        let mut n = 0usize;
        while !self.stop.load(Ordering::Relaxed) {
            n += 1;
            if (requests.is_empty() || n.is_multiple_of(50))
                && let Some(created) = self.create().await
            {
                requests.push(created);
            }
            let Some((id, secret)) = requests.get(n % requests.len().max(1)) else {
                tokio::task::yield_now().await;
                continue;
            };
            match open_socket(&self.desktop, id, secret, ATTACKER).await {
                Ok(socket) => {
                    count(&self.answers, "socket", 101);
                    held.push(socket);
                }
                Err(status) => count(&self.answers, "socket", status),
            }
        }
    }

    /// Junk bearer tokens on the API and wrong desktop secrets on real requests.
    async fn junk_tokens(self) {
        let mut n = 0u64;
        while !self.stop.load(Ordering::Relaxed) {
            n += 1;
            let response = self
                .browser
                .get(format!("{}/api/me", self.desktop))
                .header("x-forwarded-for", ATTACKER)
                .bearer_auth(format!("junk.{n}.token"))
                .send()
                .await;
            if let Ok(response) = response {
                count(&self.answers, "junk token", response.status().as_u16());
            }
            let redeem = self
                .post(
                    &self.browser,
                    format!(
                        "{}/api/login-requests/AAAAAAAAAAAAAAAAAAAAAA/redeem",
                        self.desktop
                    ),
                )
                .header("x-desktop-secret", format!("wrong{n}"))
                .json(&json!({}))
                .send()
                .await;
            if let Ok(response) = redeem {
                count(&self.answers, "junk secret", response.status().as_u16());
            }
        }
    }

    /// Typed codes, guessed with its signed-in phone.
    async fn guess_codes(self) {
        let mut n = 0u64;
        while !self.stop.load(Ordering::Relaxed) {
            n += 1;
            let code: String = (0..8)
                .map(|i| char::from(b'B' + ((n >> (i * 2)) % 20) as u8))
                .collect();
            let response = self
                .post(&self.phone, format!("{}/api/scan", self.mobile))
                .json(&json!({ "user_code": code }))
                .send()
                .await;
            if let Ok(response) = response {
                count(&self.answers, "code guess", response.status().as_u16());
            }
        }
    }

    /// Its own requests, approved by its own phone, then PINs guessed until the request locks.
    async fn guess_pins(self) {
        while !self.stop.load(Ordering::Relaxed) {
            let Some((id, secret)) = self.create().await else {
                continue;
            };
            let scan = self.post(&self.phone, format!("{}/api/scan", self.mobile));
            let _ = scan.json(&json!({ "id": id })).send().await;
            let approve = self.post(
                &self.phone,
                format!("{}/api/login-requests/{id}/approve", self.mobile),
            );
            let _ = approve.json(&json!({})).send().await;
            for guess in 0..6 {
                let response = self
                    .post(
                        &self.browser,
                        format!("{}/api/login-requests/{id}/pin", self.desktop),
                    )
                    .header("x-desktop-secret", &secret)
                    .json(&json!({ "pin": format!("{guess:06}") }))
                    .send()
                    .await;
                if let Ok(response) = response {
                    count(&self.answers, "pin guess", response.status().as_u16());
                }
            }
        }
    }

    /// 8 MiB frames of noise, several at once.
    async fn noise_frames(self, frame: &'static [u8]) {
        while !self.stop.load(Ordering::Relaxed) {
            let response = self
                .post(&self.phone, format!("{}/api/frames", self.mobile))
                .header("content-type", &self.frame_type)
                .body(frame)
                .send()
                .await;
            if let Ok(response) = response {
                count(&self.answers, "noise frame", response.status().as_u16());
            }
        }
    }
}

/// A PNG of grey noise just under the frame limit (8 MiB): it does not compress, so the
/// server must read and decode all of it.
fn noise_frame() -> &'static [u8] {
    let side = 2800u32;
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let image = image::GrayImage::from_fn(side, side, |_, _| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        image::Luma([(state >> 56) as u8])
    });
    let mut png = std::io::Cursor::new(Vec::new());
    image.write_to(&mut png, image::ImageFormat::Png).unwrap();
    // Leaked once, so every post sends the same bytes without a copy.
    png.into_inner().leak()
}

/// Starts the attacks named in `attacks`; they run until `stop`.
fn attack(
    attacker: &Attacker,
    frame: &'static [u8],
    attacks: &[String],
) -> Vec<tokio::task::JoinHandle<()>> {
    type Attack = fn(Attacker, &'static [u8]) -> tokio::task::JoinHandle<()>;
    // Each attack by name, with how many tasks run it at once.
    let all: [(&str, usize, Attack); 5] = [
        ("sockets", 4, |a, _| tokio::spawn(a.flood_sockets())),
        ("tokens", 2, |a, _| tokio::spawn(a.junk_tokens())),
        ("codes", 2, |a, _| tokio::spawn(a.guess_codes())),
        ("pins", 1, |a, _| tokio::spawn(a.guess_pins())),
        ("frames", 3, |a, frame| tokio::spawn(a.noise_frames(frame))),
    ];
    let mut tasks = Vec::new();
    for (name, copies, start) in all {
        if attacks.iter().any(|wanted| wanted == name) {
            tasks.extend((0..copies).map(|_| start(attacker.clone(), frame)));
        }
    }
    tasks
}

/// Runs one phase of `length`: the ordinary workers keep going; the attack runs if given.
async fn phase(
    length: Duration,
    pid: u32,
    tally: &Arc<Mutex<Tally>>,
    attack: Option<(&Attacker, &'static [u8], &[String])>,
) -> Phase {
    *tally.lock().unwrap() = Tally::default();
    let started = Instant::now();
    let attack = attack.map(|(attacker, frame, attacks)| {
        let attacker = Attacker {
            stop: Arc::new(AtomicBool::new(false)),
            ..attacker.clone()
        };
        (
            attacker.stop.clone(),
            self::attack(&attacker, frame, attacks),
            attacker.answers,
        )
    });
    let mut result = Phase::default();
    let ticks = || {
        (
            process::cpu_ticks(pid),
            process::cpu_ticks(std::process::id()),
        )
    };
    let ticks_before = ticks();
    while started.elapsed() < length {
        result.peak_rss_kib = result.peak_rss_kib.max(process::rss_kib(pid));
        result.peak_descriptors = result.peak_descriptors.max(process::open_descriptors(pid));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    result.ordinary = std::mem::take(&mut *tally.lock().unwrap());
    result.elapsed = started.elapsed();
    let ticks_after = ticks();
    // Linux counts CPU time in ticks of 1/100 s (USER_HZ).
    result.instance_cpu = (ticks_after.0 - ticks_before.0) as f64 / 100.0;
    result.generator_cpu = (ticks_after.1 - ticks_before.1) as f64 / 100.0;
    if let Some((stop, tasks, answers)) = attack {
        stop.store(true, Ordering::Relaxed);
        for task in tasks {
            task.abort();
        }
        result.attacker = std::mem::take(&mut *answers.lock().unwrap());
    }
    result
}

fn report(name: &str, phase: &mut Phase, pid: u32) {
    phase.ordinary.durations.sort();
    let at = |q: f64| {
        phase
            .ordinary
            .durations
            .get(((phase.ordinary.durations.len().saturating_sub(1)) as f64 * q).round() as usize)
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
    };
    println!(
        "{name:<8} sign-ins {:>6}  {:>6.1}/s  p50 {:>7.1} ms  p99 {:>7.1} ms  errors {:>3}  peak RSS {:>4} MiB  peak fds {:>5}  (now {} MiB, {} fds)  CPU s: instance {:.1}, generator {:.1}",
        phase.ordinary.durations.len(),
        phase.ordinary.durations.len() as f64 / phase.elapsed.as_secs_f64(),
        at(0.5),
        at(0.99),
        phase.ordinary.errors.values().sum::<usize>(),
        phase.peak_rss_kib / 1024,
        phase.peak_descriptors,
        process::rss_kib(pid) / 1024,
        process::open_descriptors(pid),
        phase.instance_cpu,
        phase.generator_cpu,
    );
    for (error, times) in &phase.ordinary.errors {
        println!("         ordinary error ×{times}: {error}");
    }
    if !phase.attacker.is_empty() {
        let answers: Vec<String> = phase
            .attacker
            .iter()
            .map(|(k, n)| format!("{k}×{n}"))
            .collect();
        println!(
            "         attacker's answers (101 = socket opened): {}",
            answers.join(", ")
        );
    }
}

#[tokio::main]
async fn main() {
    let options = options();
    let cloud = FakeMentraCloud::start().await;
    let settings = [
        ("TRUST_PROXY", "127.0.0.1"),
        ("LOGIN_CONFIRMATION", "pin"),
        ("RATE_LIMIT_SCAN_PER_USER", "1000000/1s"),
    ];
    let instance =
        Instance::start(&options.bin_dir, &Deployment::Embedded, &cloud, &settings).await;
    let (desktop, mobile) = (instance.desktop.clone(), instance.mobile.clone());
    let mut phones = Vec::new();
    for i in 0..options.concurrency {
        let from = format!("10.{}.255.255", i % 200);
        phones.push(signed_in_phone(&cloud, &mobile, &format!("user{i}@example.com"), &from).await);
    }
    let attacker = Attacker {
        phone: signed_in_phone(&cloud, &mobile, "mallory@example.com", ATTACKER).await,
        browser: browser(),
        desktop: desktop.clone(),
        mobile: mobile.clone(),
        answers: Answers::default(),
        stop: Arc::new(AtomicBool::new(false)),
        frame_type: options.frame_type.clone(),
    };
    let frame = noise_frame();
    let tally = Arc::new(Mutex::new(Tally::default()));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = phones
        .into_iter()
        .enumerate()
        .map(|(worker, phone)| {
            let instance = (desktop.clone(), mobile.clone());
            tokio::spawn(ordinary_worker(
                instance,
                phone,
                worker,
                tally.clone(),
                stop.clone(),
            ))
        })
        .collect();
    let length = Duration::from_secs(options.seconds);
    let pid = instance.processes[0].pid();
    println!(
        "{} ordinary screens and phones, {} s per phase; noise frame {:.1} MiB; instance pid {pid}",
        options.concurrency,
        options.seconds,
        frame.len() as f64 / (1024.0 * 1024.0)
    );
    let mut calm = phase(length, pid, &tally, None).await;
    report("calm", &mut calm, pid);
    let mut attacked = phase(
        length,
        pid,
        &tally,
        Some((&attacker, frame, &options.attacks)),
    )
    .await;
    report("attack", &mut attacked, pid);
    let mut after = phase(length, pid, &tally, None).await;
    report("after", &mut after, pid);
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.abort();
    }
    // Against both calm phases, so a drift over the run (a growing database) favours neither.
    let calm_mean = (calm.ordinary.durations.len() + after.ordinary.durations.len()) as f64 / 2.0;
    let kept = attacked.ordinary.durations.len() as f64 / calm_mean.max(1.0);
    println!(
        "under attack: {:.0} % of the calm phases' mean throughput",
        kept * 100.0
    );
}
