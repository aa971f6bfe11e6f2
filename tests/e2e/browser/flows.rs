//! Whole flows in real browsers: the screen's QR page to its dashboard, the phone's pages,
//! PIN mode, the camera, kiosks, Mentra and device links.

use std::time::Duration;

use fantoccini::Locator;
use serde_json::json;

use super::*;
use crate::helpers::{Backend, TestCluster};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_browser_shows_the_qr_and_arrives_at_the_dashboard() {
    let Some(driver) = chromedriver().await else {
        return;
    };
    let cluster = TestCluster::start(Backend::Sqlite, 1, &[]).await.unwrap();
    let (browser, _profile) = browser(&driver).await;

    let phone = cluster.phone("alice@example.com").await;
    signed_in_by_typed_code(&browser, &cluster, &phone).await;
    let name = text(&browser, "#user-name").await;
    assert_eq!(name, "alice@example.com");
    wait_for(&browser, "#sessions li").await;
    let mut listed = Vec::new();
    for item in browser
        .find_all(Locator::Css("#sessions li"))
        .await
        .unwrap()
    {
        listed.push(item.text().await.unwrap());
    }
    assert_eq!(
        listed.len(),
        2,
        "this screen's session and the phone's: {listed:?}"
    );
    assert!(
        listed
            .iter()
            .any(|s| s.starts_with("Screen: Chrome on Linux") && s.ends_with("(this screen)")),
        "{listed:?}"
    );
    // The audit trail is written just off the request path: wait for it rather than race it.
    browser
        .wait()
        .at_most(PAGE_WAIT)
        .for_element(Locator::XPath(
            "//ul[@id='activity']/li[contains(., 'Screen signed in')]",
        ))
        .await
        .unwrap();

    // The same account signs in on another screen: the dashboard says so at once, and its
    // button ends that session.
    let elsewhere = cluster.screen(0);
    let created = crate::helpers::approved(&elsewhere, &phone).await;
    assert_eq!(elsewhere.redeem(&created).await.status(), 200);
    // Under #notices: the page's hidden "sign out everywhere?" dialog is a `.notice` with
    // buttons too, and matched first while the notice was still on its way.
    let notice = wait_for(&browser, "#notices .notice button").await;
    let said = text(&browser, "#notices .notice").await;
    assert!(said.starts_with("New sign-in to your account"), "{said}");
    // Readable in dark mode too: the notice, grey text and both kinds of button (WCAG AA).
    prefer_dark(&driver, &browser).await;
    for element in [
        "#notices .notice",
        ".muted",
        ".button.secondary",
        "#sign-out",
    ] {
        let ratio = contrast(&browser, element).await;
        assert!(ratio >= 4.5, "{element} in dark mode: {ratio:.2}:1");
    }
    if let Ok(png) = browser.screenshot().await {
        let _ = std::fs::write(std::env::temp_dir().join("qrlogin-dashboard.png"), png);
    }
    notice.click().await.unwrap();
    browser
        .wait()
        .at_most(PAGE_WAIT)
        .for_element(Locator::XPath(
            "//p[@id='status' and contains(., 'That session is ended.')]",
        ))
        .await
        .unwrap();
    assert_eq!(elsewhere.me().await.status(), 401);

    // The phone's session, listed with its own Revoke button: the button ends it.
    let revoke = wait_for(&browser, "#sessions li button").await;
    revoke.click().await.unwrap();
    browser
        .wait()
        .at_most(PAGE_WAIT)
        .for_element(Locator::XPath("//ul[@id='sessions' and count(li)=1]"))
        .await
        .unwrap_or_else(|_| panic!("the phone's session is still listed"));
    let said = text(&browser, "#status").await;
    assert!(!said.contains("not a function"), "{said}");
    let scanned = phone.scan(json!({ "user_code": "BCDF-GHJK" })).await;
    assert_eq!(scanned.status(), 401, "the phone is signed out");
    browser.close().await.unwrap();
}

/// Both sides in real browsers: the phone follows the QR's link, signs in with a local
/// account on the sign-in page, sees the confirmation and taps Approve; the screen arrives at
/// its dashboard.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phone_browser_follows_the_qr_link_signs_in_and_approves() {
    let Some(driver) = chromedriver().await else {
        return;
    };
    let both = phone_at_the_confirmation(&driver, &[]).await;
    if let Ok(png) = both.phone.screenshot().await {
        let _ = std::fs::write(std::env::temp_dir().join("qrlogin-confirm.png"), png);
    }
    both.phone
        .find(Locator::Id("approve"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    both.screen_reaches_the_dashboard().await;
    wait_xpath(
        &both.phone,
        "//h1[@id='outcome-title' and (.='Approved' or .='Signed in')]",
        PAGE_WAIT,
        "the phone says it is approved",
    )
    .await;
    both.close().await;
}

/// PIN mode in real browsers: the phone shows a PIN after Approve; a wrong PIN typed on the
/// screen is refused and shown on the phone as an attempt; the right one signs the screen in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_pin_mode_the_screen_types_the_pin_the_phone_shows() {
    let Some(driver) = chromedriver().await else {
        return;
    };
    let both = phone_at_the_confirmation(&driver, &[("LOGIN_CONFIRMATION", "pin")]).await;
    both.phone
        .find(Locator::Id("approve"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(&both.phone, "#pin-box:not([hidden])").await;
    let pin = text(&both.phone, "#pin").await;
    assert_eq!(pin.len(), 6, "{pin:?}");
    audit(&driver, &both.phone, "phone-pin").await;

    let wrong = if pin == "000000" { "111111" } else { "000000" };
    let form = wait_for(&both.screen, "#pin-form:not([hidden])").await;
    let input = form.find(Locator::Id("pin")).await.unwrap();
    input.send_keys(wrong).await.unwrap();
    form.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    both.phone
        .wait()
        .at_most(PAGE_WAIT)
        .for_element(Locator::XPath(
            "//p[@id='pin-attempts' and contains(., 'Wrong PINs typed on the screen: 1')]",
        ))
        .await
        .unwrap();

    input.send_keys(&pin).await.unwrap();
    form.find(Locator::Css("button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    both.screen_reaches_the_dashboard().await;
    wait_xpath(
        &both.phone,
        "//h1[@id='outcome-title' and .='Signed in']",
        PAGE_WAIT,
        "the phone hears the PIN was typed and the screen signed in",
    )
    .await;
    both.close().await;
}

/// A phone browser whose camera sees the screen: Chromium's fake camera plays a frame with
/// the request's QR code (turned and seen at an angle); the scanner page sends frames to
/// `POST /api/frames` (Chromium on Linux has no BarcodeDetector) until the code is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scanner_page_reads_the_code_through_the_phone_camera() {
    let Some(driver) = chromedriver().await else {
        return;
    };
    let cluster = TestCluster::start(Backend::Sqlite, 1, &[]).await.unwrap();
    cluster
        .add_local_account("erin", "Erin", "correct horse battery")
        .await;
    let created = cluster.screen(0).create().await;
    let (width, height) = (640, 480);
    let mut scene = qrlogin_testkit::frames::Scene::plain(width, height);
    scene.angle = 15.0;
    scene.tilt = 0.1;
    let luma = qrlogin_testkit::frames::render(&created.qr_url, &scene);
    // A Y4M video (what Chromium's fake camera plays): greyscale, so the colour planes are flat.
    let mut video = format!("YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n").into_bytes();
    for _ in 0..5 {
        video.extend_from_slice(b"FRAME\n");
        video.extend_from_slice(&luma);
        video.extend(std::iter::repeat_n(128u8, (width * height / 2) as usize));
    }
    let dir = tempfile::tempdir().unwrap();
    let camera = dir.path().join("camera.y4m");
    std::fs::write(&camera, video).unwrap();
    let (phone, _profile) = browser_with(
        &driver,
        &[
            "--use-fake-ui-for-media-stream".into(),
            "--use-fake-device-for-media-stream".into(),
            format!("--use-file-for-fake-video-capture={}", camera.display()),
        ],
    )
    .await;

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
    wait_for(&phone, "#confirm:not([hidden]) #approve").await;
    let shown_code = text(&phone, "#c-code").await;
    assert_eq!(
        shown_code.replace('-', ""),
        created.user_code.replace('-', "")
    );
    let trail = cluster.audit_trail().await;
    assert!(
        trail
            .iter()
            .any(|r| r.login_request.as_deref() == Some(created.id.as_str())
                && r.detail.as_deref() == Some("read from a camera frame")),
        "claimed from a frame the page sent"
    );
    phone.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kiosk_left_alone_signs_itself_out_back_to_a_fresh_code() {
    let Some(driver) = chromedriver().await else {
        return;
    };
    // Long enough for the audit of the signed-in kiosk to finish first.
    let cluster = TestCluster::start(Backend::Sqlite, 1, &[("KIOSK_IDLE_TIMEOUT", "25s")])
        .await
        .unwrap();
    let (browser, _profile) = browser(&driver).await;
    let phone = cluster.phone("kim@example.com").await;
    signed_in_by_typed_code(&browser, &cluster, &phone).await;
    let dashboard = url::Url::parse(&format!("{}/dashboard", cluster.desktops[0])).unwrap();
    // The countdown is on show while the kiosk is signed in.
    browser
        .wait()
        .at_most(PAGE_WAIT)
        .for_element(Locator::XPath(
            "//p[@id='idle' and contains(., 'signs out after 25 s without use')]",
        ))
        .await
        .unwrap();
    audit(&driver, &browser, "kiosk").await;
    // Nobody touches it: it signs out and shows a fresh code.
    let start = url::Url::parse(&format!("{}/", cluster.desktops[0])).unwrap();
    browser
        .wait()
        .at_most(Duration::from_secs(40))
        .for_url(&start)
        .await
        .unwrap();
    wait_for(&browser, "#qr svg").await;
    // Signed out for real: the dashboard sends it back to the code.
    browser.goto(dashboard.as_str()).await.unwrap();
    browser
        .wait()
        .at_most(PAGE_WAIT)
        .for_url(&start)
        .await
        .unwrap();
    browser.close().await.unwrap();
}

/// "Sign in with Mentra" in a real phone browser: the button on a code's sign-in page posts to
/// us and is sent on to MentraOS's account site (which the page's policy must let a form
/// reach); coming back with a signed token lands on that code's confirmation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_with_mentra_leaves_for_the_account_site_and_returns_to_the_code() {
    let Some(driver) = chromedriver().await else {
        return;
    };
    let account_site = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::path("/auth"))
        .respond_with(
            wiremock::ResponseTemplate::new(200)
                .set_body_raw("<p>MentraOS account</p>", "text/html"),
        )
        .mount(&account_site)
        .await;
    let cluster = TestCluster::start(
        Backend::Sqlite,
        1,
        &[("MENTRAOS_ACCOUNT_URL", &account_site.uri())],
    )
    .await
    .unwrap();
    let created = cluster.screen(0).create().await;
    let (phone, _profile) = browser(&driver).await;
    phone.goto(&created.qr_url).await.unwrap();
    wait_for(&phone, "form[action='/mentra-auth'] button")
        .await
        .click()
        .await
        .unwrap();
    let account = url::Url::parse(&format!(
        "{}/auth?packagename={}",
        account_site.uri(),
        qrlogin_testkit::mentra::PACKAGE_NAME
    ))
    .unwrap();
    if phone
        .wait()
        .at_most(PAGE_WAIT)
        .for_url(&account)
        .await
        .is_err()
    {
        let now_at = phone.current_url().await.unwrap();
        let page = phone.source().await.unwrap();
        panic!("expected {account}, at {now_at}: {page}");
    }

    let token = qrlogin_testkit::mentra::UserTokenSpec::for_user("kim@example.com").sign();
    phone
        .goto(&format!(
            "{}/webview?aos_signed_user_token={token}&source=oauth",
            cluster.mobile
        ))
        .await
        .unwrap();
    wait_for(&phone, "#confirm:not([hidden]) #approve").await;
    assert_eq!(text(&phone, "#c-code").await, created.user_code);
    phone.close().await.unwrap();
}

/// Sign in on another device, in two real browsers: the signed-in screen shows a link; the
/// new device opens it, is asked "Sign in as …?" and nothing happens before the click; after
/// it, the device shows its code; the signed-in screen is asked about the device with the code
/// field focused, a wrong code is refused there, and the right one signs the new device in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_device_shows_its_code_and_the_signed_in_screen_types_it() {
    let Some(driver) = chromedriver().await else {
        return;
    };
    let cluster = TestCluster::start(Backend::Sqlite, 1, &[]).await.unwrap();
    let (screen, _screen_profile) = browser(&driver).await;
    let (device, _device_profile) = browser(&driver).await;
    let phone = cluster.phone("lee@example.com").await;
    signed_in_by_typed_code(&screen, &cluster, &phone).await;

    screen
        .find(Locator::Id("link-make"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(&screen, "#link:not([hidden]) #link-qr svg").await;
    let link = text(&screen, "#link-url").await;

    device.goto(&link).await.unwrap();
    wait_for(&device, "#claim").await;
    assert_eq!(text(&device, "h1").await, "Sign in as lee@example.com?");
    // Opening the page (its script has run: the button is there) claimed nothing: the link
    // still waits, as the signed-in screen sees it.
    let id = link.rsplit('/').next().unwrap();
    let seen = screen
        .execute_async(
            "const [id, done] = arguments; fetch('/api/device-links/' + id).then(r => r.json()).then(v => done(v.state));",
            vec![json!(id)],
        )
        .await
        .unwrap();
    assert_eq!(seen, json!("waiting"), "claimed before the click");
    audit(&driver, &device, "link-ask").await;
    device
        .find(Locator::Id("claim"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_for(&device, "#wait:not([hidden]) #code").await;
    let shown = text(&device, "#code").await;
    let code: String = shown.chars().filter(char::is_ascii_digit).collect();
    assert_eq!(
        code.len(),
        6,
        "the device shows a 6-digit code, got {shown:?}"
    );
    audit(&driver, &device, "link-waiting").await;

    // The signed-in screen asks about the device, with the code field focused.
    wait_for(&screen, "#link-ask:not([hidden])").await;
    let question = text(&screen, "#link-question").await;
    assert!(question.contains("127.0.0.1"), "{question}");
    let focused = screen
        .active_element()
        .await
        .unwrap()
        .attr("id")
        .await
        .unwrap();
    assert_eq!(focused.as_deref(), Some("link-code"));
    // In view, not below the fold of a 1366×768 screen.
    let in_view = screen
        .execute(
            "const r = document.getElementById('link-ask').getBoundingClientRect(); return r.top >= 0 && r.top < innerHeight;",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(in_view, json!(true), "the question is scrolled into view");
    audit(&driver, &screen, "dashboard-link-question").await;
    let wrong = if code == "000000" { "999999" } else { "000000" };
    let input = screen.find(Locator::Id("link-code")).await.unwrap();
    input.send_keys(wrong).await.unwrap();
    screen
        .find(Locator::Id("link-allow"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    screen
        .wait()
        .at_most(PAGE_WAIT)
        .for_element(Locator::XPath(
            "//p[@id='link-error' and contains(., 'Tries left: 2')]",
        ))
        .await
        .unwrap();
    let input = screen.find(Locator::Id("link-code")).await.unwrap();
    input.send_keys(&shown).await.unwrap();
    screen
        .find(Locator::Id("link-allow"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    // The new device collects its own session and arrives at its dashboard.
    let dashboard = url::Url::parse(&format!("{}/dashboard", cluster.desktops[0])).unwrap();
    device
        .wait()
        .at_most(PAGE_WAIT)
        .for_url(&dashboard)
        .await
        .unwrap();
    assert_eq!(text(&device, "#user-name").await, "lee@example.com");
    // The screen that allowed it is told calmly, not warned about its own doing.
    wait_xpath(
        &screen,
        "//div[@class='notice' and @role='status' and contains(., 'Your other device is signed in')]",
        PAGE_WAIT,
        "the allowed device's sign-in is expected",
    )
    .await;
    assert!(
        screen
            .find(Locator::Css(".notice[role=alert]"))
            .await
            .is_err(),
        "no 'Not you?' warning for the device just allowed"
    );
    // Opened again, the used link has nothing to offer, and says so.
    device.goto(&link).await.unwrap();
    let step = wait_for(&device, "#link")
        .await
        .attr("data-step")
        .await
        .unwrap();
    assert!(matches!(step.as_deref(), Some("gone" | "same")), "{step:?}");
    audit(&driver, &device, "link-used").await;
    screen.close().await.unwrap();
    device.close().await.unwrap();
}

/// Login CSRF in a real browser: a browser signed in as lee follows, from another site, a link
/// mallory made. The session cookie is SameSite=Strict, so the page's first rendering cannot
/// see it; the page still tells lee plainly, offers no button, and lee stays lee.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_followed_from_another_site_never_switches_a_signed_in_browser() {
    let Some(driver) = chromedriver().await else {
        return;
    };
    let cluster = TestCluster::start(Backend::Sqlite, 1, &[]).await.unwrap();
    let mallory = cluster.screen(0);
    let mallory_phone = cluster.phone("mallory@example.com").await;
    let created = crate::helpers::approved(&mallory, &mallory_phone).await;
    assert_eq!(mallory.redeem(&created).await.status(), 200);
    let link: serde_json::Value = mallory
        .client
        .post(format!("{}/api/device-links", mallory.base))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = link["url"].as_str().unwrap();

    let (victim, _profile) = browser(&driver).await;
    let phone = cluster.phone("lee@example.com").await;
    signed_in_by_typed_code(&victim, &cluster, &phone).await;
    // A page elsewhere (another site: an opaque origin) links to mallory's link.
    victim
        .goto(&format!(
            "data:text/html,<a id=\"go\" href=\"{url}\">a funny cat</a>"
        ))
        .await
        .unwrap();
    victim
        .find(Locator::Id("go"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    victim
        .wait()
        .at_most(PAGE_WAIT)
        .for_element(Locator::XPath(
            "//main[@data-step='other']//p[contains(., 'This browser is signed in as lee@example.com. Sign out here first to sign in as mallory@example.com.')]",
        ))
        .await
        .unwrap();
    assert!(victim.find(Locator::Id("claim")).await.is_err());
    audit(&driver, &victim, "link-other").await;
    victim
        .goto(&format!("{}/dashboard", cluster.desktops[0]))
        .await
        .unwrap();
    wait_for(&victim, "#user-name").await;
    assert_eq!(text(&victim, "#user-name").await, "lee@example.com");
    victim.close().await.unwrap();
}
