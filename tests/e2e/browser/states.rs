//! Every state of every page, reached in a real browser and checked with [`audit`]: what a
//! finished sign-in leaves on the screen and on the phone, how fast a dashboard whose session
//! ended leaves, the languages, and the error pages.

use std::time::Duration;

use fantoccini::Locator;
use serde_json::json;

use super::*;
use crate::helpers::{Backend, TestCluster};

/// The screen page from its first code to each way a request can end without a sign-in:
/// every state is designed (the QR gives way to what happened and one button, focused).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_state_of_the_screen_page_is_finished() {
    let Some(driver) = chromedriver().await else {
        return;
    };
    let cluster = TestCluster::start(Backend::Sqlite, 1, &[]).await.unwrap();
    let (browser, _profile) = browser(&driver).await;
    let phone = cluster.phone("alice@example.com").await;
    browser
        .goto(&format!("{}/", cluster.desktops[0]))
        .await
        .unwrap();
    wait_for(&browser, "#qr svg").await;
    assert!(
        !shown(&browser, "#pin-form").await,
        "no PIN form in tap mode"
    );
    let qr = browser.find(Locator::Id("qr")).await.unwrap();
    assert_eq!(qr.attr("role").await.unwrap().as_deref(), Some("img"));
    assert!(
        qr.attr("aria-label")
            .await
            .unwrap()
            .is_some_and(|l| !l.is_empty())
    );
    audit(&driver, &browser, "screen-pending").await;

    // A TV gets a QR that fills the room it has, not a fixed 280 px.
    emulate(&driver, &browser, LOOKS[4]).await;
    let width = browser
        .execute(
            "return document.getElementById('qr').getBoundingClientRect().width;",
            vec![],
        )
        .await
        .unwrap();
    assert!(
        width.as_f64().unwrap() >= 500.0,
        "the QR on a 1920×1080 TV: {width} px"
    );
    emulate(&driver, &browser, LOOKS[0]).await;

    let id = shown_request(&browser).await;
    assert_eq!(phone.scan_id(&id).await.status(), 200);
    wait_xpath(
        &browser,
        "//p[@id='status' and contains(., 'Scanned')]",
        PAGE_WAIT,
        "claimed",
    )
    .await;
    audit(&driver, &browser, "screen-claimed").await;

    assert_eq!(phone.decide(&id, "deny").await.status(), 200);
    wait_for(&browser, "#ended:not([hidden])").await;
    assert_eq!(text(&browser, "#ended-title").await, "Sign-in refused");
    assert!(!shown(&browser, "#qr").await, "the refused code is gone");
    assert!(!shown(&browser, "#user-code").await);
    assert!(!shown(&browser, "#countdown").await);
    assert_eq!(
        focused(&browser).await,
        "ended-title",
        "focus moves to what happened"
    );
    audit(&driver, &browser, "screen-denied").await;

    // One button: a new code.
    browser
        .find(Locator::Id("renew"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(&browser, "#waiting:not([hidden]) #qr svg").await;
    let renewed = shown_request(&browser).await;
    assert_ne!(renewed, id);
    // Stopped from elsewhere (another tab of this browser gave it up).
    browser
        .execute(
            "fetch('/api/login-requests/' + arguments[0], { method: 'DELETE', credentials: 'same-origin' });",
            vec![json!(renewed)],
        )
        .await
        .unwrap();
    wait_xpath(
        &browser,
        "//h2[@id='ended-title' and .='Sign-in stopped']",
        PAGE_WAIT,
        "cancelled",
    )
    .await;
    audit(&driver, &browser, "screen-cancelled").await;
    browser.close().await.unwrap();
}

/// PIN mode: the form asks for the phone's PIN; a lock replaces the QR and the form with what
/// happened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pin_lock_leaves_no_dead_form_behind() {
    let Some(driver) = chromedriver().await else {
        return;
    };
    let both = phone_at_the_confirmation(&driver, &[("LOGIN_CONFIRMATION", "pin")]).await;
    let (browser, phone) = (&both.screen, &both.phone);
    phone
        .find(Locator::Id("approve"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(phone, "#pin-box:not([hidden])").await;
    let pin = text(phone, "#pin").await;
    let form = wait_for(browser, "#pin-form:not([hidden])").await;
    assert_eq!(focused(browser).await, "pin", "the PIN field has the focus");
    audit(&driver, browser, "screen-pin").await;

    let wrong = if pin == "000000" { "111111" } else { "000000" };
    let input = form.find(Locator::Id("pin")).await.unwrap();
    for _ in 0..10 {
        if shown(browser, "#ended").await {
            break;
        }
        input.send_keys(wrong).await.unwrap();
        input.send_keys("\u{E007}").await.unwrap(); // Enter
        // Answered: the page empties the field (or the sign-in is locked).
        wait_until(
            browser,
            "return document.getElementById('pin').value === '' || !document.getElementById('ended').hidden;",
            PAGE_WAIT,
            "the wrong PIN was answered",
        )
        .await;
        let said = text(browser, "#status").await;
        assert!(!said.contains("attempts left"), "no server wording: {said}");
    }
    wait_xpath(
        browser,
        "//h2[@id='ended-title' and .='Sign-in locked']",
        PAGE_WAIT,
        "locked",
    )
    .await;
    assert!(
        !shown(browser, "#pin-form").await,
        "no PIN form under a locked sign-in"
    );
    assert!(!shown(browser, "#qr").await);
    audit(&driver, browser, "screen-locked").await;
    // The phone that showed the PIN hears of the lock.
    wait_xpath(
        phone,
        "//h1[@id='outcome-title' and .='Sign-in locked']",
        PAGE_WAIT,
        "the phone hears of the lock",
    )
    .await;
    audit(&driver, phone, "phone-locked").await;
    both.close().await;
}

/// Left alone, a screen keeps showing fresh codes: more renewals than the three it used to
/// stop after, with nobody clicking.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unattended_screen_keeps_renewing_its_code() {
    let Some(driver) = chromedriver().await else {
        return;
    };
    let cluster = TestCluster::start(Backend::Sqlite, 1, &[("QR_TTL", "2s")])
        .await
        .unwrap();
    let (browser, _profile) = browser(&driver).await;
    browser
        .goto(&format!("{}/", cluster.desktops[0]))
        .await
        .unwrap();
    wait_for(&browser, "#qr svg").await;
    let mut seen = vec![shown_request(&browser).await];
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.len() < 6 {
        if Instant::now() > deadline {
            let shows = what_the_page_shows(&browser).await;
            panic!(
                "renewals stopped after {}: {seen:?}\n{shows}",
                seen.len() - 1
            );
        }
        assert!(!shown(&browser, "#renew").await, "no click asked for");
        if let Ok(svg) = browser.find(Locator::Css("#qr svg")).await
            && svg.is_displayed().await.unwrap_or(false)
        {
            let now = shown_request(&browser).await;
            if seen.last() != Some(&now) {
                seen.push(now);
            }
        }
        pace(&cluster).await;
    }

    // A hidden tab asks for no code nobody can see: its code expires (4 s, two lifetimes,
    // pass) and stays; shown again, it gets a fresh one at once.
    browser
        .execute(
            "Object.defineProperty(document, 'hidden', { value: true, configurable: true });
             document.dispatchEvent(new Event('visibilitychange', { bubbles: true }));",
            vec![],
        )
        .await
        .unwrap();
    let hidden_with = shown_request(&browser).await;
    for _ in 0..20 {
        pace(&cluster).await;
        assert_eq!(
            shown_request(&browser).await,
            hidden_with,
            "renewed while hidden"
        );
    }
    browser
        .execute(
            "Object.defineProperty(document, 'hidden', { value: false, configurable: true });
             document.dispatchEvent(new Event('visibilitychange', { bubbles: true }));",
            vec![],
        )
        .await
        .unwrap();
    wait_until(
        &browser,
        &format!("return !document.getElementById('phone-link').href.endsWith('/{hidden_with}');"),
        PAGE_WAIT,
        "a fresh code once shown again",
    )
    .await;
    browser.close().await.unwrap();
}

/// 200 ms pass, for the servers too: their clock is the test's, kept in step with the real one.
async fn pace(cluster: &TestCluster) {
    tokio::time::sleep(Duration::from_millis(200)).await;
    cluster.clock.advance(Duration::from_millis(200));
}

/// The dashboard names the account as its owner knows it, asks before signing out
/// everywhere, and leaves at once when its session is ended from elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dashboard_whose_session_ends_elsewhere_leaves_at_once() {
    let Some(driver) = chromedriver().await else {
        return;
    };
    let cluster = TestCluster::start(Backend::Sqlite, 1, &[]).await.unwrap();
    let (browser, _profile) = browser(&driver).await;
    let phone = cluster.phone("alice@example.com").await;
    signed_in_by_typed_code(&browser, &cluster, &phone).await;
    wait_for(&browser, "#sessions li").await;
    let account = text(&browser, "#user-account").await;
    assert_eq!(account, "Mentra account", "never the internal id");
    let rows = browser
        .find_all(Locator::Css("#sessions li"))
        .await
        .unwrap();
    let mut listed = Vec::new();
    for row in rows {
        listed.push(row.text().await.unwrap());
    }
    assert!(
        listed.iter().any(|r| r.starts_with("Phone: ")),
        "{listed:?}"
    );
    assert!(
        listed
            .iter()
            .any(|r| r.starts_with("Screen: ") && r.ends_with("(this screen)"))
    );
    audit(&driver, &browser, "dashboard").await;

    // "Sign out everywhere" asks first, and Cancel changes nothing.
    browser
        .find(Locator::Id("sign-out-everywhere"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(&browser, "#everywhere-confirm:not([hidden])").await;
    assert_eq!(focused(&browser).await, "everywhere-question");
    audit(&driver, &browser, "dashboard-sign-out-everywhere").await;
    browser
        .find(Locator::Id("everywhere-no"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert!(!shown(&browser, "#everywhere-confirm").await);
    assert_eq!(browser.current_url().await.unwrap().path(), "/dashboard");

    // The account signs out everywhere from another screen: this one leaves within a
    // moment, not at its socket's next heartbeat (20 s).
    let elsewhere = cluster.screen(0);
    let created = crate::helpers::approved(&elsewhere, &phone).await;
    assert_eq!(elsewhere.redeem(&created).await.status(), 200);
    let signed_out = elsewhere
        .client
        .post(format!("{}/api/logout", elsewhere.base))
        .json(&json!({ "everywhere": true }))
        .send()
        .await
        .unwrap();
    assert!(signed_out.status().is_success(), "{}", signed_out.status());
    let start = url::Url::parse(&format!("{}/", cluster.desktops[0])).unwrap();
    browser
        .wait()
        .at_most(Duration::from_secs(3))
        .for_url(&start)
        .await
        .expect("the signed-out dashboard left within 3 s");
    browser.close().await.unwrap();
}

/// The phone from sign-in to "Signed in": each step has a heading, and after Approve it
/// follows the request until the screen has signed in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_phone_follows_its_request_to_signed_in() {
    let Some(driver) = chromedriver().await else {
        return;
    };
    let cluster = TestCluster::start(Backend::Sqlite, 1, &[]).await.unwrap();
    cluster
        .add_local_account("erin", "Erin", "correct horse battery")
        .await;
    let (screen, _screen_profile) = browser(&driver).await;
    let (phone, _phone_profile) = browser(&driver).await;
    screen
        .goto(&format!("{}/", cluster.desktops[0]))
        .await
        .unwrap();
    wait_for(&screen, "#qr svg").await;
    let id = shown_request(&screen).await;

    phone
        .goto(&format!("{}/s/{id}", cluster.mobile))
        .await
        .unwrap();
    wait_for(&phone, "#local-login").await;
    audit(&driver, &phone, "phone-sign-in").await;
    sign_in_as_erin(&phone).await;
    wait_for(&phone, "#confirm:not([hidden]) #approve").await;
    assert_eq!(
        focused(&phone).await,
        "confirm-title",
        "focus moves to the question"
    );
    audit(&driver, &phone, "phone-confirm").await;
    phone
        .find(Locator::Id("approve"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_xpath(
        &phone,
        "//h1[@id='outcome-title' and .='Signed in']",
        PAGE_WAIT,
        "the phone hears the screen signed in",
    )
    .await;
    assert_eq!(focused(&phone).await, "outcome-title");
    audit(&driver, &phone, "phone-signed-in").await;

    // The code entry: labelled, and a code with vowels is told apart in words.
    phone
        .goto(&format!("{}/scan", cluster.mobile))
        .await
        .unwrap();
    let input = wait_for(&phone, "#user-code").await;
    let label = text(&phone, "label[for=user-code]").await;
    assert!(!label.is_empty());
    assert_eq!(
        input.attr("placeholder").await.unwrap(),
        None,
        "no fake code as a placeholder"
    );
    audit(&driver, &phone, "phone-enter-code").await;
    input.send_keys("ABCD-EFGH\u{E007}").await.unwrap();
    wait_xpath(
        &phone,
        "//p[@id='status' and contains(., 'not a code a screen shows')]",
        PAGE_WAIT,
        "a code with vowels",
    )
    .await;
    screen.close().await.unwrap();
    phone.close().await.unwrap();
}

/// The screen gives up (its tab closed) while the phone shows the confirmation: the phone
/// says the sign-in ended and offers nothing that can no longer work. A denial says so too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_phone_hears_when_the_screen_leaves_and_when_it_denied() {
    let Some(driver) = chromedriver().await else {
        return;
    };
    let both = phone_at_the_confirmation(&driver, &[]).await;
    both.screen.goto("about:blank").await.unwrap(); // the screen's page is gone
    wait_xpath(
        &both.phone,
        "//h1[@id='outcome-title' and .='This sign-in ended']",
        PAGE_WAIT,
        "the phone hears the screen left",
    )
    .await;
    assert!(
        !shown(&both.phone, "#approve").await,
        "no Approve for a request that ended"
    );
    audit(&driver, &both.phone, "phone-ended").await;

    both.screen
        .goto(&format!("{}/", both.cluster.desktops[0]))
        .await
        .unwrap();
    wait_for(&both.screen, "#qr svg").await;
    let id = shown_request(&both.screen).await;
    both.phone
        .goto(&format!("{}/s/{id}", both.cluster.mobile))
        .await
        .unwrap();
    wait_for(&both.phone, "#confirm:not([hidden]) #deny")
        .await
        .click()
        .await
        .unwrap();
    wait_xpath(
        &both.phone,
        "//h1[@id='outcome-title' and .='Denied']",
        PAGE_WAIT,
        "denied",
    )
    .await;
    audit(&driver, &both.phone, "phone-denied").await;
    both.close().await;
}

/// A Korean and a Thai browser get the pages, and the messages their scripts show, in their
/// language.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn korean_and_thai_browsers_get_their_language() {
    let Some(driver) = chromedriver().await else {
        return;
    };
    let cluster = TestCluster::start(Backend::Sqlite, 1, &[]).await.unwrap();
    for (lang, heading, script_said) in
        [("ko", "로그인", "코드를 스캔"), ("th", "เข้าสู่ระบบ", "สแกน")]
    {
        let (browser, _profile) = browser_with(&driver, &[format!("--accept-lang={lang}")]).await;
        browser
            .goto(&format!("{}/", cluster.desktops[0]))
            .await
            .unwrap();
        wait_for(&browser, "#qr svg").await;
        let html_lang = browser
            .find(Locator::Css("html"))
            .await
            .unwrap()
            .attr("lang")
            .await
            .unwrap();
        assert_eq!(html_lang.as_deref(), Some(lang));
        let title = text(&browser, "h1").await;
        assert!(title.contains(heading), "{lang}: {title}");
        let status = text(&browser, "#status").await;
        assert!(status.contains(script_said), "{lang}: {status}");
        audit(&driver, &browser, &format!("screen-pending-{lang}")).await;
        browser.close().await.unwrap();
    }
}

/// A browser that opens an address with no page gets a page in words (and the favicon every
/// page asks for exists); scripts and API clients still get JSON.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_addresses_answer_browsers_with_a_page() {
    let Some(driver) = chromedriver().await else {
        return;
    };
    let cluster = TestCluster::start(Backend::Sqlite, 1, &[]).await.unwrap();
    let (browser, _profile) = browser(&driver).await;
    for base in [&cluster.desktops[0], &cluster.mobile] {
        browser.goto(&format!("{base}/no-such-page")).await.unwrap();
        assert_eq!(text(&browser, "h1").await, "Nothing here");
        audit(&driver, &browser, "not-found").await;
        let icon = reqwest::get(format!("{base}/favicon.ico")).await.unwrap();
        assert_eq!(icon.status(), 200);
        assert_eq!(icon.headers()["content-type"], "image/svg+xml");
        let api = reqwest::get(format!("{base}/api/no-such-thing"))
            .await
            .unwrap();
        assert_eq!(api.status(), 404);
        assert_eq!(
            api.json::<serde_json::Value>().await.unwrap()["error"],
            "not_found"
        );
    }
    // The phone's pages that only say something: a code that is not ours, and the MentraOS
    // entry opened outside MentraOS.
    browser
        .goto(&format!("{}/s/not-a-code", cluster.mobile))
        .await
        .unwrap();
    assert_eq!(text(&browser, "h1").await, "Unknown code");
    audit(&driver, &browser, "phone-unknown-code").await;
    browser
        .goto(&format!("{}/webview", cluster.mobile))
        .await
        .unwrap();
    assert_eq!(text(&browser, "h1").await, "Open this from MentraOS");
    audit(&driver, &browser, "phone-open-from-mentra").await;
    browser.close().await.unwrap();
}

/// A phone browser started with `camera_flags`, signed in as Erin on the scanner page, that
/// has pressed "Scan with the camera".
async fn camera_pressed(
    driver: &ChromeDriver,
    cluster: &TestCluster,
    camera_flags: &[&str],
) -> (fantoccini::Client, tempfile::TempDir) {
    let flags: Vec<String> = camera_flags.iter().map(|flag| (*flag).to_owned()).collect();
    let (phone, profile) = browser_with(driver, &flags).await;
    phone
        .goto(&format!("{}/scan", cluster.mobile))
        .await
        .unwrap();
    sign_in_as_erin(&phone).await;
    wait_for(&phone, "#camera-start")
        .await
        .click()
        .await
        .unwrap();
    (phone, profile)
}

/// The scanner with the camera on (a fake camera that shows no code: the page keeps looking),
/// and a camera the browser may not use, said in words with the code field focused instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_camera_is_on_show_or_its_refusal_said_in_words() {
    let Some(driver) = chromedriver().await else {
        return;
    };
    let cluster = TestCluster::start(Backend::Sqlite, 1, &[]).await.unwrap();
    cluster
        .add_local_account("erin", "Erin", "correct horse battery")
        .await;
    let fake_camera = [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
    ];
    let (phone, _profile) = camera_pressed(&driver, &cluster, &fake_camera).await;
    wait_for(&phone, "#camera:not([hidden]) #camera-view").await;
    assert_eq!(focused(&phone).await, "camera-stop");
    audit(&driver, &phone, "phone-camera").await;
    phone.close().await.unwrap();

    // A camera is there, and the person says no to it.
    let refused = [
        "--use-fake-device-for-media-stream",
        "--deny-permission-prompts",
    ];
    let (phone, _profile) = camera_pressed(&driver, &cluster, &refused).await;
    wait_xpath(
        &phone,
        "//p[@id='status' and contains(., 'The camera was not allowed')]",
        PAGE_WAIT,
        "a refused camera is said in words",
    )
    .await;
    assert_eq!(
        focused(&phone).await,
        "user-code",
        "typing the code is what is left"
    );
    phone.close().await.unwrap();
}
