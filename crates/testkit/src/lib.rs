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
    /// Arguments beyond the defaults (cluster mode, TLS), kept for a restart.
    extra_args: Vec<String>,
    /// Speaks only TLS (on `port`).
    tls: bool,
    _dir: TempDir,
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl RedisServer {
    /// The server's process id (to read its CPU time from `/proc`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self) -> String {
        match self.tls {
            false => format!("redis://127.0.0.1:{}/", self.port),
            true => format!("rediss://localhost:{}/", self.port),
        }
    }

    /// Starts a private server, or returns `None` (with a notice) when `redis-server` is not
    /// installed — unless `QRLOGIN_REQUIRE_REDIS=1`, as CI sets, where that is a failure.
    /// It keeps an append-only file, so a restart (see [`RedisServer::restart`]) keeps the data.
    pub fn start() -> Option<Self> {
        Self::start_with(|_, _| Vec::new(), false)
    }

    /// A cluster node. Its cluster bus gets its own free port: the default, port + 10000,
    /// may be taken or past 65535 for an ephemeral port.
    fn start_cluster_node() -> Option<Self> {
        Self::start_with(
            |_, dir| {
                vec![
                    "--cluster-enabled".into(),
                    "yes".into(),
                    "--cluster-port".into(),
                    free_port().to_string(),
                    "--cluster-config-file".into(),
                    dir.join("nodes.conf").display().to_string(),
                ]
            },
            false,
        )
    }

    /// A server that speaks only TLS, with a certificate for `localhost` from a throwaway CA
    /// (made with the `openssl` command); also the CA's PEM, for a client to trust.
    pub fn start_tls() -> Option<(Self, Vec<u8>)> {
        let mut ca = Vec::new();
        let server = Self::start_with(
            |port, dir| {
                ca = make_certificates(dir);
                let file = |name: &str| dir.join(name).display().to_string();
                vec![
                    "--port".into(),
                    "0".into(),
                    "--tls-port".into(),
                    port.to_string(),
                    "--tls-cert-file".into(),
                    file("server.crt"),
                    "--tls-key-file".into(),
                    file("server.key"),
                    "--tls-ca-cert-file".into(),
                    file("ca.crt"),
                    "--tls-auth-clients".into(),
                    "no".into(),
                ]
            },
            true,
        )?;
        Some((server, ca))
    }

    fn start_with(
        extra_args: impl FnOnce(u16, &std::path::Path) -> Vec<String>,
        tls: bool,
    ) -> Option<Self> {
        let required = std::env::var("QRLOGIN_REQUIRE_REDIS").is_ok_and(|v| v == "1");
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("qrlogin-redis-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir for redis-server");
        let extra_args = extra_args(port, &dir);
        let child = match spawn(port, &dir, &extra_args) {
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
            extra_args,
            tls,
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
            spawn(self.port, &self._dir.0, &self.extra_args).expect("redis-server restarts");
        self.wait_until_ready();
    }

    /// How long each key whose name ends with `suffix` has left to live: for tests of what
    /// the store keeps, and for how long, on Redis's own clock.
    pub fn ttls_of_keys_ending(&self, suffix: &str) -> Vec<Duration> {
        let client = redis::Client::open(self.url()).expect("redis url");
        let mut connection = client.get_connection().expect("a connection");
        let keys: Vec<String> = redis::cmd("KEYS")
            .arg(format!("*{suffix}"))
            .query(&mut connection)
            .expect("KEYS");
        keys.iter()
            .map(|key| {
                let ms: i64 = redis::cmd("PTTL")
                    .arg(key)
                    .query(&mut connection)
                    .expect("PTTL");
                Duration::from_millis(u64::try_from(ms).unwrap_or(0))
            })
            .collect()
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
            // (A TLS server's certificate is not trusted here: that it listens is enough.)
            let ready = match self.tls {
                true => std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok(),
                false => client
                    .get_connection()
                    .and_then(|mut c| redis::cmd("PING").query::<String>(&mut c))
                    .is_ok(),
            };
            if ready {
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

fn spawn(port: u16, dir: &std::path::Path, extra_args: &[String]) -> std::io::Result<Child> {
    let child = Command::new("redis-server")
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
        // Later arguments win, so these may override the defaults above.
        .args(extra_args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    end_with_this_process(&child);
    Ok(child)
}

/// A CA and a certificate it signs for `localhost` and 127.0.0.1 (`server.crt`, `server.key`,
/// `ca.crt` in `dir`); the CA's PEM.
fn make_certificates(dir: &std::path::Path) -> Vec<u8> {
    let openssl = |args: &[&str]| {
        let done = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("the openssl command");
        assert!(
            done.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&done.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    openssl(
        &[
            &["req", "-x509"][..],
            &ec,
            &[
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
                "-subj",
                "/CN=qrlogin test CA",
                "-days",
                "2",
            ],
        ]
        .concat(),
    );
    openssl(
        &[
            &["req"][..],
            &ec,
            &[
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=localhost",
            ],
        ]
        .concat(),
    );
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write server.ext");
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ]);
    std::fs::read(dir.join("ca.crt")).expect("read ca.crt")
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
            .map(|_| RedisServer::start_cluster_node())
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

/// Makes sure `child` does not outlive this test process, however it ends (a shared server
/// held in a static is never dropped; a panic may skip a `Drop`): a shell watches this
/// process and kills the child once it is gone.
pub fn end_with_this_process(child: &Child) {
    let watch = format!(
        "while kill -0 {} 2>/dev/null; do sleep 1; done; kill -9 {} 2>/dev/null",
        std::process::id(),
        child.id()
    );
    let _ = Command::new("sh")
        .args(["-c", &watch])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

/// Commands the Redis server on `port` has processed so far, by command, as the server counts
/// them (`INFO commandstats`).
pub fn commands_processed(port: u16) -> std::collections::BTreeMap<String, u64> {
    let output = Command::new("redis-cli")
        .args(["-p", &port.to_string(), "INFO", "commandstats"])
        .output()
        .expect("redis-cli runs");
    // cmdstat_evalsha:calls=123,usec=...
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| {
            let (name, stats) = line.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = stats
                .strip_prefix("calls=")?
                .split(',')
                .next()?
                .parse()
                .ok()?;
            Some((name.to_owned(), calls))
        })
        .collect()
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

pub mod frames;
pub mod mentra;
pub mod mentra_cloud;
