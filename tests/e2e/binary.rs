//! The real `qrlogin` binary, both services in one process, on the embedded store or on a
//! Redis of its own: for the tests that drive it from outside (client libraries, fuzzers).

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use qrlogin_testkit::{RedisServer, free_port};

use crate::helpers::{Phone, client};

/// Where the binary keeps its state.
pub enum Store {
    Embedded,
    /// A `redis-server` of the test's own (`None` from `start` when there is none).
    Redis,
}

pub struct RunningBinary {
    pub desktop: String,
    pub mobile: String,
    redis: Option<RedisServer>,
    dir: tempfile::TempDir,
    _server: Option<Child>,
}

impl RunningBinary {
    /// The store, with `prepare` run on it by the command line, then the binary serving it.
    /// `None` when Redis is asked for and missing (allowed only without
    /// `QRLOGIN_REQUIRE_REDIS`).
    pub async fn start(store: Store, prepare: impl FnOnce(&Self)) -> Option<Self> {
        let redis = match store {
            Store::Embedded => None,
            Store::Redis => Some(RedisServer::start()?),
        };
        let mut binary = Self {
            desktop: String::new(),
            mobile: String::new(),
            redis,
            dir: tempfile::tempdir().unwrap(),
            _server: None,
        };
        prepare(&binary);
        let (desktop_port, mobile_port) = (free_port(), free_port());
        binary.desktop = format!("http://127.0.0.1:{desktop_port}");
        binary.mobile = format!("http://127.0.0.1:{mobile_port}");
        let server = binary
            .command()
            .env("BIND_ADDR", "127.0.0.1")
            .env("DESKTOP_PORT", desktop_port.to_string())
            .env("MOBILE_PORT", mobile_port.to_string())
            .env("METRICS_ADDR", format!("127.0.0.1:{}", free_port()))
            .env("DESKTOP_PUBLIC_URL", &binary.desktop)
            .env("MOBILE_PUBLIC_URL", &binary.mobile)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        qrlogin_testkit::end_with_this_process(&server);
        binary._server = Some(server);
        binary.wait_until_ready().await;
        Some(binary)
    }

    /// `qrlogin` on this store, with nothing else of the caller's environment.
    fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_qrlogin"));
        command
            .current_dir(self.dir.path()) // no stray .env
            .env_clear()
            .env("DATA_DIR", self.dir.path());
        if let Some(redis) = &self.redis {
            command.env("REDIS_URL", redis.url());
        }
        command
    }

    /// `qrlogin args…` on this store, `stdin` typed in: its standard output.
    pub fn cli(&self, args: &[&str], stdin: &str) -> String {
        let output = crate::cli::typed_into(self.command().args(args), stdin);
        crate::cli::succeeded(&output)
    }

    async fn wait_until_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        for base in [&self.desktop, &self.mobile] {
            while !client()
                .get(format!("{base}/readyz"))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
            {
                assert!(Instant::now() < deadline, "{base} never became ready");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }

    /// A phone signed in with the local account `username` (whose password is `password`).
    pub async fn phone(&self, username: &str, password: &str) -> Phone {
        let phone = Phone {
            client: client(),
            base: self.mobile.clone(),
        };
        let login = phone.local_login(username, password).await;
        assert_eq!(login.status(), 200);
        phone
    }
}
