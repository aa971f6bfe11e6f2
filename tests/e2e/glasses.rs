//! Mentra Live: a wearer looks at the screen's QR, presses the camera button, hears what
//! would be signed in and where, and presses again. Against a fake MentraOS cloud that
//! follows `shared/mentraos/app-protocol.md` (webhook, app socket, button events, photo
//! requests answered by uploading an image, recorded speech).

use std::io::Cursor;
use std::time::Duration;

use qrlogin_testkit::frames::{Scene, render};
use qrlogin_testkit::mentra_cloud::{Press, Wearer};
use serde_json::json;

use crate::helpers::{Backend, Created, Screen, TestCluster};

/// What the glasses' camera sees: the screen's QR code, turned and tilted, in a 1920×1080
/// JPEG (the size we ask for).
fn photo_of(text: &str) -> Vec<u8> {
    let mut scene = Scene::plain(1920, 1080);
    scene.angle = 12.0;
    scene.tilt = 0.1;
    scene.noise = 8;
    jpeg(1920, 1080, render(text, &scene))
}

fn jpeg(width: u32, height: u32, pixels: Vec<u8>) -> Vec<u8> {
    let image = image::GrayImage::from_raw(width, height, pixels).unwrap();
    let mut bytes = Cursor::new(Vec::new());
    image
        .write_to(&mut bytes, image::ImageFormat::Jpeg)
        .unwrap();
    bytes.into_inner()
}

/// A photo of a wall: no code at all.
fn photo_of_nothing() -> Vec<u8> {
    let pixels = (0..640u32 * 480)
        .map(|i| (100 + (i * 7919) % 40) as u8)
        .collect();
    jpeg(640, 480, pixels)
}

/// Looks at `created`'s QR and presses: the photo is taken, uploaded and read.
async fn look_and_press(wearer: &Wearer, created: &Created) {
    wearer.queue_photo(photo_of(&created.qr_url));
    wearer.press(Press::Short).await;
    let upload = wearer.next_upload().await;
    assert_eq!(upload.status, 200, "{}", upload.body);
}

/// A cluster on the embedded store, a screen, and Wendy wearing glasses, app started.
async fn wendy_at_a_screen(extra: &[(&str, &str)]) -> Option<(TestCluster, Screen, Wearer)> {
    let cluster = TestCluster::start(Backend::Sqlite, 1, extra).await?;
    let screen = cluster.screen(0);
    let wearer = cluster.glasses.wearer("wendy@example.com").await;
    Some((cluster, screen, wearer))
}

async fn state_of(screen: &Screen, created: &Created) -> String {
    screen.poll(created).await["state"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn signed_in_as(screen: &Screen, created: &Created, user_id: &str) {
    assert_eq!(screen.redeem(created).await.status(), 200);
    let me: serde_json::Value = screen.me().await.json().await.unwrap();
    assert_eq!(me["user"]["id"], format!("mentra:{user_id}"));
}

async fn two_presses_sign_in(backend: Backend) {
    let Some(cluster) = TestCluster::start(backend, 1, &[]).await else {
        return;
    };
    let screen = cluster.screen(0);
    let created = screen.create().await;
    let wearer = cluster.glasses.wearer("wendy@example.com").await;

    look_and_press(&wearer, &created).await;
    let prompt = wearer.next_speech().await;
    assert!(
        prompt.text.starts_with("Sign in to qrlogin on ")
            && prompt.text.ends_with("Press again to confirm."),
        "{}",
        prompt.text
    );
    // The cloud's own text-to-speech, as an absolute URL the phone can fetch.
    assert!(
        prompt
            .url
            .starts_with(&format!("http://{}/api/tts?text=", cluster.glasses.host())),
        "{}",
        prompt.url
    );
    // Claimed by the wearer, not approved: one press never signs anything in.
    assert_eq!(state_of(&screen, &created).await, "claimed");

    wearer.press(Press::Short).await;
    assert!(wearer.next_speech().await.text.starts_with("Approved."));
    assert_eq!(state_of(&screen, &created).await, "approved");
    signed_in_as(&screen, &created, "wendy@example.com").await;

    // What went over the wire is what the protocol document asks for.
    let sent = wearer.received();
    let init = &sent[0];
    assert_eq!(init["type"], "tpa_connection_init");
    assert_eq!(init["sessionId"], wearer.session_id());
    assert!(init.get("sdkVersion").is_none());
    assert!(sent.iter().any(
        |m| m["type"] == "subscription_update" && m["subscriptions"] == json!(["button_press"])
    ));
    let photo_request = sent.iter().find(|m| m["type"] == "photo_request").unwrap();
    assert_eq!(
        photo_request["customWebhookUrl"],
        format!("{}/photo-upload", cluster.mobile)
    );
    assert!(photo_request["authToken"].as_str().unwrap().len() >= 32);

    let trail = cluster.audit_trail().await;
    assert!(trail.iter().any(|r| {
        r.login_request.as_deref() == Some(created.id.as_str())
            && r.detail.as_deref() == Some("read from a Mentra Live photo")
            && r.user.as_deref() == Some("mentra:wendy@example.com")
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_presses_sign_the_screen_in_as_the_wearer() {
    two_presses_sign_in(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_presses_sign_the_screen_in_as_the_wearer_on_redis() {
    two_presses_sign_in(Backend::Redis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_without_a_code_is_spoken_and_claims_nothing() {
    let Some((_cluster, screen, wearer)) = wendy_at_a_screen(&[]).await else {
        return;
    };
    let created = screen.create().await;
    wearer.queue_photo(photo_of_nothing());
    wearer.press(Press::Short).await;
    assert_eq!(wearer.next_upload().await.status, 200);
    assert!(
        wearer
            .next_speech()
            .await
            .text
            .starts_with("No sign-in code in view.")
    );
    assert_eq!(state_of(&screen, &created).await, "pending");

    // The next press tries again, and works.
    look_and_press(&wearer, &created).await;
    assert!(wearer.next_speech().await.text.starts_with("Sign in to"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_press_or_silence_denies() {
    let Some((_cluster, screen, wearer)) = wendy_at_a_screen(&[]).await else {
        return;
    };

    let refused = screen.create().await;
    look_and_press(&wearer, &refused).await;
    wearer.next_speech().await;
    wearer.press(Press::Long).await;
    assert_eq!(
        wearer.next_speech().await.text,
        "Cancelled. Nothing was signed in."
    );
    assert_eq!(state_of(&screen, &refused).await, "denied");

    let ignored = screen.create().await;
    look_and_press(&wearer, &ignored).await;
    wearer.next_speech().await;
    // No second press within the confirmation window (10 s).
    assert_eq!(
        wearer.next_speech().await.text,
        "Not confirmed, so nothing was signed in."
    );
    assert_eq!(state_of(&screen, &ignored).await, "denied");
    assert_ne!(screen.redeem(&ignored).await.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_and_taken_codes_are_spoken() {
    let Some((cluster, screen, wearer)) = wendy_at_a_screen(&[]).await else {
        return;
    };

    let taken = screen.create().await;
    let phone = cluster.phone("mallory@example.com").await;
    assert_eq!(phone.scan_id(&taken.id).await.status(), 200);
    look_and_press(&wearer, &taken).await;
    assert_eq!(
        wearer.next_speech().await.text,
        "Someone else already scanned that code. Nothing was signed in."
    );

    let expired = screen.create().await;
    cluster.clock.advance(Duration::from_secs(61));
    look_and_press(&wearer, &expired).await;
    assert_eq!(
        wearer.next_speech().await.text,
        "That code has expired. Start again on the screen."
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_pin_mode_the_pin_is_spoken_and_typed_on_the_screen() {
    let Some(cluster) =
        TestCluster::start(Backend::Sqlite, 1, &[("LOGIN_CONFIRMATION", "pin")]).await
    else {
        return;
    };
    let screen = cluster.screen(0);
    let created = screen.create().await;
    let wearer = cluster.glasses.wearer("wendy@example.com").await;
    look_and_press(&wearer, &created).await;
    wearer.next_speech().await;
    wearer.press(Press::Short).await;
    let spoken = wearer.next_speech().await.text;
    assert!(spoken.starts_with("Approved. Type the PIN "), "{spoken}");
    let pin: String = spoken.chars().filter(char::is_ascii_digit).collect();
    assert_eq!(pin.len(), 6);
    assert_eq!(screen.redeem(&created).await.status(), 409);
    assert_eq!(screen.enter_pin(&created, &pin).await.status(), 200);
    signed_in_as(&screen, &created, "wendy@example.com").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_wearers_at_once_each_sign_in_their_own_screen() {
    let Some(cluster) = TestCluster::start(Backend::Sqlite, 1, &[]).await else {
        return;
    };
    let sign_in = |user: &'static str| {
        let cluster = &cluster;
        async move {
            let screen = cluster.screen(0);
            let created = screen.create().await;
            let wearer = cluster.glasses.wearer(user).await;
            look_and_press(&wearer, &created).await;
            assert!(wearer.next_speech().await.text.starts_with("Sign in to"));
            wearer.press(Press::Short).await;
            assert!(wearer.next_speech().await.text.starts_with("Approved."));
            signed_in_as(&screen, &created, user).await;
        }
    };
    tokio::join!(sign_in("wendy@example.com"), sign_in("walter@example.com"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cloud_dropping_the_socket_mid_flow_loses_nothing() {
    let Some((_cluster, screen, wearer)) = wendy_at_a_screen(&[]).await else {
        return;
    };
    let created = screen.create().await;
    look_and_press(&wearer, &created).await;
    wearer.next_speech().await;

    // Between the prompt and the confirming press, the cloud loses the socket: the app
    // re-initialises within the grace period and the sign-in goes on where it was.
    wearer.drop_socket().await;
    wearer.wait_subscribed().await;
    assert_eq!(wearer.inits(), 2);
    wearer.press(Press::Short).await;
    let spoken = wearer.next_speech().await.text;
    assert!(spoken.starts_with("Approved."), "{spoken}");
    signed_in_as(&screen, &created, "wendy@example.com").await;
}

/// `POST /photo-upload` as the glasses send it, or as anyone could.
async fn upload(
    cluster: &TestCluster,
    request_id: &str,
    token: Option<&str>,
    photo: Vec<u8>,
) -> (u16, String) {
    let form = reqwest::multipart::Form::new()
        .text("requestId", request_id.to_owned())
        .text("type", "photo_upload")
        .text("success", "true")
        .part(
            "photo",
            reqwest::multipart::Part::bytes(photo)
                .file_name("IMG_0001.jpg")
                .mime_str("image/jpeg")
                .unwrap(),
        );
    let mut request = crate::helpers::client()
        .post(format!("{}/photo-upload", cluster.mobile))
        .multipart(form);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_replayed_and_late_uploads_are_refused() {
    let Some((cluster, screen, wearer)) = wendy_at_a_screen(&[]).await else {
        return;
    };
    let created = screen.create().await;
    // The camera is slow: the photo is awaited while a forger, who saw the screen's QR,
    // uploads a photo of it first.
    wearer.hold_next_photo();
    wearer.press(Press::Short).await;
    let asked = wearer.photo_request(0).await;
    let id = asked["requestId"].as_str().unwrap();
    let token = asked["authToken"].as_str().unwrap();
    let genuine = || photo_of(&created.qr_url);

    let (status, body) = upload(&cluster, id, None, genuine()).await;
    assert_eq!(status, 401, "{body}");
    let wrong_secret = format!("{id}.forged-secret");
    assert_eq!(
        upload(&cluster, id, Some(&wrong_secret), genuine()).await.0,
        401
    );
    assert_eq!(upload(&cluster, id, Some("forged"), genuine()).await.0, 401);
    let unknown = "photo_req_AAAAAAAAAAAAAAAAAAAAAA.secret";
    assert_eq!(upload(&cluster, id, Some(unknown), genuine()).await.0, 404);
    // The right token for another photo id in the body.
    assert_eq!(
        upload(&cluster, "photo_req_other", Some(token), genuine())
            .await
            .0,
        400
    );
    // None of that claimed anything, and the photo is still awaited.
    assert_eq!(state_of(&screen, &created).await, "pending");

    // The glasses' own upload goes through, once.
    let (status, body) = upload(&cluster, id, Some(token), genuine()).await;
    assert_eq!(status, 200, "{body}");
    assert!(wearer.next_speech().await.text.starts_with("Sign in to"));
    assert_eq!(state_of(&screen, &created).await, "claimed");
    assert_eq!(upload(&cluster, id, Some(token), genuine()).await.0, 409);
    wearer.press(Press::Long).await;
    assert_eq!(
        wearer.next_speech().await.text,
        "Cancelled. Nothing was signed in."
    );

    // A photo asked for more than 30 s ago is no longer awaited.
    let later = screen.create().await;
    wearer.hold_next_photo();
    wearer.press(Press::Short).await;
    let asked = wearer.photo_request(1).await;
    cluster.clock.advance(Duration::from_secs(31));
    let (late_id, late_token) = (
        asked["requestId"].as_str().unwrap(),
        asked["authToken"].as_str().unwrap(),
    );
    assert_eq!(
        upload(&cluster, late_id, Some(late_token), photo_of(&later.qr_url))
            .await
            .0,
        404
    );

    assert_eq!(state_of(&screen, &created).await, "denied");
    let trail = cluster.audit_trail().await;
    assert!(
        trail
            .iter()
            .any(|r| r.detail.as_deref() == Some("photo upload without its token"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_camera_that_fails_is_spoken_and_a_late_upload_claims_nothing() {
    let Some((cluster, screen, wearer)) = wendy_at_a_screen(&[]).await else {
        return;
    };
    let created = screen.create().await;
    // No photo to upload: the glasses report CAMERA_CAPTURE_FAILED over the socket.
    wearer.press(Press::Short).await;
    assert_eq!(
        wearer.next_speech().await.text,
        "The camera could not take a picture. Press again to try again."
    );
    // A (Bluetooth) re-upload of that photo arriving afterwards finds it closed: nobody is
    // waiting to confirm, so it must not claim the screen for the wearer.
    let asked = wearer.photo_request(0).await;
    let (status, _) = upload(
        &cluster,
        asked["requestId"].as_str().unwrap(),
        asked["authToken"].as_str(),
        photo_of(&created.qr_url),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(state_of(&screen, &created).await, "pending");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_for_a_session_that_is_not_the_users_is_refused() {
    let Some(cluster) = TestCluster::start(Backend::Sqlite, 1, &[]).await else {
        return;
    };
    let (status, body) = cluster
        .glasses
        .post_webhook(json!({
            "type": "session_request",
            "sessionId": "wendy@example.com-com.example.qrlogin",
            "userId": "eve@example.com",
            "timestamp": "2026-11-22T12:00:00.000Z",
            "websocketUrl": format!("{}/app-ws", cluster.glasses.ws_base()),
        }))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(cluster.glasses.connections(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_naming_a_host_outside_the_allow_list_is_refused() {
    let Some(cluster) = TestCluster::start(Backend::Sqlite, 1, &[]).await else {
        return;
    };
    // The fake cloud is reachable as `localhost` too, but only `127.0.0.1:port` is listed:
    // nothing may be dialled, so our API key goes nowhere.
    let port = cluster
        .glasses
        .host()
        .rsplit_once(':')
        .unwrap()
        .1
        .to_owned();
    for url in [
        format!("ws://localhost:{port}/app-ws"),
        "wss://evil.example/app-ws".to_owned(),
        "wss://api.mentra.glass.evil.example/app-ws".to_owned(),
    ] {
        let (status, body) = cluster
            .glasses
            .post_webhook(json!({
                "type": "session_request",
                "sessionId": "eve@example.com-com.example.qrlogin",
                "userId": "eve@example.com",
                "timestamp": "2026-11-22T12:00:00.000Z",
                "websocketUrl": url,
            }))
            .await;
        assert_eq!(status, 403, "{body}");
        assert!(
            body.contains("not a MentraOS cloud host we trust"),
            "{body}"
        );
    }
    assert_eq!(cluster.glasses.connections(), 0);

    // Not a webhook at all.
    let (status, _) = cluster
        .glasses
        .post_webhook(json!({"type": "nonsense"}))
        .await;
    assert_eq!(status, 400);
    // A stop for a session nobody holds is fine (the cloud may repeat itself).
    let (status, _) = cluster
        .glasses
        .post_webhook(json!({"type": "stop_request", "sessionId": "x", "userId": "x", "reason": "user_disabled"}))
        .await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeated_webhook_keeps_one_session_and_a_stopped_app_can_start_again() {
    let Some((cluster, screen, wearer)) = wendy_at_a_screen(&[]).await else {
        return;
    };
    // The cloud retrying, or resurrecting the session: one session, on the newest socket.
    let (status, again) = cluster.glasses.session_request("wendy@example.com").await;
    assert_eq!(status, 200);
    again.wait_subscribed().await;
    assert_eq!(wearer.inits(), 2);
    let created = screen.create().await;
    look_and_press(&wearer, &created).await;
    assert!(wearer.next_speech().await.text.starts_with("Sign in to"));
    wearer.press(Press::Short).await;
    assert!(wearer.next_speech().await.text.starts_with("Approved."));
    // One prompt and one approval: the replaced socket's session answered nothing.
    let speeches = wearer
        .received()
        .into_iter()
        .filter(|m| m["type"] == "audio_play_request")
        .count();
    assert_eq!(speeches, 2);

    // The wearer stops the app; starting it again gives a working session.
    wearer.stop().await;
    let (status, restarted) = cluster.glasses.session_request("wendy@example.com").await;
    assert_eq!(status, 200);
    restarted.wait_subscribed().await;
    assert_eq!(wearer.inits(), 3);
    let created = screen.create().await;
    look_and_press(&restarted, &created).await;
    assert!(restarted.next_speech().await.text.starts_with("Sign in to"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_webhooks_are_budgeted_per_address() {
    let Some(cluster) = TestCluster::start(
        Backend::Sqlite,
        1,
        &[("RATE_LIMIT_WEBHOOKS_PER_IP", "2/1m")],
    )
    .await
    else {
        return;
    };
    let forged = json!({
        "type": "session_request",
        "sessionId": "eve@example.com-com.example.qrlogin",
        "userId": "eve@example.com",
        "websocketUrl": "wss://evil.example/app-ws",
    });
    for _ in 0..2 {
        assert_eq!(cluster.glasses.post_webhook(forged.clone()).await.0, 403);
    }
    let (status, body) = cluster.glasses.post_webhook(forged).await;
    assert_eq!(status, 429, "{body}");
}

/// `/webhook` is unsigned: every kind of call spends from the address's budget, a session id
/// that could forge a log line is refused, and a body is at most 16 KiB.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_webhooks_cannot_flood_or_forge_log_lines() {
    let Some(cluster) = TestCluster::start(
        Backend::Sqlite,
        1,
        &[("RATE_LIMIT_WEBHOOKS_PER_IP", "2/1m")],
    )
    .await
    else {
        return;
    };
    let stop = |session_id: String| json!({"type": "stop_request", "sessionId": session_id, "userId": "x", "reason": "user_disabled"});
    let forged = "x\n2026-12-02T09:00:00Z INFO audit event=\"redeem\" user=\"local:admin\"";
    let (status, body) = cluster.glasses.post_webhook(stop(forged.into())).await;
    assert_eq!(status, 400, "a newline in the session id: {body}");
    let (status, _) = cluster.glasses.post_webhook(stop("y".repeat(20_000))).await;
    assert_eq!(status, 413, "a body over 16 KiB");
    let (status, _) = cluster.glasses.post_webhook(stop("z".into())).await;
    assert_eq!(status, 200);
    let (status, body) = cluster.glasses.post_webhook(stop("z".into())).await;
    assert_eq!(
        status, 429,
        "stop requests spend from the budget too: {body}"
    );
    assert!(
        !crate::helpers::captured_logs().contains("local:admin"),
        "the forged record reached the log"
    );
}

/// What the glasses see when an attacker's screen (a second monitor, a printout) stands beside
/// the real one: two codes of ours, side by side, in one 1920×1080 photo.
fn photo_of_two(left: &str, right: &str) -> Vec<u8> {
    photo_of_two_seen(left, right, Shown::DarkOnLight)
}

/// How the right-hand screen shows its code.
#[derive(Clone, Copy, PartialEq)]
enum Shown {
    DarkOnLight,
    /// Light on dark (a dark-mode page): the decoder reads it only on a later pass.
    LightOnDark,
}

fn photo_of_two_seen(left: &str, right: &str, shown: Shown) -> Vec<u8> {
    let half = |text: &str| {
        let mut scene = Scene::plain(960, 1080);
        scene.angle = 5.0;
        scene.noise = 4;
        render(text, &scene)
    };
    let mut right = half(right);
    if shown == Shown::LightOnDark {
        right.iter_mut().for_each(|p| *p = 255 - *p);
    }
    let left = half(left);
    let pixels = left
        .chunks(960)
        .zip(right.chunks(960))
        .flat_map(|(l, r)| l.iter().chain(r).copied())
        .collect();
    jpeg(1920, 1080, pixels)
}

/// The QR-jacking attack: the attacker's code in view beside the real one. The first code
/// read was once claimed; now neither is, and the wearer is told why.
async fn two_codes_in_view_claim_neither(backend: Backend) {
    let Some(cluster) = TestCluster::start(backend, 1, &[]).await else {
        return;
    };
    let screen = cluster.screen(0);
    let real = screen.create().await;
    let attackers = cluster.screen(0).create().await;
    let wearer = cluster.glasses.wearer("wendy@example.com").await;

    for photo in [
        photo_of_two(&attackers.qr_url, &real.qr_url),
        photo_of_two(&real.qr_url, &attackers.qr_url),
        // The attacker's code reads at once, the real one only on a later pass: both are
        // still seen.
        photo_of_two_seen(&attackers.qr_url, &real.qr_url, Shown::LightOnDark),
    ] {
        wearer.queue_photo(photo);
        wearer.press(Press::Short).await;
        assert_eq!(wearer.next_upload().await.status, 200);
        let spoken = wearer.next_speech().await.text;
        assert!(spoken.starts_with("More than one sign-in code"), "{spoken}");
    }
    assert_eq!(state_of(&screen, &real).await, "pending");
    assert_eq!(state_of(&screen, &attackers).await, "pending");
    let refused = cluster
        .audit_trail()
        .await
        .into_iter()
        .filter(|r| {
            r.event == qrlogin_auth::audit::AuditEvent::Claim && r.outcome == "several_codes"
        })
        .count();
    assert_eq!(refused, 3);

    // Looking at the real screen alone still signs it in.
    look_and_press(&wearer, &real).await;
    let prompt = wearer.next_speech().await.text;
    let code: Vec<String> = real
        .user_code
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(String::from)
        .collect();
    assert!(
        prompt.contains(&code.join(" ")),
        "the code is spoken: {prompt}"
    );
    wearer.press(Press::Short).await;
    assert!(wearer.next_speech().await.text.starts_with("Approved."));
    signed_in_as(&screen, &real, "wendy@example.com").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_with_two_of_our_codes_claims_neither() {
    two_codes_in_view_claim_neither(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_with_two_of_our_codes_claims_neither_on_redis() {
    two_codes_in_view_claim_neither(Backend::Redis).await;
}

/// A screen on another network than the glasses (a relayed code): the wearer cannot read a
/// warning, so it is refused unless the operator allows it, and then the warning is spoken.
async fn a_far_screen(backend: Backend, policy: &str) -> Option<(TestCluster, Created, String)> {
    let vars = [
        ("TRUST_PROXY", "127.0.0.1"),
        ("GLASSES_NETWORK_MISMATCH", policy),
    ];
    let cluster = TestCluster::start(backend, 1, &vars).await?;
    // The screen reached us through the proxy from far away; the glasses upload from here.
    let created = cluster.screen(0).create_from("203.0.113.7").await;
    let wearer = cluster.glasses.wearer("wendy@example.com").await;
    look_and_press(&wearer, &created).await;
    let spoken = wearer.next_speech().await.text;
    Some((cluster, created, spoken))
}

async fn glasses_refuse_a_far_screen(backend: Backend) {
    let Some((cluster, created, spoken)) = a_far_screen(backend, "refuse").await else {
        return;
    };
    assert!(spoken.contains("different network"), "{spoken}");
    assert!(!spoken.contains("Press again"), "{spoken}");
    assert_eq!(state_of(&cluster.screen(0), &created).await, "pending");
    let audited = cluster
        .audit_trail()
        .await
        .into_iter()
        .find(|r| r.event == qrlogin_auth::audit::AuditEvent::Claim)
        .unwrap();
    assert_eq!(audited.outcome, "forbidden");
    assert!(audited.detail.unwrap().contains("network mismatch"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn glasses_refuse_a_screen_on_another_network() {
    glasses_refuse_a_far_screen(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn glasses_refuse_a_screen_on_another_network_on_redis() {
    glasses_refuse_a_far_screen(Backend::Redis).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn glasses_allowed_a_far_screen_say_it_is_on_another_network() {
    let Some((cluster, created, spoken)) = a_far_screen(Backend::Sqlite, "allow").await else {
        return;
    };
    assert!(spoken.starts_with("Sign in to qrlogin on "), "{spoken}");
    assert!(spoken.contains("different network"), "{spoken}");
    assert_eq!(state_of(&cluster.screen(0), &created).await, "claimed");
}
