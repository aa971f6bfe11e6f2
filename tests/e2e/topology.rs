//! The Compose topology, reproduced on this machine from the same files: Debian's nginx run
//! with `deploy/nginx/nginx.conf` (only its listen ports and its upstream list swapped for
//! local ones) in front of two desktop and two mobile processes (`qrlogin desktop|mobile`,
//! the code of `qrlogin-desktop|-mobile`) on a private Redis or a three-node Redis Cluster.
//! Every step of every sign-in goes through nginx, which spreads them round-robin: no
//! instance is chosen by the test and none is sticky.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use qrlogin_testkit::mentra::{API_KEY, FakeMentraCloud, PACKAGE_NAME, signing_key};
use qrlogin_testkit::{RedisCluster, RedisServer, free_port};
use serde_json::Value;

use crate::helpers::{Created, Events, Phone, Screen, client};
use crate::metrics::scrape;

const SIGN_INS: usize = 500;
/// Screens signing in at once (each with its own phone).
const CONCURRENCY: usize = 50;
/// The longest a request may take to say the store is unreachable.
const FAIL_FAST: Duration = Duration::from_secs(5);

/// Where the processes find Redis.
enum Store {
    Server(RedisServer),
    Cluster(&'static RedisCluster),
}

impl Store {
    fn vars(&self) -> (&'static str, String) {
        match self {
            Store::Server(server) => ("REDIS_URL", server.url()),
            Store::Cluster(cluster) => ("REDIS_CLUSTER_URLS", cluster.urls().join(",")),
        }
    }
}

struct Replica {
    role: &'static str,
    port: u16,
    metrics_port: u16,
    child: Child,
    log: PathBuf,
}

impl Replica {
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What the process logged, for a failure message.
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let start = log.len().saturating_sub(3000);
        log.get(start..).unwrap_or_default().to_owned()
    }

    fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// As the orchestrator stops a container.
    fn terminate(&self) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
    }
}

struct Topology {
    desktop: String,
    mobile: String,
    replicas: Vec<Replica>,
    nginx: Child,
    cloud: FakeMentraCloud,
    store: Store,
    dir: tempfile::TempDir,
}

impl Drop for Topology {
    fn drop(&mut self) {
        for replica in &mut self.replicas {
            let _ = replica.child.kill();
            let _ = replica.child.wait();
        }
        let _ = self.nginx.kill();
        let _ = self.nginx.wait();
    }
}

fn nginx_binary() -> Option<&'static str> {
    let required = std::env::var("QRLOGIN_REQUIRE_NGINX").is_ok_and(|v| v == "1");
    let path = "/usr/sbin/nginx";
    if Path::new(path).exists() {
        return Some(path);
    }
    assert!(
        !required,
        "QRLOGIN_REQUIRE_NGINX=1 but {path} is missing (apt-get install nginx)"
    );
    eprintln!(
        "NOTICE: nginx is not installed; the load-balancer topology tests are skipped. Set QRLOGIN_REQUIRE_NGINX=1 to fail instead."
    );
    None
}

impl Topology {
    /// `None` when nginx or Redis is missing (and not required).
    async fn start(store: Option<Store>) -> Option<Self> {
        let nginx = nginx_binary()?;
        let store = store?;
        let dir = tempfile::tempdir().unwrap();
        let cloud = FakeMentraCloud::start().await;
        let (desktop_port, mobile_port) = (free_port(), free_port());
        let desktop = format!("http://127.0.0.1:{desktop_port}");
        let mobile = format!("http://127.0.0.1:{mobile_port}");
        let (redis_var, redis_value) = store.vars();
        let spawn = |role: &'static str, index: usize| {
            let (port, metrics_port) = (free_port(), free_port());
            let log = dir.path().join(format!("{role}-{index}.log"));
            let output = std::fs::File::create(&log).unwrap();
            let child = Command::new(env!("CARGO_BIN_EXE_qrlogin"))
                .arg(role)
                .current_dir(dir.path()) // no stray .env
                .env_clear()
                .env(redis_var, &redis_value)
                .env("BIND_ADDR", "127.0.0.1")
                .env("DESKTOP_PORT", port.to_string())
                .env("MOBILE_PORT", port.to_string())
                .env("METRICS_ADDR", format!("127.0.0.1:{metrics_port}"))
                .env("DESKTOP_PUBLIC_URL", &desktop)
                .env("MOBILE_PUBLIC_URL", &mobile)
                .env("TRUST_PROXY", "127.0.0.1")
                .env("PACKAGE_NAME", PACKAGE_NAME)
                .env("MENTRAOS_API_KEY", API_KEY)
                .env("MENTRAOS_CLOUD_URL", cloud.url())
                .env("MENTRAOS_USER_TOKEN_PUBLIC_KEY", &signing_key().public_pem)
                // Every test client is 127.0.0.1, and phones sign in over and over.
                .env("RATE_LIMIT_CREATE_PER_IP", "100000/1m")
                .env("RATE_LIMIT_SCAN_PER_IP", "100000/1m")
                .env("RATE_LIMIT_SCAN_PER_USER", "100000/1m")
                .env("RATE_LIMIT_WEBVIEW_PER_IP", "100000/1m")
                // Every page of these tests comes from 127.0.0.1.
                .env("WEBSOCKETS_PER_IP", "100000")
                .env("SHUTDOWN_DRAIN", "1s")
                .env("RUST_LOG", "warn")
                .env("LOG_FORMAT", "json")
                .stdin(Stdio::null())
                .stdout(output.try_clone().unwrap())
                .stderr(output)
                .spawn()
                .unwrap();
            qrlogin_testkit::end_with_this_process(&child);
            Replica {
                role,
                port,
                metrics_port,
                child,
                log,
            }
        };
        let replicas = vec![
            spawn("desktop", 0),
            spawn("desktop", 1),
            spawn("mobile", 0),
            spawn("mobile", 1),
        ];
        let nginx = start_nginx(nginx, dir.path(), desktop_port, mobile_port, &replicas);
        let mut topology = Self {
            desktop,
            mobile,
            replicas,
            nginx,
            cloud,
            store,
            dir,
        };
        topology.wait_until_ready().await;
        Some(topology)
    }

    async fn wait_until_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut urls: Vec<String> = self.replicas.iter().map(Replica::url).collect();
        urls.push(self.desktop.clone());
        urls.push(self.mobile.clone());
        for url in urls {
            loop {
                let answer = match client().get(format!("{url}/readyz")).send().await {
                    Ok(r) if r.status() == 200 => break,
                    Ok(r) => format!("{}: {}", r.status(), r.text().await.unwrap_or_default()),
                    Err(error) => error.to_string(),
                };
                for replica in &mut self.replicas {
                    assert!(
                        replica.is_running(),
                        "{} {} exited:\n{}",
                        replica.role,
                        replica.port,
                        replica.log_tail()
                    );
                }
                assert!(
                    Instant::now() < deadline,
                    "{url} not ready within 60 s; it last answered {answer}\n{}",
                    self.logs()
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    /// Every replica's recent log and nginx's, for a failure message.
    fn logs(&self) -> String {
        let nginx = std::fs::read_to_string(self.dir.path().join("nginx.log")).unwrap_or_default();
        self.replicas
            .iter()
            .map(|r| format!("--- {} {}:\n{}", r.role, r.port, r.log_tail()))
            .chain([format!("--- nginx:\n{nginx}")])
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn screen(&self) -> Screen {
        Screen {
            client: client(),
            base: self.desktop.clone(),
        }
    }

    /// A phone signed in through the MentraOS webview, by way of nginx.
    async fn phone(&self, user_id: &str) -> Phone {
        Phone::signed_in_through_webview(&self.cloud, &self.mobile, user_id).await
    }

    async fn phones(&self, count: usize) -> Vec<Phone> {
        join_all(
            (0..count).map(|i| async move { self.phone(&format!("user{i}@example.com")).await }),
        )
        .await
    }

    /// Requests each replica answered, from its own `/metrics` (read directly, not through
    /// nginx, which refuses `/metrics`).
    async fn requests_served(&self) -> Vec<(String, f64)> {
        let mut served = Vec::new();
        for replica in &self.replicas {
            let text = scrape(&format!("http://127.0.0.1:{}", replica.metrics_port)).await;
            let total: f64 = text
                .lines()
                .filter(|l| l.starts_with("qrlogin_http_requests_total{"))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum();
            served.push((format!("{} :{}", replica.role, replica.port), total));
        }
        served
    }
}

/// nginx with the shipped config: only `listen 98;`/`listen 96;` and `upstreams.conf` differ.
fn start_nginx(
    binary: &str,
    dir: &Path,
    desktop_port: u16,
    mobile_port: u16,
    replicas: &[Replica],
) -> Child {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/nginx/nginx.conf");
    let config = std::fs::read_to_string(shipped).unwrap();
    assert!(config.contains("listen 98;") && config.contains("listen 96;"));
    let config = config
        .replace("listen 98;", &format!("listen 127.0.0.1:{desktop_port};"))
        .replace("listen 96;", &format!("listen 127.0.0.1:{mobile_port};"));
    let group = |role: &str| {
        replicas
            .iter()
            .filter(|r| r.role == role)
            .map(|r| {
                format!(
                    "    server 127.0.0.1:{} max_fails=1 fail_timeout=5s;\n",
                    r.port
                )
            })
            .collect::<String>()
    };
    // A fixed list instead of Docker's DNS: blocks that the variables name, as the shipped
    // upstreams.conf describes for other setups.
    let upstreams = format!(
        "upstream desktop_servers {{\n{}    keepalive 32;\n}}\nupstream mobile_servers {{\n{}    keepalive 32;\n}}\n\
         map $host $qrlogin_desktop {{ default desktop_servers; }}\n\
         map $host $qrlogin_mobile {{ default mobile_servers; }}\n",
        group("desktop"),
        group("mobile")
    );
    let conf_dir = dir.join("nginx");
    std::fs::create_dir_all(&conf_dir).unwrap();
    std::fs::write(conf_dir.join("nginx.conf"), config).unwrap();
    std::fs::write(conf_dir.join("upstreams.conf"), upstreams).unwrap();
    let log = std::fs::File::create(dir.join("nginx.log")).unwrap();
    let nginx = Command::new(binary)
        .arg("-p")
        .arg(&conf_dir)
        .arg("-c")
        .arg(conf_dir.join("nginx.conf"))
        .arg("-g")
        .arg(format!(
            // One process, so stopping it stops nginx (a killed master leaves its workers).
            "daemon off; master_process off; pid {};",
            conf_dir.join("nginx.pid").display()
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap();
    qrlogin_testkit::end_with_this_process(&nginx);
    nginx
}

/// One whole sign-in through nginx: create, open the page's socket, scan, approve, hear the
/// approval, redeem, and be signed in.
async fn sign_in(topology: &Topology, phone: &Phone) {
    let screen = topology.screen();
    let created = screen.create().await;
    let mut events = screen.events(&created).await;
    assert_eq!(events.next_state().await.unwrap()["state"], "pending");
    assert_eq!(phone.scan_id(&created.id).await.status(), 200);
    assert_eq!(phone.decide(&created.id, "approve").await.status(), 200);
    wait_for_state(&mut events, "approved").await;
    assert_eq!(screen.redeem(&created).await.status(), 200);
    assert_eq!(screen.me().await.status(), 200);
}

/// A page that reconnects whenever its socket is closed (a draining instance closes it with
/// 1012) until it hears `wanted`, which a new socket reports at once if it is current.
async fn hear(screen: &Screen, created: &Created, wanted: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let mut events = screen.events(created).await;
        while let Some(state) = events.next_state().await {
            if state["state"] == wanted {
                return;
            }
        }
        assert!(Instant::now() < deadline, "never heard {wanted}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn wait_for_state(events: &mut Events, wanted: &str) {
    loop {
        let state = events.next_state().await.expect("the page hears");
        if state["state"] == wanted {
            return;
        }
        assert!(
            ["pending", "claimed"].contains(&state["state"].as_str().unwrap_or_default()),
            "unexpected {state}"
        );
    }
}

/// `count` sign-ins, `CONCURRENCY` at a time; how many completed.
async fn run_sign_ins(topology: &Topology, phones: &[Phone], count: usize) -> usize {
    let per_phone = count.div_ceil(phones.len());
    let done = std::sync::atomic::AtomicUsize::new(0);
    join_all(phones.iter().enumerate().map(|(i, phone)| {
        let done = &done;
        async move {
            for n in 0..per_phone {
                if i * per_phone + n < count {
                    sign_in(topology, phone).await;
                    done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            }
        }
    }))
    .await;
    done.into_inner()
}

async fn five_hundred_sign_ins_through_nginx(store: Option<Store>) {
    let Some(topology) = Topology::start(store).await else {
        return;
    };
    let phones = topology.phones(CONCURRENCY).await;
    let started = Instant::now();
    let completed = run_sign_ins(&topology, &phones, SIGN_INS).await;
    eprintln!(
        "{SIGN_INS} sign-ins through nginx in {:?}",
        started.elapsed()
    );
    assert_eq!(completed, SIGN_INS, "every sign-in completed, none lost");
    // Round-robin spread every kind of step over every replica.
    let served = topology.requests_served().await;
    eprintln!("requests per replica: {served:?}");
    for (replica, requests) in &served {
        assert!(
            *requests >= (SIGN_INS / 4) as f64,
            "{replica} served {requests} requests: {served:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_sign_ins_through_nginx_on_redis_none_lost() {
    five_hundred_sign_ins_through_nginx(RedisServer::start().map(Store::Server)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_sign_ins_through_nginx_on_a_redis_cluster_none_lost() {
    five_hundred_sign_ins_through_nginx(RedisCluster::shared().map(Store::Cluster)).await;
}

/// Redis stopped for 5 s in the middle of a run: every request meanwhile is answered 503
/// `unavailable` fast; once it is back, pages that were waiting get their result and new
/// sign-ins succeed, with no process restarted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_for_five_seconds_mid_run_fails_fast_then_heals() {
    let Some(mut topology) = Topology::start(RedisServer::start().map(Store::Server)).await else {
        return;
    };
    let phones = topology.phones(20).await;
    // Twenty pages wait, each claimed by its phone, when Redis goes away.
    let mut waiting: Vec<(Screen, Created, Events)> = Vec::new();
    for phone in &phones {
        let screen = topology.screen();
        let created = screen.create().await;
        let mut events = screen.events(&created).await;
        assert_eq!(events.next_state().await.unwrap()["state"], "pending");
        assert_eq!(phone.scan_id(&created.id).await.status(), 200);
        wait_for_state(&mut events, "claimed").await;
        waiting.push((screen, created, events));
    }

    // Screens keep asking for QR codes throughout, as a busy site's would.
    let (stop_probing, mut probing) = tokio::sync::watch::channel(false);
    let (created_tx, mut created) = tokio::sync::watch::channel(0usize);
    let desktop = topology.desktop.clone();
    let prober = tokio::spawn(async move {
        let mut answers: Vec<(u16, Duration)> = Vec::new();
        while !*probing.borrow_and_update() {
            let started = Instant::now();
            let response = client()
                .post(format!("{desktop}/api/login-requests"))
                .json(&serde_json::json!({}))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            if status == 503 {
                let body: Value = response.json().await.unwrap();
                assert_eq!(body["error"], "unavailable", "{body}");
            }
            answers.push((status, started.elapsed()));
            if status == 201 {
                created_tx.send_modify(|n| *n += 1);
            }
            let _ = tokio::time::timeout(Duration::from_millis(50), probing.changed()).await;
        }
        answers
    });

    // Redis goes away while requests are flowing.
    created.wait_for(|n| *n >= 3).await.unwrap();
    let Store::Server(redis) = &mut topology.store else {
        unreachable!()
    };
    redis.stop();
    // The outage itself: this sleep is the scenario, not a wait for a condition.
    tokio::time::sleep(Duration::from_secs(5)).await;
    redis.start_again();
    // The screens' retries (their pages do the same after a 503) go through again.
    let healed = Instant::now();
    loop {
        let created = client()
            .post(format!("{}/api/login-requests", topology.desktop))
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        if created.status() == 201 {
            break;
        }
        assert!(
            healed.elapsed() < Duration::from_secs(15),
            "still {} after 15 s",
            created.status()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "creating worked again {:?} after Redis returned",
        healed.elapsed()
    );
    stop_probing.send_replace(true);
    let answers = prober.await.unwrap();
    let refused: Vec<_> = answers.iter().filter(|(s, _)| *s == 503).collect();
    eprintln!(
        "during the outage: {} requests answered 503, the slowest in {:?}",
        refused.len(),
        refused.iter().map(|(_, took)| *took).max()
    );
    assert!(!refused.is_empty(), "the outage was noticed: {answers:?}");
    for (status, took) in &answers {
        assert!(
            *status == 201 || *status == 503,
            "only created or unavailable: {answers:?}"
        );
        assert!(*took < FAIL_FAST, "an answer took {took:?}: {answers:?}");
    }

    // The phones decide now; each waiting page hears it and signs in.
    for ((screen, created, events), phone) in waiting.iter_mut().zip(&phones) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let status = phone.decide(&created.id, "approve").await.status();
            if status == 200 {
                break;
            }
            assert_eq!(status, 503, "approving after the outage");
            assert!(
                Instant::now() < deadline,
                "approve still failing after 15 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        wait_for_state(events, "approved").await;
        assert_eq!(screen.redeem(created).await.status(), 200);
        assert_eq!(screen.me().await.status(), 200);
    }
    // And new sign-ins go through, every step on whichever instance nginx picks.
    assert_eq!(run_sign_ins(&topology, &phones, 100).await, 100);
    for replica in &mut topology.replicas {
        assert!(replica.is_running(), "{} was not restarted", replica.role);
    }
}

/// SIGTERM to one desktop process while 100 pages wait on it: each page is told to
/// reconnect (1012), does so through nginx (which stops sending it to the draining process
/// once it refuses connections), and completes its sign-in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_to_a_desktop_process_while_100_pages_wait_loses_none() {
    let Some(mut topology) = Topology::start(RedisServer::start().map(Store::Server)).await else {
        return;
    };
    let target = topology.replicas[0].url();
    let phones = topology.phones(10).await;
    // 100 pages with their sockets on the process that will stop (the socket is opened
    // directly there: which process nginx picks is its business).
    let mut pages = Vec::new();
    for _ in 0..100 {
        let screen = topology.screen();
        let created = screen.create().await;
        let mut events = screen.on(&target).events(&created).await;
        assert_eq!(events.next_state().await.unwrap()["state"], "pending");
        pages.push((screen, created, events));
    }
    topology.replicas[0].terminate();
    for (_, _, events) in &mut pages {
        assert_eq!(events.close_code().await, Some(1012), "told to reconnect");
    }
    join_all(
        pages
            .into_iter()
            .enumerate()
            .map(|(i, (screen, created, _))| {
                let phone = &phones[i % phones.len()];
                async move {
                    // As desktop.js does: reconnect through nginx and carry on from the current state.
                    hear(&screen, &created, "pending").await;
                    assert_eq!(phone.scan_id(&created.id).await.status(), 200);
                    assert_eq!(phone.decide(&created.id, "approve").await.status(), 200);
                    hear(&screen, &created, "approved").await;
                    assert_eq!(screen.redeem(&created).await.status(), 200);
                    assert_eq!(screen.me().await.status(), 200);
                }
            }),
    )
    .await;
    // The process drained and exited by itself, within its bounds.
    let deadline = Instant::now() + Duration::from_secs(15);
    while topology.replicas[0].is_running() {
        assert!(
            Instant::now() < deadline,
            "the stopped process is still running"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
