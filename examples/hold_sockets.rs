//! How many waiting pages one desktop instance holds, and at what cost: opens N screens'
//! WebSockets (each on its own login request) against a running desktop service, keeps them
//! open and answering pings for a while, and reads the server's memory and CPU from /proc.
//!
//! Start a desktop instance (release build) on its own Redis, with room for one IP's
//! requests and sockets and QR codes that outlive the run, then point this at it:
//!
//! ```sh
//! redis-server --port 6390 --save '' &
//! REDIS_URL=redis://127.0.0.1:6390 QR_TTL=10m RATE_LIMIT_CREATE_PER_IP=1000000/1s \
//!   WEBSOCKETS_PER_IP=1000000 DESKTOP_PORT=8098 target/release/qrlogin desktop &
//! cargo run --release --example hold_sockets -- --desktop http://127.0.0.1:8098 \
//!   --pid $(pgrep -f 'qrlogin desktop') --sockets 10000 --hold 60
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[path = "support/options.rs"]
mod options;
use options::{number, value};
#[path = "support/process.rs"]
mod process;
use process::{cpu_ticks, rss_kib};

/// Creates a login request and opens its page's socket; a task then keeps reading it (so
/// pings are answered) and counts the socket as closed if the server ever closes it.
async fn open_page(client: &reqwest::Client, desktop: &str, closed: Arc<AtomicUsize>) {
    let created: Value = client
        .post(format!("{desktop}/api/login-requests"))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().expect("a login request");
    let mut request = format!(
        "{}/api/login-requests/{id}/events",
        desktop.replace("http", "ws")
    )
    .into_client_request()
    .unwrap();
    request.headers_mut().insert(
        "x-desktop-secret",
        created["desktop_secret"].as_str().unwrap().parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let first = socket.next().await.unwrap().unwrap();
    assert!(
        matches!(first, Message::Text(_)),
        "the page hears its state"
    );
    tokio::spawn(async move {
        while let Some(Ok(message)) = socket.next().await {
            if matches!(message, Message::Close(_)) {
                break;
            }
        }
        closed.fetch_add(1, Ordering::SeqCst);
    });
}

#[tokio::main]
async fn main() {
    let desktop = value("--desktop").expect("--desktop URL");
    let pid: u32 = value("--pid").expect("--pid PID").parse().unwrap();
    let sockets = number("--sockets", 1000);
    let hold = Duration::from_secs(number("--hold", 60));
    let client = reqwest::Client::new();
    let closed = Arc::new(AtomicUsize::new(0));

    let rss_before = rss_kib(pid);
    let started = Instant::now();
    let mut opening = FuturesUnordered::new();
    let mut opened = 0;
    while opened < sockets {
        // At most 100 handshakes in flight.
        while opening.len() < 100 && opened + opening.len() < sockets {
            opening.push(open_page(&client, &desktop, Arc::clone(&closed)));
        }
        opening.next().await;
        opened += 1;
    }
    let open_time = started.elapsed();
    let rss_open = rss_kib(pid);

    let ticks_before = cpu_ticks(pid);
    tokio::time::sleep(hold).await;
    let ticks_used = cpu_ticks(pid) - ticks_before;
    let rss_after = rss_kib(pid);
    // Linux's USER_HZ is 100 on every platform Rust targets here.
    let cpu_percent = ticks_used as f64 / hold.as_secs_f64();
    println!(
        "sockets={sockets} opened in {:.1}s ({:.0}/s); server RSS {} → {} KiB ({:.1} KiB per socket), {} KiB after {}s; server CPU while holding {:.1}% of a core; closed by the server: {}",
        open_time.as_secs_f64(),
        sockets as f64 / open_time.as_secs_f64(),
        rss_before,
        rss_open,
        (rss_open.saturating_sub(rss_before)) as f64 / sockets as f64,
        rss_after,
        hold.as_secs(),
        cpu_percent,
        closed.load(Ordering::SeqCst),
    );
}
