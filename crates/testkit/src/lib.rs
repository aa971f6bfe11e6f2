//! Test support: a private `redis-server` per test binary, on a free loopback port, so tests
//! never depend on (or disturb) a Redis the machine happens to run.

#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::print_stderr,
    clippy::missing_panics_doc
)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub struct RedisServer {
    child: Child,
    pub port: u16,
    /// For a node of a Redis Cluster: its cluster bus port (its own free port: the default,
    /// port + 10000, may be taken or past 65535 for an ephemeral port).
    cluster_bus_port: Option<u16>,
    _dir: TempDir,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl RedisServer {
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Starts a private server, or returns `None` (with a notice) when `redis-server` is not
    /// installed — unless `QRLOGIN_REQUIRE_REDIS=1`, as CI sets, where that is a failure.
    /// It keeps an append-only file, so a restart (see [`RedisServer::restart`]) keeps the data.
    pub fn start() -> Option<Self> {
        Self::start_node(None)
    }

    fn start_node(cluster_bus_port: Option<u16>) -> Option<Self> {
        let required = std::env::var("QRLOGIN_REQUIRE_REDIS").is_ok_and(|v| v == "1");
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("qrlogin-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir for redis-server");
        let child = match spawn(port, &dir, cluster_bus_port) {
            Ok(child) => child,
            Err(error) if !required => {
                eprintln!(
                    "NOTICE: redis-server is not available ({error}); Redis tests are skipped. Set QRLOGIN_REQUIRE_REDIS=1 to fail instead."
                );
                return None;
            }
            Err(error) => panic!("QRLOGIN_REQUIRE_REDIS=1 but redis-server cannot start: {error}"),
        };
        let server = Self {
            child,
            port,
            cluster_bus_port,
            _dir: TempDir(dir),
        };
        server.wait_until_ready();
        Some(server)
    }

    /// Stops the server and starts it again on the same port with the same data, as an
    /// operator's restart (or a crash and recovery) would.
    pub fn restart(&mut self) {
        self.stop();
        self.start_again();
    }

    /// Starts a stopped server again, on the same port with the same data.
    pub fn start_again(&mut self) {
        self.child =
            spawn(self.port, &self._dir.0, self.cluster_bus_port).expect("redis-server restarts");
        self.wait_until_ready();
    }

    /// One server for the whole test binary, started on first use.
    pub fn shared() -> Option<&'static RedisServer> {
        static SERVER: OnceLock<Option<RedisServer>> = OnceLock::new();
        SERVER.get_or_init(Self::start).as_ref()
    }

    fn wait_until_ready(&self) {
        let client = redis::Client::open(self.url()).expect("redis url");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(mut c) = client.get_connection()
                && redis::cmd("PING").query::<String>(&mut c).is_ok()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer within 10 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops the server, to test what happens when Redis goes away.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn spawn(
    port: u16,
    dir: &std::path::Path,
    cluster_bus_port: Option<u16>,
) -> std::io::Result<Child> {
    let mut command = Command::new("redis-server");
    if let Some(bus_port) = cluster_bus_port {
        let bus_port = bus_port.to_string();
        command.args(["--cluster-enabled", "yes", "--cluster-port", &bus_port]);
        command
            .arg("--cluster-config-file")
            .arg(dir.join("nodes.conf"));
    }
    command
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
        ])
        .arg("--dir")
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
}

/// A local Redis Cluster: three primaries (no replicas) joined by `redis-cli --cluster create`,
/// the 16384 hash slots split between them, as an operator would build one.
pub struct RedisCluster {
    pub nodes: Vec<RedisServer>,
}

impl RedisCluster {
    /// `None` (with a notice) when `redis-server` is not installed, unless
    /// `QRLOGIN_REQUIRE_REDIS=1`.
    pub fn start() -> Option<Self> {
        let nodes: Vec<RedisServer> = (0..3)
            .map(|_| RedisServer::start_node(Some(free_port())))
            .collect::<Option<_>>()?;
        let addresses: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .output()
            .expect("redis-cli (from redis-tools) creates the cluster");
        assert!(
            created.status.success(),
            "redis-cli --cluster create failed: {}",
            String::from_utf8_lossy(&created.stderr)
        );
        let cluster = Self { nodes };
        cluster.wait_until_every_node_agrees();
        Some(cluster)
    }

    /// One cluster for the whole test binary, started on first use.
    pub fn shared() -> Option<&'static RedisCluster> {
        static CLUSTER: OnceLock<Option<RedisCluster>> = OnceLock::new();
        CLUSTER.get_or_init(Self::start).as_ref()
    }

    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(RedisServer::url).collect()
    }

    /// The nodes learn of each other over the cluster bus after `create` returns; until each
    /// reports `cluster_state:ok` a command may meet `CLUSTERDOWN`.
    fn wait_until_every_node_agrees(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        for node in &self.nodes {
            let client = redis::Client::open(node.url()).expect("redis url");
            loop {
                let info: Option<String> = client
                    .get_connection()
                    .and_then(|mut c| redis::cmd("CLUSTER").arg("INFO").query(&mut c))
                    .ok();
                if info.is_some_and(|info| info.contains("cluster_state:ok")) {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "the Redis Cluster did not become ready within 20 s"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
}

/// A port that was free a moment ago on loopback.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A key prefix no other test uses, so tests can share one server.
pub fn unique_prefix() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "test{}-{}:",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

pub mod mentra;
