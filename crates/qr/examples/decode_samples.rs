//! The frame decoder against the real photos in `../shared/qr-samples` (or `QR_SAMPLES`):
//! per folder and in total, images read correctly, misreads, and the decode call's median and
//! p90 time (the image file is decoded to greyscale first, untimed).
//!
//! cargo run --release -p qrlogin-qr --example decode_samples -- [--misses]
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
    let show_misses = std::env::args().any(|a| a == "--misses");
    let root = samples_dir();
    let mut all = Vec::new();
    for folder in ["qrcode-1", "qrcode-2", "qrcode-3"] {
        let mut outcomes = Vec::new();
        for (path, expected) in expectations(&root.join(folder)) {
            let frame = Luma::from_image(&std::fs::read(&path).unwrap()).unwrap();
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
