//! QR codes: rendering them as SVG for pages, and reading them from camera frames.

pub mod decode;

use std::fmt::Write;

use fast_qr::{ECL, QRBuilder};

pub use fast_qr::qr::QRCodeError;

/// The standard quiet zone around a code, in modules.
const QUIET_ZONE: usize = 4;

/// An SVG of `text` as a QR code, black on white with the standard 4-module quiet zone,
/// scaling to its container. Medium error correction: readable on glossy, glary screens.
///
/// Every page asks for one with each new request, so it is drawn compactly: one unit of the
/// view box per module and one path with a rectangle per horizontal run of dark modules
/// (about 4 KB for a sign-in URL, where a rectangle per module took 10 KB), and single-quoted
/// attributes, which JSON carries without escaping. The code is made by `fast_qr`, which
/// scores the eight masks much faster than the `qrcode` crate did (its mask scoring was most
/// of the work of a request made with its SVG). `fast_qr` scores columns on the matrix before
/// masking, so its choice can differ from the standard's. Any mask reads back, as the tests
/// below check. Copying its fixed 177 × 177 matrix for each mask is now most of the cost.
pub fn svg(text: &str) -> Result<String, QRCodeError> {
    let code = QRBuilder::new(text).ecl(ECL::M).build()?;
    let dark: Vec<bool> = (0..code.size)
        .flat_map(|row| code[row].iter().map(|module| module.value()))
        .collect();
    Ok(draw(code.size, &dark))
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

/// Appends `n` in decimal.
fn push_decimal(out: &mut String, mut n: usize) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + u8::try_from(n % 10).unwrap_or(0);
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&digits[start..]).unwrap_or_default());
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
        // Different texts get different masks: each must still read back.
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
