//! The frame decoder on synthetic glasses frames: our own login URL rendered into a
//! photo-like 640×480, 1280×720 and 1920×1080 scene, head on and turned, tilted, blurred,
//! noisy, through screen moiré and under glare. Per case: frames read correctly, misreads,
//! and the decode call's median and p90 time.
//!
//! cargo run --release -p qrlogin-qr --example decode_frames -- [--frames N] [--save DIR] [--all]
//!
//! `--all` reads as a sign-in does (`read_all`: the whole ladder, so that a second code of
//! ours that only a later pass reads is seen), instead of stopping at the first pass that
//! reads a code.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use qrlogin_qr::decode::{DEFAULT_BUDGET, Luma, read, read_all};
use qrlogin_testkit::frames::{Scene, cases, render};

fn argument(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    let at = args.iter().position(|a| a == name)?;
    args.get(at + 1).cloned()
}

fn main() {
    let frames: u64 = argument("--frames").map_or(20, |n| n.parse().unwrap());
    let save = argument("--save");
    let whole_ladder = std::env::args().any(|a| a == "--all");
    println!("| frame | case | read | misread | median | p90 |");
    println!("| --- | --- | --- | --- | --- | --- |");
    for (width, height) in [(640, 480), (1280, 720), (1920, 1080)] {
        let mut all_times = Vec::new();
        let (mut all_read, mut all_frames) = (0, 0);
        for case in cases() {
            let name = case.name;
            let (mut correct, mut misread) = (0, 0);
            let mut times: Vec<Duration> = Vec::new();
            for seed in 1..=frames {
                let mut scene = Scene::plain(width, height);
                scene.seed = seed;
                (case.change)(&mut scene);
                // A little variety in angle from frame to frame, as a head moves.
                scene.angle += (seed % 7) as f32 - 3.0;
                let url = format!("https://m.example.com/s/{:0>22}", seed * 7919);
                let pixels = render(&url, &scene);
                if let Some(dir) = &save {
                    image::GrayImage::from_raw(width, height, pixels.clone())
                        .unwrap()
                        .save(format!(
                            "{dir}/{width}x{height}-{}-{seed}.png",
                            name.replace(' ', "_")
                        ))
                        .unwrap();
                }
                let frame = Luma::new(width, height, pixels).unwrap();
                let started = Instant::now();
                let texts = match whole_ladder {
                    true => read_all(&frame, DEFAULT_BUDGET),
                    false => read(&frame, DEFAULT_BUDGET),
                };
                times.push(started.elapsed());
                match texts.contains(&url) {
                    true => correct += 1,
                    false if !texts.is_empty() => misread += 1,
                    false => {}
                }
            }
            all_read += correct;
            all_frames += frames;
            all_times.extend(times.iter().copied());
            println!(
                "| {width}×{height} | {name} | {correct}/{frames} | {misread} | {:.1} ms | {:.1} ms |",
                quantile(&mut times, 0.5),
                quantile(&mut times, 0.9)
            );
        }
        println!(
            "| {width}×{height} | **all** | {all_read}/{all_frames} | | {:.1} ms | {:.1} ms |",
            quantile(&mut all_times, 0.5),
            quantile(&mut all_times, 0.9)
        );
    }
}

fn quantile(times: &mut [Duration], q: f64) -> f64 {
    times.sort();
    let at = ((times.len() as f64 - 1.0) * q).round() as usize;
    times.get(at).map_or(0.0, |d| d.as_secs_f64() * 1e3)
}
