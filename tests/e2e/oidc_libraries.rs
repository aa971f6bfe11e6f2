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

use serde_json::json;

use crate::binary::{RunningBinary, Store};
use crate::helpers::client;
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

const PASSWORD: &str = "correct horse battery";

/// The binary on its embedded store, with a web app and a user registered by the command
/// line first.
struct Provider {
    binary: RunningBinary,
    client_id: String,
    client_secret: String,
}

impl Provider {
    async fn start() -> Self {
        let mut registered = String::new();
        let binary = RunningBinary::start(Store::Embedded, |binary| {
            registered = binary.cli(
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
            binary.cli(
                &["users", "add", "erin", "--display-name", "Erin"],
                &format!("{PASSWORD}\n"),
            );
        })
        .await
        .unwrap();
        let field = |name: &str| {
            let line = registered.lines().find_map(|l| l.strip_prefix(name));
            line.unwrap().trim().to_owned()
        };
        Self {
            client_id: field("client_id:"),
            client_secret: field("api_key:"),
            binary,
        }
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
            .env("ISSUER", &provider.binary.desktop)
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
    let phone = provider.binary.phone("erin", PASSWORD).await;
    let mut app = Script::start(&runner, &script, &provider);
    let authorize = app.expect("AUTHORIZE");
    let back = signed_in_through_the_page(&provider.binary.desktop, &authorize, &phone).await;
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
