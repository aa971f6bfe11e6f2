//! Two unmodified OpenID Connect client libraries sign in through the real `qrlogin` binary:
//! Node's openid-client and Python's authlib (`tests/oidc-clients/`, installed pinned by its
//! `setup`). Each runs as a web app's server does; this test plays the user's browser (the
//! QR page, its redirects) and phone (a local account approving through the mobile API).
//!
//! Without the libraries installed, the tests say so and pass, unless
//! `QRLOGIN_REQUIRE_OIDC_CLIENTS=1` (as in CI), which makes a missing library a failure.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use qrlogin_testkit::free_port;
use serde_json::json;

use crate::helpers::{Phone, client};
use crate::oidc::{CALLBACK, signed_in_through_the_page};

const BYE: &str = "http://127.0.0.1:9/bye";

fn clients_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc-clients")
}

/// The library's runner and script, if it is installed.
fn library(name: &str) -> Option<(PathBuf, PathBuf)> {
    let dir = clients_dir();
    let (runner, script, installed) = match name {
        "openid-client" => (
            PathBuf::from("node"),
            dir.join("node/flow.mjs"),
            dir.join("node/node_modules/openid-client"),
        ),
        _ => {
            let python = dir.join("python/.venv/bin/python");
            (python.clone(), dir.join("python/flow.py"), python)
        }
    };
    if installed.exists() {
        return Some((runner, script));
    }
    assert!(
        std::env::var_os("QRLOGIN_REQUIRE_OIDC_CLIENTS").is_none(),
        "QRLOGIN_REQUIRE_OIDC_CLIENTS=1 but {name} is not installed: run tests/oidc-clients/setup"
    );
    eprintln!("NOTICE: {name} is not installed (tests/oidc-clients/setup); its sign-in is skipped");
    None
}

/// `qrlogin …` on `data_dir`'s embedded store, with `stdin`: its standard output.
fn qrlogin(data_dir: &Path, args: &[&str], stdin: &str) -> String {
    crate::cli::succeeded(&crate::cli::qrlogin(data_dir, args, stdin))
}

/// The binary, both services on the embedded store, with a web app and a user registered
/// by the command line first.
struct Provider {
    desktop: String,
    mobile: String,
    client_id: String,
    client_secret: String,
    _server: Child,
    _dir: tempfile::TempDir,
}

impl Provider {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let added = qrlogin(
            dir.path(),
            &[
                "clients",
                "add",
                "Space",
                "--redirect-uri",
                CALLBACK,
                "--post-logout-redirect-uri",
                BYE,
            ],
            "",
        );
        let field = |name: &str| {
            let line = added.lines().find_map(|l| l.strip_prefix(name));
            line.unwrap().trim().to_owned()
        };
        let (client_id, client_secret) = (field("client_id:"), field("api_key:"));
        qrlogin(
            dir.path(),
            &["users", "add", "erin", "--display-name", "Erin"],
            "correct horse battery\n",
        );
        let (desktop_port, mobile_port) = (free_port(), free_port());
        let desktop = format!("http://127.0.0.1:{desktop_port}");
        let mobile = format!("http://127.0.0.1:{mobile_port}");
        let server = Command::new(env!("CARGO_BIN_EXE_qrlogin"))
            .current_dir(dir.path())
            .env_clear()
            .env("DATA_DIR", dir.path())
            .env("BIND_ADDR", "127.0.0.1")
            .env("DESKTOP_PORT", desktop_port.to_string())
            .env("MOBILE_PORT", mobile_port.to_string())
            .env("METRICS_ADDR", format!("127.0.0.1:{}", free_port()))
            .env("DESKTOP_PUBLIC_URL", &desktop)
            .env("MOBILE_PUBLIC_URL", &mobile)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        qrlogin_testkit::end_with_this_process(&server);
        let provider = Self {
            desktop,
            mobile,
            client_id,
            client_secret,
            _server: server,
            _dir: dir,
        };
        provider.wait_until_ready().await;
        provider
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

    /// Erin's phone, signed in with her local account.
    async fn phone(&self) -> Phone {
        let phone = Phone {
            client: client(),
            base: self.mobile.clone(),
        };
        let login = phone.local_login("erin", "correct horse battery").await;
        assert_eq!(login.status(), 200);
        phone
    }
}

/// A library's script, talking line by line.
struct Script {
    child: Child,
    stdin: ChildStdin,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

impl Script {
    fn start(runner: &Path, script: &Path, provider: &Provider) -> Self {
        let mut child = Command::new(runner)
            .arg(script)
            .env("ISSUER", &provider.desktop)
            .env("CLIENT_ID", &provider.client_id)
            .env("CLIENT_SECRET", &provider.client_secret)
            .env("REDIRECT_URI", CALLBACK)
            .env("POST_LOGOUT_REDIRECT_URI", BYE)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        qrlogin_testkit::end_with_this_process(&child);
        let stdin = child.stdin.take().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Self {
            child,
            stdin,
            lines,
        }
    }

    /// The next line, which must start with `word`: the rest of it.
    fn expect(&mut self, word: &str) -> String {
        let line = self.lines.next().map(Result::unwrap);
        match line.as_deref().and_then(|l| l.strip_prefix(word)) {
            Some(rest) => rest.trim().to_owned(),
            None => {
                let status = self.child.wait().unwrap();
                panic!("expected {word}, the library said {line:?} and exited with {status}");
            }
        }
    }

    fn say(&mut self, line: &str) {
        writeln!(self.stdin, "{line}").unwrap();
    }

    /// Whether the script ended well, once it has nothing more to read.
    fn succeeded(mut self) -> bool {
        drop(self.stdin);
        self.child.wait().unwrap().success()
    }
}

/// The whole sign-in and sign-out of a web app built on `library`.
async fn signs_in_and_out_with(library_name: &str) {
    let Some((runner, script)) = library(library_name) else {
        return;
    };
    let provider = Provider::start().await;
    let phone = provider.phone().await;
    let mut app = Script::start(&runner, &script, &provider);
    let authorize = app.expect("AUTHORIZE");
    let back = signed_in_through_the_page(&provider.desktop, &authorize, &phone).await;
    app.say(&back);
    let logout = app.expect("LOGOUT");
    let signed_out = client().get(&logout).send().await.unwrap();
    assert_eq!(signed_out.status(), 303);
    assert_eq!(
        signed_out.headers()["location"],
        format!("{BYE}?state=signed-out").as_str()
    );
    app.say("SIGNED_OUT");
    let done: serde_json::Value = serde_json::from_str(&app.expect("DONE")).unwrap();
    assert_eq!(done, json!({ "sub": "local:erin", "name": "Erin" }));
    assert!(app.succeeded());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_openid_client_signs_in_and_out() {
    signs_in_and_out_with("openid-client").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pythons_authlib_signs_in_and_out() {
    signs_in_and_out_with("authlib").await;
}
