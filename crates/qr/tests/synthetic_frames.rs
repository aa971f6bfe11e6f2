#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test
//! Our own login URL as camera glasses see it: rendered into photo-like frames, turned,
//! tilted, blurred, noisy, through screen moiré and under glare. Each is read, and only as
//! what it is.

use std::time::Duration;

use qrlogin_qr::decode::{Luma, read, read_all, read_wanted};
use qrlogin_testkit::frames::{Scene, cases, render};

const URL: &str = "https://m.example.com/s/q7Hc0rTz9xWk2LmN4pQs8A";
/// Generous for unoptimised builds; the benchmark measures speed.
const BUDGET: Duration = Duration::from_secs(10);

fn reads(scene: &Scene) -> Vec<String> {
    let frame = Luma::new(scene.width, scene.height, render(URL, scene)).unwrap();
    read(&frame, BUDGET)
}

#[test]
fn every_transformation_is_read_at_every_frame_size() {
    let mut missed = Vec::new();
    for (width, height) in [(640, 480), (1280, 720), (1920, 1080)] {
        for case in cases() {
            let mut scene = Scene::plain(width, height);
            (case.change)(&mut scene);
            let texts = reads(&scene);
            if texts != [URL] {
                missed.push(format!("{width}×{height} {}: {texts:?}", case.name));
            }
        }
    }
    assert!(missed.is_empty(), "{missed:#?}");
}

#[test]
fn a_frame_without_a_code_reads_as_none() {
    // The same scene, the code shrunk to less than a pixel.
    let mut scene = Scene::plain(1280, 720);
    scene.code_side = 0.5;
    scene.noise = 20;
    let frame = Luma::new(1280, 720, render(URL, &scene)).unwrap();
    assert!(read(&frame, BUDGET).is_empty());
}

/// A poster's code that reads at once must not hide ours, which needs another pass (here:
/// ours is light on dark, beside an ordinary dark-on-light one).
#[test]
fn an_easier_code_beside_ours_does_not_hide_it() {
    let scene = Scene::plain(640, 480);
    let poster = render("https://example.org/menu", &scene);
    let ours: Vec<u8> = render(URL, &scene).iter().map(|p| 255 - p).collect();
    let side_by_side: Vec<u8> = poster
        .chunks(640)
        .zip(ours.chunks(640))
        .flat_map(|(l, r)| l.iter().chain(r).copied())
        .collect();
    let frame = Luma::new(1280, 480, side_by_side).unwrap();
    // Any code will do: the first pass's is enough.
    assert_eq!(read(&frame, BUDGET), ["https://example.org/menu"]);
    // Ours is wanted: the ladder goes on until it has it.
    let texts = read_wanted(&frame, BUDGET, &|text| text == URL);
    assert!(texts.iter().any(|t| t == URL), "{texts:?}");
}

/// Two codes of ours in one picture: an attacker's that reads at once beside the real one,
/// which takes another pass (light on dark). Reading for the first code of ours would see the
/// attacker's alone; reading for a sign-in must see both, so that neither is claimed.
#[test]
fn reading_everything_sees_a_second_code_of_ours_that_needs_another_pass() {
    const ATTACKERS: &str = "https://m.example.com/s/ATTACKERxxxxxxxxxxxxA";
    let scene = Scene::plain(640, 480);
    let attackers = render(ATTACKERS, &scene);
    let real: Vec<u8> = render(URL, &scene).iter().map(|p| 255 - p).collect();
    let side_by_side: Vec<u8> = attackers
        .chunks(640)
        .zip(real.chunks(640))
        .flat_map(|(l, r)| l.iter().chain(r).copied())
        .collect();
    let frame = Luma::new(1280, 480, side_by_side).unwrap();
    let ours = |text: &str| text.starts_with("https://m.example.com/s/");
    assert_eq!(
        read_wanted(&frame, BUDGET, &ours),
        [ATTACKERS],
        "the hole read_all closes"
    );
    let all = read_all(&frame, BUDGET);
    assert!(
        all.iter().any(|t| t == URL) && all.iter().any(|t| t == ATTACKERS),
        "{all:?}"
    );
}
