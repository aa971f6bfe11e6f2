//! The services under test as processes of their own, started from release binaries the way an
//! operator runs them: `qrlogin` (both services on the embedded store), or `qrlogin-desktop`
//! and `qrlogin-mobile` sharing Redis. Shared by the examples that measure real instances.
// Not every example that includes this file uses all of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use qrlogin_testkit::free_port;
use qrlogin_testkit::mentra::{API_KEY, FakeMentraCloud, PACKAGE_NAME, signing_key};

/// Where the services keep their state.
#[derive(Clone)]
pub enum Deployment {
    /// `qrlogin`: one process, both services, SQLite in a temporary data directory.
    Embedded,
    /// `qrlogin-desktop` and `qrlogin-mobile`, two processes sharing Redis through this
    /// variable (`REDIS_URL` or `REDIS_CLUSTER_URLS`) and value.
    Shared {
        variable: &'static str,
        value: String,
    },
}

/// One server process of the instance.
pub struct Process {
    pub name: &'static str,
    child: Child,
    /// Its own `/metrics` (`METRICS_ADDR`), on loopback.
    pub metrics: String,
}

impl Process {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// The instance under test, ended with the benchmark.
pub struct Instance {
    pub processes: Vec<Process>,
    pub desktop: String,
    pub mobile: String,
    /// Every variable the processes were started with (for the command line tool).
    env: Vec<(String, String)>,
    bin_dir: PathBuf,
    dir: tempfile::TempDir,
}

impl Drop for Instance {
    fn drop(&mut self) {
        for process in &mut self.processes {
            let _ = process.child.kill();
            let _ = process.child.wait();
        }
    }
}

impl Instance {
    /// Starts the binaries in `bin_dir` with the fake MentraOS cloud and `extra` settings
    /// (which win over the defaults here), and waits until both services answer.
    pub async fn start(
        bin_dir: &Path,
        deployment: &Deployment,
        cloud: &FakeMentraCloud,
        extra: &[(&str, &str)],
    ) -> Self {
        // Absolute: the children start in their data directory.
        let bin_dir = std::fs::canonicalize(bin_dir).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run `cargo build --release` first)",
                bin_dir.display()
            )
        });
        let dir = tempfile::tempdir().unwrap();
        let (desktop_port, mobile_port) = (free_port(), free_port());
        let desktop = format!("http://127.0.0.1:{desktop_port}");
        let mobile = format!("http://127.0.0.1:{mobile_port}");
        let mut env: Vec<(String, String)> = [
            ("DATA_DIR", dir.path().to_str().unwrap()),
            ("BIND_ADDR", "127.0.0.1"),
            ("DESKTOP_PORT", &desktop_port.to_string()),
            ("MOBILE_PORT", &mobile_port.to_string()),
            ("DESKTOP_PUBLIC_URL", &desktop),
            ("MOBILE_PUBLIC_URL", &mobile),
            ("PACKAGE_NAME", PACKAGE_NAME),
            ("MENTRAOS_API_KEY", API_KEY),
            ("MENTRAOS_CLOUD_URL", &cloud.url()),
            ("MENTRAOS_USER_TOKEN_PUBLIC_KEY", &signing_key().public_pem),
            ("RUST_LOG", "error"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        if let Deployment::Shared { variable, value } = deployment {
            env.push(((*variable).to_owned(), value.clone()));
        }
        for (name, value) in extra {
            env.retain(|(k, _)| k != name);
            env.push(((*name).to_owned(), (*value).to_owned()));
        }
        let binaries: &[&'static str] = match deployment {
            Deployment::Embedded => &["qrlogin"],
            Deployment::Shared { .. } => &["qrlogin-desktop", "qrlogin-mobile"],
        };
        let processes = binaries
            .iter()
            .map(|name| spawn(&bin_dir, name, &env, dir.path()))
            .collect();
        let instance = Self {
            processes,
            desktop,
            mobile,
            env,
            bin_dir,
            dir,
        };
        for service in [&instance.desktop, &instance.mobile] {
            instance.wait_until_ready(service).await;
        }
        instance
    }

    async fn wait_until_ready(&self, service: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while reqwest::get(format!("{service}/readyz")).await.is_err() {
            assert!(Instant::now() < deadline, "{service} did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Runs `qrlogin ARGS` against the instance's store, `input` on its standard input.
    pub fn command_line(&self, args: &[&str], input: &str) {
        use std::io::Write;
        let mut child = Command::new(self.bin_dir.join("qrlogin"))
            .current_dir(self.dir.path())
            .env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("the qrlogin binary runs");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        assert!(child.wait().unwrap().success(), "qrlogin {args:?} failed");
    }
}

/// A browser or phone: cookies kept, redirects not followed.
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn spawn(bin_dir: &Path, name: &'static str, env: &[(String, String)], dir: &Path) -> Process {
    let metrics = format!("127.0.0.1:{}", free_port());
    let binary = bin_dir.join(name);
    let child = Command::new(&binary)
        .current_dir(dir)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env("METRICS_ADDR", &metrics)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", binary.display()));
    qrlogin_testkit::end_with_this_process(&child);
    Process {
        name,
        child,
        metrics: format!("http://{metrics}/metrics"),
    }
}
