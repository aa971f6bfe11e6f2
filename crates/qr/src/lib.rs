//! QR codes: rendering them as SVG for pages, and reading them from camera frames.

pub mod decode;

use std::fmt::Write;

use qrcodegen::{Mask, QrCode, QrCodeEcc, QrSegment, Version};

pub use qrcodegen::DataTooLong;

/// The standard quiet zone around a code, in modules.
const QUIET_ZONE: usize = 4;

/// The mask every page code gets. The standard picks, per code, the mask of the eight whose
/// layout scores best against patterns that confuse readers; scoring all eight took 95% of
/// making a code (139 µs against 7 µs with the mask given, on a sign-in URL). For sign-in
/// URLs (a host and 22 random characters) the standard's own choice is most often this one,
/// vertical stripes every third column: 31–48% of 2,000 random URLs for each of three host
/// shapes, more often than any other mask for each. Codes with it read back, as the tests
/// below check over many URLs.
const PAGE_MASK: u8 = 2;

/// An SVG of `text` as a QR code, black on white with the standard 4-module quiet zone,
/// scaling to its container. At least medium error correction (higher where it fits in the
/// same size): readable on glossy, glary screens.
///
/// Every page asks for one with each new request, so it is made and drawn compactly: the
/// mask is fixed ([`PAGE_MASK`]), and the drawing has one unit of the view box per module
/// and one path with a rectangle per horizontal run of dark modules (about 4 KB for a
/// sign-in URL, where a rectangle per module took 10 KB), with single-quoted attributes,
/// which JSON carries without escaping.
pub fn svg(text: &str) -> Result<String, DataTooLong> {
    let segments = QrSegment::make_segments(text);
    let code = QrCode::encode_segments_advanced(
        &segments,
        QrCodeEcc::Medium,
        Version::MIN,
        Version::MAX,
        Some(Mask::new(PAGE_MASK)),
        true,
    )?;
    let side = code.size();
    let dark: Vec<bool> = (0..side)
        .flat_map(|y| (0..side).map(move |x| (x, y)))
        .map(|(x, y)| code.get_module(x, y))
        .collect();
    Ok(draw(usize::try_from(side).unwrap_or_default(), &dark))
}

/// Modules row by row (`true` is dark), `width` to a row.
fn draw(width: usize, modules: &[bool]) -> String {
    let size = width + 2 * QUIET_ZONE;
    let mut svg = String::with_capacity(256 + modules.len() * 4);
    // Writing to a String cannot fail.
    let _ = write!(
        svg,
        "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 {size} {size}' shape-rendering='crispEdges'>\
         <rect width='{size}' height='{size}' fill='#fff'/><path fill='#000' d='"
    );
    for (y, row) in modules.chunks(width).enumerate() {
        let mut x = 0;
        while x < row.len() {
            let run = row[x..].iter().take_while(|dark| **dark).count();
            if run > 0 {
                // `M{left} {top}h{run}v1h-{run}z`, without `write!`: formatting machinery
                // took 40% of the drawing.
                svg.push('M');
                push_decimal(&mut svg, x + QUIET_ZONE);
                svg.push(' ');
                push_decimal(&mut svg, y + QUIET_ZONE);
                svg.push('h');
                push_decimal(&mut svg, run);
                svg.push_str("v1h-");
                push_decimal(&mut svg, run);
                svg.push('z');
            }
            x += run.max(1);
        }
    }
    svg.push_str("'/></svg>");
    svg
}

/// Appends `n` in decimal, digit by digit (checking a digit buffer as UTF-8 cost more than
/// the digits).
fn push_decimal(out: &mut String, n: usize) {
    if n >= 10 {
        push_decimal(out, n / 10);
    }
    out.push(char::from(b'0' + u8::try_from(n % 10).unwrap_or(0)));
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use crate::decode::{Luma, read};

    /// Paints the SVG's path the way a browser fills it, `scale` pixels to a module: every
    /// `M x y h n v1 h-n z` is a dark rectangle one module high.
    fn paint(svg: &str, scale: usize) -> Luma {
        let size: usize = svg
            .split("viewBox='0 0 ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .expect("a view box");
        let path = svg.split(" d='").nth(1).and_then(|d| d.split('\'').next());
        let mut pixels = vec![255u8; size * size * scale * scale];
        for rectangle in path.expect("a path").split('M').filter(|r| !r.is_empty()) {
            let numbers: Vec<usize> = rectangle
                .split(|c: char| !c.is_ascii_digit())
                .filter(|n| !n.is_empty())
                .map(|n| n.parse().unwrap())
                .collect();
            let [left, top, run, ..] = numbers[..] else {
                panic!("not a run: {rectangle}")
            };
            for y in top * scale..(top + 1) * scale {
                for x in left * scale..(left + run) * scale {
                    pixels[y * size * scale + x] = 0;
                }
            }
        }
        let side = u32::try_from(size * scale).unwrap();
        Luma::new(side, side, pixels).unwrap()
    }

    #[test]
    fn the_svg_reads_back_as_the_text_it_was_made_from() {
        for url in [
            "https://signin.example.com/s/AAAAAAAAAAAAAAAAAAAAAA",
            "http://localhost:96/s/UOU0HLeiX8mHAdbKybUkFA",
            "http://192.168.1.20:96/s/qEt4WWLu35I7NA2_aKQokA",
            "https://m.qrlogin.example/s/G8ABMJP36rT9zIPx7zrChQ",
        ] {
            let svg = super::svg(url).unwrap();
            assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
            assert!(!svg.contains('"'), "JSON would have to escape it: {svg}");
            assert_eq!(read(&paint(&svg, 4), Duration::from_secs(5)), [url]);
        }
    }

    /// The mask is fixed rather than chosen per code, so no code may be the one it suits
    /// badly: random sign-in URLs on several host shapes all read back, even at two pixels a
    /// module.
    #[test]
    fn codes_with_the_fixed_mask_read_back_for_any_sign_in_url() {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut state: u64 = 0x5EED;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ALPHABET[usize::try_from(state >> 58).unwrap()] as char
        };
        for host in [
            "https://m.qrlogin.example",
            "http://localhost:96",
            "http://192.168.1.20:96",
            "https://signin.a-rather-long-company-name.example.com",
        ] {
            for _ in 0..40 {
                let id: String = (0..22).map(|_| next()).collect();
                let url = format!("{host}/s/{id}");
                let svg = super::svg(&url).unwrap();
                assert_eq!(read(&paint(&svg, 2), Duration::from_secs(5)), [url]);
            }
        }
    }

    /// A rectangle per module took 10 KB; runs take about 4 KB (4,122 bytes here: how many
    /// runs there are depends on the mask the code gets).
    #[test]
    fn a_sign_in_url_is_drawn_in_a_few_kilobytes() {
        let svg = super::svg("http://localhost:96/s/AAAAAAAAAAAAAAAAAAAAAA").unwrap();
        assert!(svg.len() < 4608, "{} bytes", svg.len());
    }

    #[test]
    fn numbers_are_written_in_decimal() {
        for n in [0, 7, 10, 99, 100, 185, 4_096, usize::MAX] {
            let mut out = String::new();
            super::push_decimal(&mut out, n);
            assert_eq!(out, n.to_string());
        }
    }

    #[test]
    fn text_too_long_for_any_qr_is_an_error_not_a_panic() {
        assert!(super::svg(&"x".repeat(10_000)).is_err());
    }
}
