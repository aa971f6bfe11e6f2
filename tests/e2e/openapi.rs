//! Both services' OpenAPI documents (`/api/openapi.json`): valid OpenAPI 3.1 by an
//! independent validator (openapi-spec-validator), and true of what the running binary
//! answers, by schemathesis fuzzing every operation on both stores, signed in and not: no
//! 5xx, and every answer's status, content type, headers and body as the document says.
//!
//! The tools are installed pinned by `tests/openapi/setup`. Without them, the tests say so
//! and pass, unless `QRLOGIN_REQUIRE_OPENAPI_TOOLS=1` (as in CI).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::binary::{RunningBinary, Store};
use crate::helpers::{Backend, Screen, TestCluster, approved, client};

const PASSWORD: &str = "correct horse battery";

fn tools_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/openapi")
}

/// `tests/openapi/.venv/bin/{name}`, if the tools are installed.
fn tool(name: &str) -> Option<PathBuf> {
    let path = tools_dir().join(".venv/bin").join(name);
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("QRLOGIN_REQUIRE_OPENAPI_TOOLS").is_none(),
        "QRLOGIN_REQUIRE_OPENAPI_TOOLS=1 but {name} is not installed: run tests/openapi/setup"
    );
    eprintln!("NOTICE: {name} is not installed (tests/openapi/setup); its check is skipped");
    None
}

async fn document(base: &str) -> Value {
    let response = client()
        .get(format!("{base}/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    response.json().await.unwrap()
}

/// Every operation of `document`: (method, path, operation).
fn operations(document: &Value) -> Vec<(String, String, Value)> {
    let paths = document["paths"].as_object().unwrap();
    let mut all = Vec::new();
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            all.push((method.to_uppercase(), path.clone(), operation.clone()));
        }
    }
    all
}

#[tokio::test]
async fn each_service_documents_its_json_routes_each_with_the_error_shape() {
    let cluster = TestCluster::start(Backend::Sqlite, 1, &[]).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (service, base) in [
        ("desktop", &cluster.desktops[0]),
        ("mobile", &cluster.mobile),
    ] {
        let document = document(base).await;
        assert_eq!(document["openapi"], "3.1.0");
        let operations = operations(&document);
        let mut ids = HashSet::new();
        for (method, path, operation) in &operations {
            let id = operation["operationId"].as_str().unwrap();
            assert!(ids.insert(id.to_owned()), "{method} {path}: {id} twice");
            let default = &operation["responses"]["default"]["content"]["application/json"];
            assert!(
                default["schema"]["$ref"].is_string(),
                "{method} {path}: no error shape"
            );
        }
        let has =
            |method: &str, path: &str| operations.iter().any(|(m, p, _)| m == method && p == path);
        let expected: &[(&str, &str)] = match service {
            "desktop" => &[
                ("POST", "/api/login-requests"),
                ("POST", "/api/login-requests/{id}/redeem"),
                ("POST", "/api/device-links/{id}/confirm"),
                ("GET", "/api/sessions"),
                ("POST", "/oauth/token"),
                ("POST", "/oauth/userinfo"),
            ],
            _ => &[
                ("POST", "/api/scan"),
                ("POST", "/api/frames"),
                ("POST", "/webhook"),
            ],
        };
        for (method, path) in expected {
            assert!(
                has(method, path),
                "{service} does not document {method} {path}"
            );
        }
        let Some(validator) = tool("openapi-spec-validator") else {
            continue;
        };
        let file = dir.path().join(format!("{service}.json"));
        std::fs::write(&file, document.to_string()).unwrap();
        let checked = Command::new(validator).arg(&file).output().unwrap();
        assert!(
            checked.status.success(),
            "{service}: {}",
            String::from_utf8_lossy(&checked.stdout)
        );
    }
}

/// How a fuzzing run went: schemathesis's own summary lines.
fn summary(output: &str) -> String {
    let lines: Vec<&str> = output.lines().collect();
    let mut figures = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim_start().starts_with("Tested:") {
            figures.push(format!("operations {}", line.trim()));
        }
        if line.trim() == "Test cases:"
            && let Some(next) = lines.get(i + 1)
        {
            figures.push(format!("cases {}", next.trim()));
        }
    }
    figures.join(", ")
}

/// Whose requests a run makes.
#[derive(Clone, Copy, PartialEq)]
enum Caller {
    Anonymous,
    /// With credentials every operation of the run accepts: none may answer only 401s.
    SignedIn,
}

/// schemathesis on `base`'s document, with `headers` on every request, leaving out the
/// operations `excluded` names (operation ids).
fn fuzz(label: &str, base: &str, caller: Caller, headers: &[String], excluded: &[&str]) {
    let Some(schemathesis) = tool("schemathesis") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // The checks, seed and sizes are the config file's, as for a run by hand.
    let config = tools_dir().join("schemathesis.toml");
    let mut command = Command::new(schemathesis);
    command
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .arg("--config-file")
        .arg(config)
        .args(["run", &format!("{base}/api/openapi.json")]);
    for header in headers {
        command.args(["-H", header]);
    }
    for id in excluded {
        command.args(["--exclude-operation-id", id]);
    }
    let run = command.output().unwrap();
    let output = String::from_utf8_lossy(&run.stdout);
    assert!(run.status.success(), "{label}:\n{output}");
    if caller == Caller::SignedIn {
        assert!(
            !output.contains("Authentication failed"),
            "{label}:\n{output}"
        );
    }
    eprintln!("schemathesis, {label}: {}", summary(&output));
}

/// A signed-in screen's access token and a signed-in phone's cookie, for erin.
async fn signed_in(binary: &RunningBinary) -> (String, String) {
    let phone = binary.phone("erin", PASSWORD).await;
    let screen = Screen {
        client: client(),
        base: binary.desktop.clone(),
    };
    let created = approved(&screen, &phone).await;
    let redeemed: Value = screen.redeem(&created).await.json().await.unwrap();
    let token = redeemed["access_token"].as_str().unwrap().to_owned();
    let login = phone.local_login("erin", PASSWORD).await;
    let cookie = login
        .cookies()
        .find(|c| c.name().ends_with("qrlogin_mobile"))
        .map(|c| format!("{}={}", c.name(), c.value()))
        .unwrap();
    (token, cookie)
}

/// Every operation of both services, anonymous and signed in. The signed-in runs leave out
/// signing out (it would end the session the rest of the run uses), the desktop's create and
/// redeem (a bearer token there is a client's API key), and what takes another credential
/// (a web app's token, a photo's): the anonymous runs have them all.
async fn fuzzed_on(store: Store) {
    if tool("schemathesis").is_none() {
        return;
    }
    let Some(binary) = RunningBinary::start(store, |binary| {
        binary.cli(&["users", "add", "erin"], &format!("{PASSWORD}\n"));
    })
    .await
    else {
        return;
    };
    let (token, cookie) = signed_in(&binary).await;
    let (desktop, mobile) = (binary.desktop.clone(), binary.mobile.clone());
    tokio::task::spawn_blocking(move || {
        fuzz("desktop, anonymous", &desktop, Caller::Anonymous, &[], &[]);
        fuzz("mobile, anonymous", &mobile, Caller::Anonymous, &[], &[]);
        let bearer = [format!("Authorization: Bearer {token}")];
        let elsewhere = [
            "logout",
            "create_login_request",
            "redeem_login_request",
            "userinfo",
            "userinfo_post",
        ];
        fuzz(
            "desktop, signed in",
            &desktop,
            Caller::SignedIn,
            &bearer,
            &elsewhere,
        );
        let cookie = [format!("Cookie: {cookie}")];
        let elsewhere = ["logout", "photo_upload"];
        fuzz(
            "mobile, signed in",
            &mobile,
            Caller::SignedIn,
            &cookie,
            &elsewhere,
        );
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_every_answer_as_documented_on_the_embedded_store() {
    fuzzed_on(Store::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_every_answer_as_documented_on_redis() {
    fuzzed_on(Store::Redis).await;
}
