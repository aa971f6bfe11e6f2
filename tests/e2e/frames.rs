//! `POST /api/frames`: the phone sends what its camera sees; the code of ours in it is
//! claimed as a scan would; anything else gets a clear answer.

use qrlogin_testkit::frames::{Scene, render};

use crate::helpers::{Backend, Phone, TestCluster, encoded, error_code};

/// A 1280×720 PNG of a photo-like scene with `text` as a turned, tilted QR code.
fn photo_of(text: &str) -> Vec<u8> {
    let mut scene = Scene::plain(1280, 720);
    scene.angle = 20.0;
    scene.tilt = 0.15;
    scene.noise = 10;
    png(1280, 720, render(text, &scene))
}

fn png(width: u32, height: u32, pixels: Vec<u8>) -> Vec<u8> {
    encoded(width, height, pixels, image::ImageFormat::Png)
}

async fn send(phone: &Phone, content_type: &str, body: Vec<u8>) -> reqwest::Response {
    phone
        .client
        .post(format!("{}/api/frames", phone.base))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_of_the_screen_claims_its_request() {
    let Some(cluster) = TestCluster::start(Backend::Sqlite, 1, &[]).await else {
        return;
    };
    let screen = cluster.screen(0);
    let phone = cluster.phone("alice@example.com").await;
    let created = screen.create().await;
    let response = send(&phone, "image/png", photo_of(&created.qr_url)).await;
    assert_eq!(response.status(), 200);
    let confirmation: serde_json::Value = response.json().await.unwrap();
    assert_eq!(confirmation["id"], created.id.as_str());
    assert_eq!(confirmation["state"], "claimed");
    assert_eq!(screen.poll(&created).await["state"], "claimed");
    assert_eq!(phone.decide(&created.id, "approve").await.status(), 200);
    assert_eq!(screen.redeem(&created).await.status(), 200);

    // The audit trail says how it was scanned.
    let trail = cluster.audit_trail().await;
    assert!(trail.iter().any(|r| {
        r.login_request.as_deref() == Some(created.id.as_str())
            && r.detail.as_deref() == Some("read from a camera frame")
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_codes_in_the_frame_are_ignored_and_a_typed_code_as_a_qr_works() {
    let Some(cluster) = TestCluster::start(Backend::Sqlite, 1, &[]).await else {
        return;
    };
    let screen = cluster.screen(0);
    let phone = cluster.phone("alice@example.com").await;

    // Someone else's code alone: nothing of ours.
    let stranger = send(&phone, "image/png", photo_of("https://example.org/menu")).await;
    let (status, code) = error_code(stranger).await;
    assert_eq!((status, code.as_str()), (422, "no_code_found"));

    // Someone else's code beside ours, in one frame: ours is claimed.
    let created = screen.create().await;
    let (left, right) = (
        render("https://example.org/menu", &Scene::plain(640, 480)),
        render(&created.qr_url, &Scene::plain(640, 480)),
    );
    let side_by_side: Vec<u8> = left
        .chunks(640)
        .zip(right.chunks(640))
        .flat_map(|(l, r)| l.iter().chain(r).copied())
        .collect();
    let both = send(&phone, "image/png", png(1280, 480, side_by_side)).await;
    assert_eq!(both.status(), 200);

    // A QR holding just the user code.
    let other = screen.create().await;
    let by_code = send(&phone, "image/png", photo_of(&other.user_code)).await;
    assert_eq!(by_code.status(), 200);
    let confirmation: serde_json::Value = by_code.json().await.unwrap();
    assert_eq!(confirmation["id"], other.id.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_is_not_a_usable_picture_is_refused_clearly() {
    let vars = [("RATE_LIMIT_FRAMES_PER_USER", "6/1m")];
    let Some(cluster) = TestCluster::start(Backend::Sqlite, 1, &vars).await else {
        return;
    };
    let phone = cluster.phone("alice@example.com").await;
    let not_an_image = send(&phone, "text/plain", b"hello".to_vec()).await;
    assert_eq!(
        error_code(not_an_image).await,
        (415, "unsupported_media_type".into())
    );
    let garbage = send(&phone, "image/png", vec![0x42; 5000]).await;
    assert_eq!(error_code(garbage).await, (400, "invalid_request".into()));
    let too_large = send(&phone, "image/jpeg", vec![0; 9 * 1024 * 1024]).await;
    assert_eq!(
        error_code(too_large).await,
        (413, "payload_too_large".into())
    );
    let signed_out = send(&cluster.signed_out_phone(), "image/png", photo_of("x")).await;
    assert_eq!(error_code(signed_out).await.0, 401);

    // Each frame that reaches the handler spends the user's budget before its body is read:
    // 6 a minute here, 3 spent above (the oversized one too; the signed-out one is nobody's).
    for _ in 0..3 {
        let blank = send(&phone, "image/png", png(100, 100, vec![255; 10_000])).await;
        assert_eq!(error_code(blank).await.1, "no_code_found");
    }
    let over = send(&phone, "image/png", png(100, 100, vec![255; 10_000])).await;
    assert_eq!(error_code(over).await, (429, "rate_limited".into()));
}
