//! The operator's command line and the dev-mode demo account.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;

use qrlogin_auth::account::{Username, verify_password};
use qrlogin_auth::clock::SystemClock;
use qrlogin_auth::store::Store;
use qrlogin_auth::store::sqlite::SqliteStore;
use qrlogin_testkit::free_port;

use crate::helpers::{Backend, TestCluster};

pub fn qrlogin(data_dir: &std::path::Path, args: &[&str], stdin: &str) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_qrlogin"));
    command
        .current_dir(data_dir) // no stray .env
        .env("DATA_DIR", data_dir)
        .env_remove("REDIS_URL");
    typed_into(command.args(args), stdin)
}

/// `command` run with `stdin` typed in.
pub fn typed_into(command: &mut Command, stdin: &str) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A command that fails before reading (a bad username) closes its stdin: not our failure.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    child.wait_with_output().unwrap()
}

#[tokio::test]
async fn users_add_creates_an_account_once_with_the_password_from_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let added = qrlogin(
        dir.path(),
        &["users", "add", "Alice", "--display-name", "Alice A."],
        "correct horse battery\n",
    );
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let again = qrlogin(dir.path(), &["users", "add", "alice"], "another password\n");
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already taken"));
    let short = qrlogin(dir.path(), &["users", "add", "bob"], "short\n");
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 8 characters"));
    let bad_name = qrlogin(
        dir.path(),
        &["users", "add", "<script>"],
        "correct horse battery\n",
    );
    assert!(String::from_utf8_lossy(&bad_name.stderr).contains("invalid username"));

    let store = SqliteStore::open(&dir.path().join("qrlogin.sqlite3"))
        .await
        .unwrap();
    let account = store
        .load_account(&Username::parse("alice").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(account.display_name, "Alice A.");
    assert!(verify_password(
        &"correct horse battery".to_owned().into(),
        &account.password_hash
    ));
    assert!(
        store
            .load_account(&Username::parse("bob").unwrap())
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn dev_mode_creates_the_demo_account_once() {
    let dir = tempfile::tempdir().unwrap();
    let settings = qrlogin_web::config::Settings::from_vars(|_| None).unwrap();
    let store: Arc<dyn Store> = SqliteStore::open(&dir.path().join("q.sqlite3"))
        .await
        .unwrap();
    let state = qrlogin_web::AppState::with_store(settings, store.clone(), Arc::new(SystemClock))
        .await
        .unwrap();
    let password = qrlogin::ensure_demo_account(&state)
        .await
        .unwrap()
        .expect("created at first start");
    assert_eq!(
        qrlogin::ensure_demo_account(&state).await.unwrap(),
        None,
        "and never again"
    );
    let demo = store
        .load_account(&Username::parse("demo").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(verify_password(&password.into(), &demo.password_hash));
}

pub fn succeeded(output: &Output) -> String {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[tokio::test]
async fn users_disable_and_enable_are_applied_and_audited() {
    let dir = tempfile::tempdir().unwrap();
    succeeded(&qrlogin(
        dir.path(),
        &["users", "add", "erin"],
        "correct horse battery\n",
    ));
    let disabled = succeeded(&qrlogin(dir.path(), &["users", "disable", "erin"], ""));
    assert!(disabled.contains("disabled"), "{disabled}");
    let store = SqliteStore::open(&dir.path().join("qrlogin.sqlite3"))
        .await
        .unwrap();
    let erin = Username::parse("erin").unwrap();
    assert!(store.load_account(&erin).await.unwrap().unwrap().disabled);
    drop(store);

    let missing = qrlogin(dir.path(), &["users", "disable", "nobody"], "");
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no local account"));

    succeeded(&qrlogin(dir.path(), &["users", "enable", "erin"], ""));
    let trail = succeeded(&qrlogin(
        dir.path(),
        &["audit", "--user", "local:erin", "--json"],
        "",
    ));
    let events: Vec<String> = trail
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["event"].to_string())
        .collect();
    assert_eq!(
        events,
        [
            "\"account_created\"",
            "\"account_disabled\"",
            "\"account_enabled\""
        ]
    );
    let text = succeeded(&qrlogin(dir.path(), &["audit", "--since", "5m"], ""));
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(
        text.lines().all(|l| l.contains("user=\"local:erin\"")),
        "{text}"
    );
    let bad = qrlogin(dir.path(), &["audit", "--since", "yesterday-ish"], "");
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--since"));
}

#[tokio::test]
async fn audit_follow_prints_records_as_they_are_written() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    succeeded(&qrlogin(
        dir.path(),
        &["users", "add", "erin"],
        "correct horse battery\n",
    ));
    let mut follower = Command::new(env!("CARGO_BIN_EXE_qrlogin"))
        .args(["audit", "--follow", "--json"])
        .current_dir(dir.path())
        .env("DATA_DIR", dir.path())
        .env_remove("REDIS_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Lines arrive on a channel, so a follower that prints nothing fails the test in time
    // instead of hanging it.
    let stdout = follower.stdout.take().unwrap();
    let (sender, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            if sender.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    let next_event = || -> String {
        let line = lines
            .recv_timeout(std::time::Duration::from_secs(15))
            .expect("audit --follow printed the record");
        serde_json::from_str::<serde_json::Value>(&line).unwrap()["event"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    // What was there already, then what is written while it follows.
    assert_eq!(next_event(), "account_created");
    succeeded(&qrlogin(dir.path(), &["users", "disable", "erin"], ""));
    assert_eq!(next_event(), "account_disabled");
    follower.kill().unwrap();
    follower.wait().unwrap();
}

/// `qrlogin health`, the image's health check: healthy when a service answers `/healthz`,
/// whichever of the two ports it is on; not when nothing listens or when it answers an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_passes_for_a_live_service_and_fails_for_none_or_an_error() {
    let Some(cluster) = TestCluster::start(Backend::Sqlite, 1, &[]).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port_of = |url: &str| url.rsplit(':').next().unwrap().to_owned();
    let (live, closed) = (port_of(&cluster.desktops[0]), free_port().to_string());
    let health = |env: &[(&str, &str)], args: &[&str]| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_qrlogin"));
        command
            .arg("health")
            .args(args)
            .current_dir(dir.path())
            .env_remove("REDIS_URL");
        for (name, value) in env {
            command.env(name, value);
        }
        command.output().unwrap()
    };
    let healthz = format!("{}/healthz", cluster.desktops[0]);
    succeeded(&health(&[], &[&healthz]));
    // Without URLs: both ports; the one with nothing on it is another container's.
    succeeded(&health(
        &[("DESKTOP_PORT", &live), ("MOBILE_PORT", &closed)],
        &[],
    ));

    let nothing = health(&[("DESKTOP_PORT", &closed), ("MOBILE_PORT", &closed)], &[]);
    assert!(!nothing.status.success());
    assert!(String::from_utf8_lossy(&nothing.stderr).contains("nothing listens"));
    cluster.shut_down_desktop(0);
    let draining = health(&[], &[&format!("{}/readyz", cluster.desktops[0])]);
    assert!(!draining.status.success());
    assert!(
        String::from_utf8_lossy(&draining.stderr).contains("answered 503"),
        "{}",
        String::from_utf8_lossy(&draining.stderr)
    );
}

/// `qrlogin decode`: what an operator runs on a frame that failed.
#[test]
fn decode_prints_every_code_per_file_and_fails_for_a_file_without_one() {
    let samples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/qr-samples");
    if !samples.is_dir() {
        eprintln!("NOTICE: {} is absent; skipped", samples.display());
        return;
    }
    let vcard = samples.join("qrcode-1/17.webp");
    let double = samples.join("qrcode-2/16.webp");
    let dir = tempfile::tempdir().unwrap();
    let decode = |files: &[&std::path::Path]| {
        Command::new(env!("CARGO_BIN_EXE_qrlogin"))
            .arg("decode")
            .args(files)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let read = decode(&[&vcard, &double]);
    let printed = succeeded(&read);
    let lines: Vec<&str> = printed.lines().collect();
    assert_eq!(lines.len(), 3, "{printed}");
    assert!(lines[0].starts_with(&format!("{}: Sean Owen\\r\\n", vcard.display())));
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with(&double.display().to_string()))
            .count(),
        2,
        "both codes of the double code: {printed}"
    );

    let blank = dir.path().join("blank.png");
    std::fs::write(&blank, include_bytes!("../../crates/web/assets/style.css")).unwrap();
    let failed = decode(&[&vcard, &blank]);
    assert!(!failed.status.success());
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.contains("blank.png: not a JPEG, PNG or WebP image"),
        "{stderr}"
    );
    assert!(
        stderr.contains("1 of 2 images hold no readable QR code"),
        "{stderr}"
    );
}

#[tokio::test]
async fn users_are_listed_repassworded_and_removed_with_their_sessions_ended() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["erin", "frank"] {
        succeeded(&qrlogin(
            dir.path(),
            &["users", "add", name],
            "correct horse battery\n",
        ));
    }
    let listed = succeeded(&qrlogin(dir.path(), &["users", "list"], ""));
    let names: Vec<&str> = listed
        .lines()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(names, ["erin", "frank"], "{listed}");
    assert!(
        !listed.contains("argon2"),
        "never the password hash: {listed}"
    );

    succeeded(&qrlogin(
        dir.path(),
        &["users", "passwd", "erin"],
        "a brand new passphrase\n",
    ));
    let short = qrlogin(dir.path(), &["users", "passwd", "erin"], "short\n");
    assert!(!short.status.success());
    succeeded(&qrlogin(dir.path(), &["users", "remove", "frank"], ""));
    let missing = qrlogin(dir.path(), &["users", "remove", "frank"], "");
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no local account"));

    let store = SqliteStore::open(&dir.path().join("qrlogin.sqlite3"))
        .await
        .unwrap();
    let erin = store
        .load_account(&Username::parse("erin").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(verify_password(
        &"a brand new passphrase".to_owned().into(),
        &erin.password_hash
    ));
    assert!(!verify_password(
        &"correct horse battery".to_owned().into(),
        &erin.password_hash
    ));
    // Whoever knew the old password, or held frank's sessions, is signed out.
    assert!(store.not_before("local:erin").await.unwrap().is_some());
    assert!(store.not_before("local:frank").await.unwrap().is_some());
    assert!(
        store
            .load_account(&Username::parse("frank").unwrap())
            .await
            .unwrap()
            .is_none()
    );
    drop(store);
    let trail = succeeded(&qrlogin(dir.path(), &["audit", "--json"], ""));
    assert!(trail.contains("account_password_changed") && trail.contains("account_removed"));
}

/// A removed account's username is never given to someone else: apps it signed in to know
/// that person by `sub: local:{username}`, and the newcomer would be signed in as them.
#[tokio::test]
async fn a_removed_accounts_username_is_never_given_to_someone_else() {
    let dir = tempfile::tempdir().unwrap();
    let add = |name: &str| {
        qrlogin(
            dir.path(),
            &["users", "add", name],
            "correct horse battery\n",
        )
    };
    succeeded(&add("frank"));
    succeeded(&qrlogin(dir.path(), &["users", "remove", "frank"], ""));
    let again = add("frank");
    assert!(!again.status.success());
    let said = String::from_utf8_lossy(&again.stderr);
    assert!(said.contains("belonged to a removed account"), "{said}");

    // An account made before usernames were marked is marked when it is removed.
    let store = SqliteStore::open(&dir.path().join("qrlogin.sqlite3"))
        .await
        .unwrap();
    let grace = Username::parse("grace").unwrap();
    let unmarked = qrlogin_auth::account::LocalAccount {
        username: grace.clone(),
        display_name: "Grace".into(),
        password_hash: "unused".into(),
        disabled: false,
        created_at: 0,
    };
    assert!(store.insert_account(&unmarked).await.unwrap());
    drop(store);
    succeeded(&qrlogin(dir.path(), &["users", "remove", "grace"], ""));
    assert!(!add("grace").status.success());
    succeeded(&add("heidi"));
}

#[tokio::test]
async fn clients_are_added_with_a_key_shown_once_rotated_and_removed() {
    let dir = tempfile::tempdir().unwrap();
    let added = succeeded(&qrlogin(
        dir.path(),
        &[
            "clients",
            "add",
            "Space",
            "--redirect-uri",
            "https://space.example/callback",
            "--origin",
            "https://space.example",
            "--confirmation",
            "pin",
        ],
        "",
    ));
    let field = |text: &str, name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap()
            .trim()
            .to_owned()
    };
    let id = field(&added, "client_id:");
    let key = field(&added, "api_key:");
    let listed = succeeded(&qrlogin(dir.path(), &["clients", "list"], ""));
    assert!(
        listed.contains(&id) && listed.contains("confirmation=pin"),
        "{listed}"
    );
    assert!(!listed.contains(&key), "the key is shown once only");
    let listed_as = |listed: &str, id: &str| {
        listed
            .lines()
            .find(|line| line.starts_with(id))
            .unwrap_or_else(|| panic!("{id} is not listed: {listed}"))
            .to_owned()
    };
    assert!(
        listed_as(&listed, &id).contains("device_grant=off"),
        "the device grant is off unless asked for: {listed}"
    );
    // With `--device-grant`, devices may sign in with the app's public id; it is listed so.
    let tv = succeeded(&qrlogin(
        dir.path(),
        &["clients", "add", "Space TV", "--device-grant"],
        "",
    ));
    let tv = field(&tv, "client_id:");
    let listed = succeeded(&qrlogin(dir.path(), &["clients", "list"], ""));
    assert!(
        listed_as(&listed, &tv).contains("device_grant=on"),
        "{listed}"
    );
    assert!(
        listed_as(&listed, &id).contains("device_grant=off"),
        "{listed}"
    );
    // The grant can be taken away from an app and given back, keeping its id and key; an
    // app that confirms with a PIN cannot be given it.
    succeeded(&qrlogin(
        dir.path(),
        &["clients", "device-grant", &tv, "off"],
        "",
    ));
    let listed = succeeded(&qrlogin(dir.path(), &["clients", "list"], ""));
    assert!(
        listed_as(&listed, &tv).contains("device_grant=off"),
        "{listed}"
    );
    succeeded(&qrlogin(
        dir.path(),
        &["clients", "device-grant", &tv, "on"],
        "",
    ));
    let refused = qrlogin(dir.path(), &["clients", "device-grant", &id, "on"], "");
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("PIN"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    // A device cannot type the phone's PIN: the two do not go together.
    let pin_grant = qrlogin(
        dir.path(),
        &[
            "clients",
            "add",
            "Vault TV",
            "--device-grant",
            "--confirmation",
            "pin",
        ],
        "",
    );
    assert!(!pin_grant.status.success());
    assert!(
        String::from_utf8_lossy(&pin_grant.stderr).contains("device grant"),
        "{}",
        String::from_utf8_lossy(&pin_grant.stderr)
    );
    let refused = qrlogin(
        dir.path(),
        &[
            "clients",
            "add",
            "Space",
            "--origin",
            "http://space.example",
        ],
        "",
    );
    assert!(!refused.status.success());

    let rotated = succeeded(&qrlogin(dir.path(), &["clients", "rotate-key", &id], ""));
    let new_key = field(&rotated, "api_key:");
    let store = SqliteStore::open(&dir.path().join("qrlogin.sqlite3"))
        .await
        .unwrap();
    let client = qrlogin_auth::client::registry::load(&*store, &id)
        .await
        .unwrap()
        .unwrap();
    assert!(!client.accepts(&key) && client.accepts(&new_key));
    assert!(!client.device_grant);
    let tv = qrlogin_auth::client::registry::load(&*store, &tv)
        .await
        .unwrap()
        .unwrap();
    assert!(tv.device_grant);
    drop(store);
    succeeded(&qrlogin(dir.path(), &["clients", "remove", &id], ""));
    let store = SqliteStore::open(&dir.path().join("qrlogin.sqlite3"))
        .await
        .unwrap();
    assert!(
        qrlogin_auth::client::registry::load(&*store, &id)
            .await
            .unwrap()
            .is_none()
    );
}

/// A lost phone: the operator removes the account's passkeys and ends its sessions, audited;
/// nobody else's are touched, and an unknown account is an error that says how to name one.
#[tokio::test]
async fn users_reset_passkeys_removes_them_and_ends_the_sessions() {
    let dir = tempfile::tempdir().unwrap();
    succeeded(&qrlogin(
        dir.path(),
        &["users", "add", "erin"],
        "correct horse battery\n",
    ));
    let fixture = include_str!("../../crates/auth/tests/fixtures/passkey.json");
    let store = SqliteStore::open(&dir.path().join("qrlogin.sqlite3"))
        .await
        .unwrap();
    for (user, label) in [("local:erin", "AAAA"), ("mentra:ann@example.com", "BBBB")] {
        let json = fixture.replace("f3wDtg-ekV0lg1llZM5OkOzdr3pkNiSM0rD9mht_a18", label);
        let credential = serde_json::from_str(&json).unwrap();
        let passkey =
            qrlogin_auth::passkey::StoredPasskey::new(user, "Pixel".into(), credential, 0);
        assert!(qrlogin_auth::passkey::add(&*store, &passkey).await.unwrap());
    }
    drop(store);

    let reset = succeeded(&qrlogin(
        dir.path(),
        &["users", "reset-passkeys", "erin"],
        "",
    ));
    assert!(reset.contains("removed its one passkey"), "{reset}");
    let unknown = qrlogin(dir.path(), &["users", "reset-passkeys", "nobody"], "");
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("mentra:EMAIL"));

    let store = SqliteStore::open(&dir.path().join("qrlogin.sqlite3"))
        .await
        .unwrap();
    assert!(
        !qrlogin_auth::passkey::any(&*store, "local:erin")
            .await
            .unwrap()
    );
    assert!(store.not_before("local:erin").await.unwrap().is_some());
    assert!(
        qrlogin_auth::passkey::any(&*store, "mentra:ann@example.com")
            .await
            .unwrap()
    );
    drop(store);
    let reset = succeeded(&qrlogin(
        dir.path(),
        &["users", "reset-passkeys", "mentra:Ann@example.com"],
        "",
    ));
    assert!(reset.contains("removed its one passkey"), "{reset}");
    let trail = succeeded(&qrlogin(dir.path(), &["audit", "--json"], ""));
    assert_eq!(trail.matches("passkeys_reset").count(), 2, "{trail}");
}
