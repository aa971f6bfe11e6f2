//! Real browsers: headless Chromium driven through ChromeDriver. `flows` walks whole sign-ins;
//! `states` reaches every state of every page and checks each in light and dark, at desktop,
//! phone and TV sizes, with axe-core (no serious or critical violation) and for JavaScript
//! errors in the console.
//!
//! axe-core comes from npm (`npm ci --prefix tests/browser`, as CI runs it). With
//! `QRLOGIN_SCREENSHOTS=<folder>`, each checked state is also saved as a PNG there
//! (`scripts/screenshots` does that for docs/screens).

mod flows;
mod oidc;
mod passkeys;
mod states;

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{ClientBuilder, Locator};
use serde_json::json;

use crate::helpers::{Backend, TestCluster};

struct ChromeDriver(Child, u16);

/// Ends chromedriver and the browsers it started: they share its process group (see
/// [`chromedriver`]). Killing chromedriver alone left each test's Chromium running.
impl Drop for ChromeDriver {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts chromedriver, or says why the browser test cannot run here. CI sets
/// `QRLOGIN_REQUIRE_BROWSER=1` (and installs Chromium), so there a missing browser fails.
async fn chromedriver() -> Option<ChromeDriver> {
    let required = std::env::var("QRLOGIN_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
    let present = ["/usr/bin/chromedriver", "/usr/bin/chromium"]
        .iter()
        .all(|p| std::path::Path::new(p).exists());
    if !present {
        assert!(
            !required,
            "QRLOGIN_REQUIRE_BROWSER=1 but chromium/chromedriver are not installed"
        );
        eprintln!(
            "NOTICE: chromium and chromium-driver are not installed; the browser test is skipped."
        );
        return None;
    }
    let port = qrlogin_testkit::free_port();
    let child = Command::new("/usr/bin/chromedriver")
        .arg(format!("--port={port}"))
        // A group of its own, which its browsers join: ended together on drop.
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let driver = ChromeDriver(child, port);
    let deadline = Instant::now() + Duration::from_secs(20);
    while reqwest::get(format!("http://127.0.0.1:{port}/status"))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Some(driver)
}

/// How long a page may take to reach what a test waits for.
const PAGE_WAIT: Duration = Duration::from_secs(15);

/// Waits until `css` matches an element on the page; else fails with what the page shows.
async fn wait_for(browser: &fantoccini::Client, css: &str) -> fantoccini::elements::Element {
    match browser
        .wait()
        .at_most(PAGE_WAIT)
        .for_element(Locator::Css(css))
        .await
    {
        Ok(element) => element,
        Err(error) => panic!("{css}: {error}\n{}", what_the_page_shows(browser).await),
    }
}

/// The page's address and visible text, for a failure message.
async fn what_the_page_shows(browser: &fantoccini::Client) -> String {
    let url = browser
        .current_url()
        .await
        .map(|u| u.to_string())
        .unwrap_or_default();
    let shown = browser
        .execute(
            "return document.body ? document.body.innerText : '';",
            vec![],
        )
        .await
        .unwrap_or_default();
    format!("at {url}:\n{}", shown.as_str().unwrap_or_default())
}

/// The text of the element `css` matches.
async fn text(browser: &fantoccini::Client, css: &str) -> String {
    browser
        .find(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// A ChromeDriver command on the browser's session: `path` under `/session/{id}/`.
async fn driver_command(
    driver: &ChromeDriver,
    browser: &fantoccini::Client,
    path: &str,
    body: serde_json::Value,
) -> serde_json::Value {
    let session = browser.session_id().await.unwrap().unwrap();
    let answer = reqwest::Client::new()
        .post(format!(
            "http://127.0.0.1:{}/session/{session}/{path}",
            driver.1
        ))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = answer.status();
    let body: serde_json::Value = answer.json().await.unwrap();
    assert!(status.is_success(), "{path}: {body}");
    body
}

/// A DevTools command, through ChromeDriver's passthrough.
async fn devtools(
    driver: &ChromeDriver,
    browser: &fantoccini::Client,
    cmd: &str,
    params: serde_json::Value,
) {
    let body = json!({ "cmd": cmd, "params": params });
    driver_command(driver, browser, "goog/cdp/execute", body).await;
}

/// A screen size and colour scheme a page is checked in.
#[derive(Clone, Copy, Debug)]
struct Look {
    name: &'static str,
    width: u32,
    height: u32,
    mobile: bool,
    dark: bool,
}

/// A desktop, a phone and a TV, each light and dark.
const LOOKS: [Look; 6] = [
    Look {
        name: "desktop",
        width: 1366,
        height: 768,
        mobile: false,
        dark: false,
    },
    Look {
        name: "desktop-dark",
        width: 1366,
        height: 768,
        mobile: false,
        dark: true,
    },
    Look {
        name: "phone",
        width: 390,
        height: 844,
        mobile: true,
        dark: false,
    },
    Look {
        name: "phone-dark",
        width: 390,
        height: 844,
        mobile: true,
        dark: true,
    },
    Look {
        name: "tv",
        width: 1920,
        height: 1080,
        mobile: false,
        dark: false,
    },
    Look {
        name: "tv-dark",
        width: 1920,
        height: 1080,
        mobile: false,
        dark: true,
    },
];

/// Shows the page at `look`'s size and colour scheme, as such a device would.
async fn emulate(driver: &ChromeDriver, browser: &fantoccini::Client, look: Look) {
    let metrics = json!({
        "width": look.width, "height": look.height, "deviceScaleFactor": 1, "mobile": look.mobile,
    });
    devtools(
        driver,
        browser,
        "Emulation.setDeviceMetricsOverride",
        metrics,
    )
    .await;
    let scheme = if look.dark { "dark" } else { "light" };
    let media = json!({ "features": [{ "name": "prefers-color-scheme", "value": scheme }] });
    devtools(driver, browser, "Emulation.setEmulatedMedia", media).await;
}

/// Makes the page prefer a dark colour scheme, as a phone or desktop in dark mode does.
async fn prefer_dark(driver: &ChromeDriver, browser: &fantoccini::Client) {
    emulate(driver, browser, LOOKS[1]).await;
}

/// axe-core's script, installed by `npm ci --prefix tests/browser`. Without it the audits
/// cannot run: a failure where the browser is required (CI), else said and skipped.
fn axe_script() -> Option<&'static str> {
    static AXE: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    AXE.get_or_init(|| {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/browser/node_modules/axe-core/axe.min.js");
        let script = std::fs::read_to_string(&path).ok();
        let required = std::env::var("QRLOGIN_REQUIRE_BROWSER").is_ok_and(|v| v == "1");
        assert!(
            script.is_some() || !required,
            "{} is missing: run `npm ci --prefix tests/browser`",
            path.display()
        );
        if script.is_none() {
            eprintln!("NOTICE: axe-core is not installed (npm ci --prefix tests/browser); pages are not audited.");
        }
        script
    })
    .as_deref()
}

/// axe-core's serious and critical violations on the page as it stands, one line each.
async fn violations(browser: &fantoccini::Client, axe: &str) -> Vec<String> {
    let loaded = browser
        .execute("return typeof window.axe !== 'undefined';", vec![])
        .await
        .unwrap();
    if loaded != json!(true) {
        browser
            .execute(&format!("{axe}\nreturn true;"), vec![])
            .await
            .unwrap();
    }
    let found = browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { resultTypes: ['violations'] })
               .then((r) => done(r.violations
                 .filter((v) => v.impact === 'serious' || v.impact === 'critical')
                 .map((v) => v.id + ' (' + v.impact + '): ' + v.help + ' at '
                   + v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', '))))
               .catch((e) => done(['axe failed: ' + e]));",
            vec![],
        )
        .await
        .unwrap();
    serde_json::from_value(found).unwrap()
}

/// The JavaScript errors the console has logged since the last call (a response's failed
/// status is the server's answer, not a script error, and is left out).
async fn console_errors(driver: &ChromeDriver, browser: &fantoccini::Client) -> Vec<String> {
    let logged = driver_command(driver, browser, "se/log", json!({ "type": "browser" })).await;
    logged["value"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|entry| entry["level"] == "SEVERE")
        .map(|entry| entry["message"].as_str().unwrap_or_default().to_owned())
        .filter(|message| !message.contains("Failed to load resource"))
        .collect()
}

/// Checks the page's current state in every [`Look`]: no serious or critical accessibility
/// violation and no JavaScript error. Saves `{state}-{look}.png` when `QRLOGIN_SCREENSHOTS`
/// names a folder. The page is left as it was (desktop size, light).
async fn audit(driver: &ChromeDriver, browser: &fantoccini::Client, state: &str) {
    let shots = std::env::var_os("QRLOGIN_SCREENSHOTS").map(std::path::PathBuf::from);
    let mut found = Vec::new();
    for look in LOOKS {
        emulate(driver, browser, look).await;
        if let Some(axe) = axe_script() {
            for violation in violations(browser, axe).await {
                found.push(format!("{state} at {}: {violation}", look.name));
            }
        }
        if let Some(folder) = &shots {
            let png = browser.screenshot().await.unwrap();
            std::fs::create_dir_all(folder).unwrap();
            std::fs::write(folder.join(format!("{state}-{}.png", look.name)), png).unwrap();
        }
    }
    devtools(
        driver,
        browser,
        "Emulation.clearDeviceMetricsOverride",
        json!({}),
    )
    .await;
    emulate(driver, browser, LOOKS[0]).await;
    for error in console_errors(driver, browser).await {
        found.push(format!("{state}: JavaScript error: {error}"));
    }
    assert!(found.is_empty(), "{found:#?}");
}

/// The WCAG contrast ratio of the first element `css` matches: its text colour against the
/// first opaque background behind it.
async fn contrast(browser: &fantoccini::Client, css: &str) -> f64 {
    let colours = browser
        .execute(
            "const el = document.querySelector(arguments[0]);
             let behind = el;
             while (behind && ['transparent', 'rgba(0, 0, 0, 0)'].includes(getComputedStyle(behind).backgroundColor)) behind = behind.parentElement;
             return [getComputedStyle(el).color, getComputedStyle(behind || document.body).backgroundColor];",
            vec![json!(css)],
        )
        .await
        .unwrap();
    let luminance = |rgb: &serde_json::Value| {
        let channels: Vec<f64> = rgb
            .as_str()
            .unwrap()
            .trim_start_matches("rgba(")
            .trim_start_matches("rgb(")
            .trim_end_matches(')')
            .split(',')
            .take(3)
            .map(|c| c.trim().parse::<f64>().unwrap() / 255.0)
            .map(|c| {
                if c <= 0.04045 {
                    c / 12.92
                } else {
                    ((c + 0.055) / 1.055).powf(2.4)
                }
            })
            .collect();
        0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]
    };
    let (text, background) = (luminance(&colours[0]), luminance(&colours[1]));
    (text.max(background) + 0.05) / (text.min(background) + 0.05)
}

/// A headless Chromium with its own fresh profile (kept alive by the returned directory).
async fn browser(driver: &ChromeDriver) -> (fantoccini::Client, tempfile::TempDir) {
    browser_with(driver, &[]).await
}

async fn browser_with(
    driver: &ChromeDriver,
    extra_args: &[String],
) -> (fantoccini::Client, tempfile::TempDir) {
    let profile = tempfile::tempdir().unwrap();
    let mut args: Vec<String> = [
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
    ]
    .map(String::from)
    .to_vec();
    args.push(format!("--user-data-dir={}", profile.path().display()));
    args.extend_from_slice(extra_args);
    let mut capabilities = serde_json::Map::new();
    // The console's messages, read by `console_errors`.
    capabilities.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": args,
        }),
    );
    let browser = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{}", driver.1))
        .await
        .unwrap();
    (browser, profile)
}

/// The screen's page shows its code; `phone` types it and approves; the screen arrives at its
/// dashboard.
async fn signed_in_by_typed_code(
    browser: &fantoccini::Client,
    cluster: &TestCluster,
    phone: &crate::helpers::Phone,
) {
    browser
        .goto(&format!("{}/", cluster.desktops[0]))
        .await
        .unwrap();
    wait_for(browser, "#qr svg").await;
    let pin_form = browser.find(Locator::Id("pin-form")).await.unwrap();
    assert!(
        !pin_form.is_displayed().await.unwrap(),
        "no PIN form under a code nobody has approved (and none at all in tap mode)"
    );
    let user_code = text(browser, "#user-code").await;
    assert_eq!(
        user_code.len(),
        9,
        "a code like WDJB-MJHT is shown, got {user_code:?}"
    );
    let claimed = phone.scan(json!({ "user_code": user_code })).await;
    assert_eq!(claimed.status(), 200);
    let id = claimed.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(phone.decide(&id, "approve").await.status(), 200);
    let dashboard = url::Url::parse(&format!("{}/dashboard", cluster.desktops[0])).unwrap();
    browser
        .wait()
        .at_most(PAGE_WAIT)
        .for_url(&dashboard)
        .await
        .unwrap();
}

/// Two real browsers, a screen and a phone: the screen shows its QR page, the phone follows
/// the QR's link, signs in with a local account ("Erin") and reaches the confirmation, which
/// it checks shows the screen's code. Returns the cluster, the screen and the phone.
struct TwoBrowsers {
    cluster: TestCluster,
    screen: fantoccini::Client,
    phone: fantoccini::Client,
    _profiles: (tempfile::TempDir, tempfile::TempDir),
}

/// The phone page's local sign-in form, filled in as the test account `erin`.
async fn sign_in_as_erin(phone: &fantoccini::Client) {
    let form = wait_for(phone, "#local-login").await;
    for (field, value) in [("username", "erin"), ("password", "correct horse battery")] {
        form.find(Locator::Css(&format!("input[name={field}]")))
            .await
            .unwrap()
            .send_keys(value)
            .await
            .unwrap();
    }
    form.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

async fn phone_at_the_confirmation(driver: &ChromeDriver, extra: &[(&str, &str)]) -> TwoBrowsers {
    let cluster = TestCluster::start(Backend::Sqlite, 1, extra).await.unwrap();
    cluster
        .add_local_account("erin", "Erin", "correct horse battery")
        .await;
    let (screen, screen_profile) = browser(driver).await;
    let (phone, phone_profile) = browser(driver).await;

    screen
        .goto(&format!("{}/", cluster.desktops[0]))
        .await
        .unwrap();
    wait_for(&screen, "#qr svg").await;
    let qr_link = phone_link(&screen).await;
    let user_code = text(&screen, "#user-code").await;

    phone.goto(&qr_link).await.unwrap();
    sign_in_as_erin(&phone).await;
    wait_for(&phone, "#confirm:not([hidden]) #approve").await;
    let shown_code = text(&phone, "#c-code").await;
    assert_eq!(
        shown_code, user_code,
        "the phone shows the code the screen shows"
    );
    TwoBrowsers {
        cluster,
        screen,
        phone,
        _profiles: (screen_profile, phone_profile),
    }
}

impl TwoBrowsers {
    async fn screen_reaches_the_dashboard(&self) {
        let dashboard =
            url::Url::parse(&format!("{}/dashboard", self.cluster.desktops[0])).unwrap();
        self.screen
            .wait()
            .at_most(PAGE_WAIT)
            .for_url(&dashboard)
            .await
            .unwrap();
        assert_eq!(text(&self.screen, "#user-name").await, "Erin");
    }

    async fn close(self) {
        self.screen.close().await.unwrap();
        self.phone.close().await.unwrap();
    }
}

/// Waits until the XPath `path` matches; `why` says what the page failed to show.
async fn wait_xpath(browser: &fantoccini::Client, path: &str, within: Duration, why: &str) {
    let found = browser
        .wait()
        .at_most(within)
        .for_element(Locator::XPath(path))
        .await;
    if found.is_err() {
        let shows = what_the_page_shows(browser).await;
        panic!("{why} (waited {within:?} for {path})\n{shows}");
    }
}

/// Waits until the script `condition` returns true on the page (checked every 50 ms).
async fn wait_until(browser: &fantoccini::Client, condition: &str, within: Duration, why: &str) {
    let deadline = Instant::now() + within;
    loop {
        let met = browser.execute(condition, vec![]).await.unwrap();
        if met == json!(true) {
            return;
        }
        assert!(Instant::now() < deadline, "{why} (waited {within:?})");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The id of the element that has the keyboard focus.
async fn focused(browser: &fantoccini::Client) -> String {
    let id = browser
        .execute(
            "return document.activeElement ? document.activeElement.id : '';",
            vec![],
        )
        .await
        .unwrap();
    id.as_str().unwrap_or_default().to_owned()
}

async fn shown(browser: &fantoccini::Client, css: &str) -> bool {
    match browser.find(Locator::Css(css)).await {
        Ok(element) => element.is_displayed().await.unwrap(),
        Err(_) => false,
    }
}

/// Where the screen's page sends a phone: its QR's link (`…/s/{id}`).
async fn phone_link(browser: &fantoccini::Client) -> String {
    browser
        .find(Locator::Id("phone-link"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap()
}

/// The request the screen's page shows, from its phone link.
async fn shown_request(browser: &fantoccini::Client) -> String {
    let link = phone_link(browser).await;
    link.rsplit('/').next().unwrap().to_owned()
}
