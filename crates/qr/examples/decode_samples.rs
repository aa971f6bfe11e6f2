//! The frame decoder against a collection of real camera photos of QR codes, each with its
//! expected text (not part of this repository: `QR_SAMPLES` names its folder):
//! per folder and in total, images read correctly, misreads, and the decode call's median and
//! p90 time (the image file is decoded to greyscale first, untimed).
//!
//! cargo run --release -p qrlogin-qr --example decode_samples -- [--misses] [--enlarge 1920]
//!
//! `--enlarge N` first scales each photo up so its longer side is N pixels (a frame-sized
//! image holding a code with large, soft modules).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use qrlogin_qr::decode::{DEFAULT_BUDGET, Luma, read};

struct Outcome {
    correct: bool,
    misread: bool,
    took: Duration,
}

fn samples_dir() -> PathBuf {
    std::env::var_os("QR_SAMPLES").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/qr-samples"),
        PathBuf::from,
    )
}

/// Every image with an expectation in `folder`: (path, expected text).
pub fn expectations(folder: &Path) -> Vec<(PathBuf, String)> {
    let mut found: Vec<(PathBuf, String)> = std::fs::read_dir(folder)
        .unwrap()
        .filter_map(|entry| {
            let path = entry.ok()?.path();
            let extension = path.extension()?.to_str()?;
            if !["png", "jpg", "webp"].contains(&extension) {
                return None;
            }
            let expected = std::fs::read(path.with_extension("txt")).ok()?;
            Some((path, String::from_utf8_lossy(&expected).into_owned()))
        })
        .collect();
    found.sort();
    found
}

fn quantile(times: &mut [Duration], q: f64) -> f64 {
    times.sort();
    let at = ((times.len() as f64 - 1.0) * q).round() as usize;
    times.get(at).map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let show_misses = args.iter().any(|a| a == "--misses");
    let enlarge: Option<u32> = args
        .iter()
        .position(|a| a == "--enlarge")
        .and_then(|i| args.get(i + 1))
        .map(|n| n.parse().unwrap());
    let root = samples_dir();
    let mut all = Vec::new();
    for folder in ["qrcode-1", "qrcode-2", "qrcode-3"] {
        let mut outcomes = Vec::new();
        for (path, expected) in expectations(&root.join(folder)) {
            let mut frame = Luma::from_image(&std::fs::read(&path).unwrap()).unwrap();
            if let Some(side) = enlarge {
                frame = enlarged(&frame, side);
            }
            let started = Instant::now();
            let texts = read(&frame, DEFAULT_BUDGET);
            let took = started.elapsed();
            let correct = texts.contains(&expected);
            let misread = !correct && !texts.is_empty();
            if show_misses && !correct {
                println!(
                    "  {}: {}",
                    path.display(),
                    if misread {
                        format!("MISREAD {texts:?}")
                    } else {
                        "no code".into()
                    }
                );
            }
            outcomes.push(Outcome {
                correct,
                misread,
                took,
            });
        }
        report(folder, &outcomes);
        all.extend(outcomes);
    }
    report("total", &all);
}

fn report(name: &str, outcomes: &[Outcome]) {
    let mut times: Vec<Duration> = outcomes.iter().map(|o| o.took).collect();
    let correct = outcomes.iter().filter(|o| o.correct).count();
    println!(
        "{name:>9}: {correct}/{} read ({:.0}%), {} misread, median {:.2} ms, p90 {:.2} ms",
        outcomes.len(),
        100.0 * correct as f64 / outcomes.len().max(1) as f64,
        outcomes.iter().filter(|o| o.misread).count(),
        quantile(&mut times, 0.5),
        quantile(&mut times, 0.9),
    );
}

fn enlarged(frame: &Luma, side: u32) -> Luma {
    let scale = side as f32 / frame.width().max(frame.height()) as f32;
    let (width, height) = (
        (frame.width() as f32 * scale).round() as u32,
        (frame.height() as f32 * scale).round() as u32,
    );
    let grey =
        image::GrayImage::from_raw(frame.width(), frame.height(), frame.pixels().to_vec()).unwrap();
    let big = image::imageops::resize(&grey, width, height, image::imageops::FilterType::Triangle);
    Luma::new(width, height, big.into_raw()).unwrap()
}
