#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test
//! What a phone or a pair of glasses may send instead of a photo: never a panic, never a hang,
//! always a clear answer within the budget.

use std::io::Cursor;
use std::time::{Duration, Instant};

use image::{GrayImage, ImageFormat, Luma as Grey};
use qrlogin_qr::decode::{DEFAULT_BUDGET, FrameError, Luma, MAX_SIDE, read};

fn png(width: u32, height: u32, shade: impl Fn(u32, u32) -> u8) -> Vec<u8> {
    let image = GrayImage::from_fn(width, height, |x, y| Grey([shade(x, y)]));
    let mut bytes = Cursor::new(Vec::new());
    image.write_to(&mut bytes, ImageFormat::Png).unwrap();
    bytes.into_inner()
}

/// The bitwise CRC-32 of PNG chunks, to forge a header.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A real PNG whose header is rewritten to claim `width`×`height`: a decompression bomb's
/// shape, a few hundred bytes that would inflate to gigabytes.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = png(64, 64, |_, _| 255);
    // Signature (8), IHDR length (4), "IHDR" (4), width (4), height (4), ...
    bytes[16..20].copy_from_slice(&width.to_be_bytes());
    bytes[20..24].copy_from_slice(&height.to_be_bytes());
    let crc = crc32(&bytes[12..29]);
    bytes[29..33].copy_from_slice(&crc.to_be_bytes());
    bytes
}

#[test]
fn garbage_and_other_formats_are_refused_by_name() {
    for junk in [
        &b""[..],
        b"not an image",
        &[0u8; 1000],
        b"GIF89a\x01\x00\x01\x00",
    ] {
        assert!(Luma::from_image(junk).is_err(), "{junk:?}");
    }
    assert_eq!(
        Luma::from_image(b"GIF89a\x01\x00\x01\x00\x00\x00\x00").err(),
        Some(FrameError::UnsupportedType)
    );
}

#[test]
fn a_truncated_image_is_an_error() {
    let whole = png(200, 200, |x, y| ((x ^ y) & 0xff) as u8);
    for cut in [8, 40, whole.len() / 2, whole.len() - 12] {
        let started = Instant::now();
        let result = Luma::from_image(&whole[..cut]);
        assert!(
            matches!(result, Err(FrameError::Malformed(_))),
            "cut at {cut}: {:?}",
            result.err()
        );
        assert!(started.elapsed() < Duration::from_secs(1));
    }
}

#[test]
fn a_decompression_bomb_is_refused_from_its_header_at_once() {
    for (width, height) in [(100_000, 100_000), (MAX_SIDE + 1, 100), (65_535, 65_535)] {
        let bomb = png_claiming(width, height);
        assert!(bomb.len() < 1000);
        let started = Instant::now();
        assert_eq!(
            Luma::from_image(&bomb).err(),
            Some(FrameError::BadSize { width, height })
        );
        assert!(started.elapsed() < Duration::from_millis(100));
    }
}

#[test]
fn frames_outside_40_to_4096_pixels_a_side_are_refused() {
    assert_eq!(
        Luma::from_image(&png(39, 100, |_, _| 255)).err(),
        Some(FrameError::BadSize {
            width: 39,
            height: 100
        })
    );
    assert!(Luma::from_image(&png(40, 40, |_, _| 255)).is_ok());
    assert!(matches!(
        Luma::new(100, 100, vec![0; 99]),
        Err(FrameError::Malformed(_))
    ));
}

#[test]
fn noise_and_extreme_frames_are_read_as_no_code_within_the_budget() {
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut noise = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 24) as u8
    };
    let frames = [
        (
            640,
            480,
            (0..640 * 480).map(|_| noise()).collect::<Vec<u8>>(),
        ),
        (40, 40, vec![0; 1600]),
        (4096, 40, vec![255; 4096 * 40]),
        (
            1920,
            1080,
            (0..1920 * 1080)
                .map(|i| if i % 7 < 3 { 0 } else { 255 })
                .collect(),
        ),
    ];
    for (width, height, pixels) in frames {
        let frame = Luma::new(width, height, pixels).unwrap();
        let started = Instant::now();
        assert!(read(&frame, DEFAULT_BUDGET).is_empty());
        // The pass running when the budget runs out finishes first.
        assert!(
            started.elapsed() < DEFAULT_BUDGET * 8,
            "{width}×{height}: {:?}",
            started.elapsed()
        );
    }
}
