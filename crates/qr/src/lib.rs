//! QR codes: rendering them as SVG for pages, and reading them from camera frames.

pub mod decode;

use qrcode::render::svg;
use qrcode::{EcLevel, QrCode};

/// An SVG of `text` as a QR code, black on white with the standard 4-module quiet zone,
/// scaling to its container. Medium error correction: readable on glossy, glary screens.
pub fn svg(text: &str) -> Result<String, qrcode::types::QrError> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)?;
    let svg = code
        .render::<svg::Color<'_>>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build();
    // The XML prologue has no place inside an HTML page.
    Ok(match svg.find("<svg") {
        Some(start) => svg[start..].to_owned(),
        None => svg,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_login_url_renders_as_an_svg() {
        let svg = super::svg("http://localhost:96/s/AAAAAAAAAAAAAAAAAAAAAA").unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("<svg") && svg.contains("</svg>"));
    }

    #[test]
    fn text_too_long_for_any_qr_is_an_error_not_a_panic() {
        assert!(super::svg(&"x".repeat(10_000)).is_err());
    }
}
