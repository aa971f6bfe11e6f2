//! Reading QR codes from camera frames: real photos (tilted, tiny, blurred, light on dark,
//! dotted), from 40×40 to 4096×4096 pixels.
//!
//! Two decoders and a ladder of passes, cheapest first, stopping at the first pass that reads
//! anything: rxing (a port of ZXing's C++ reader) on a pyramid of the frame (full size, then
//! halved while large), the frame inverted, a second binarisation, small frames enlarged,
//! and rqrr last. Every decoder call runs under `catch_unwind` (both crates panic on some real
//! photos): a panic is a pass that found nothing. A time budget bounds the ladder.

use std::collections::HashSet;
use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

use rxing::common::{GlobalHistogramBinarizer, HybridBinarizer};
use rxing::multi::MultipleBarcodeReader;
use rxing::qrcode::cpp_port::QrReader;
use rxing::{BarcodeFormat, Binarizer, BinaryBitmap, DecodeHints, Luma8Source};

/// The smallest and largest frame side accepted.
pub const MIN_SIDE: u32 = 40;
pub const MAX_SIDE: u32 = 4096;
/// How long the ladder may run by default before it answers with what it has.
pub const DEFAULT_BUDGET: Duration = Duration::from_millis(250);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    #[error("not a JPEG, PNG or WebP image")]
    UnsupportedType,
    #[error("the image is {width}×{height} pixels; a frame must be 40×40 to 4096×4096")]
    BadSize { width: u32, height: u32 },
    #[error("the image cannot be read: {0}")]
    Malformed(String),
}

/// A greyscale frame, one byte per pixel, row by row.
#[derive(Clone)]
pub struct Luma {
    width: u32,
    height: u32,
    pixels: Vec<u8>,
}

impl Luma {
    pub fn new(width: u32, height: u32, pixels: Vec<u8>) -> Result<Self, FrameError> {
        check_size(width, height)?;
        if pixels.len() as u64 != u64::from(width) * u64::from(height) {
            return Err(FrameError::Malformed(format!(
                "{} bytes for {width}×{height} pixels",
                pixels.len()
            )));
        }
        Ok(Self {
            width,
            height,
            pixels,
        })
    }

    /// A JPEG, PNG or WebP file. The size is read from the header and checked before any
    /// pixel is decoded, so a small file that claims to be huge (a decompression bomb) is
    /// refused without being inflated; the decoded image itself is capped too (the image
    /// crate's limit covers its output buffer, not the codecs' working memory, which the
    /// size check bounds).
    pub fn from_image(bytes: &[u8]) -> Result<Self, FrameError> {
        use image::{ImageFormat, ImageReader, Limits};
        let malformed = |e: &dyn std::fmt::Display| FrameError::Malformed(e.to_string());
        let reader = ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| malformed(&e))?;
        if !matches!(
            reader.format(),
            Some(ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP)
        ) {
            return Err(FrameError::UnsupportedType);
        }
        let (width, height) = reader.into_dimensions().map_err(|e| malformed(&e))?;
        check_size(width, height)?;
        let mut reader = ImageReader::new(Cursor::new(bytes))
            .with_guessed_format()
            .map_err(|e| malformed(&e))?;
        let mut limits = Limits::default();
        limits.max_image_width = Some(MAX_SIDE);
        limits.max_image_height = Some(MAX_SIDE);
        // Room for the largest frame in RGBA and its greyscale copy.
        limits.max_alloc = Some(u64::from(MAX_SIDE) * u64::from(MAX_SIDE) * 5);
        reader.limits(limits);
        let image = reader.decode().map_err(|e| malformed(&e))?;
        let grey = image.into_luma8();
        Self::new(grey.width(), grey.height(), grey.into_raw())
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    pub fn pixels(&self) -> &[u8] {
        &self.pixels
    }

    /// Each `factor`×`factor` block averaged into one pixel.
    fn shrunk(&self, factor: u32) -> Luma {
        let (width, height) = (self.width / factor, self.height / factor);
        let mut pixels = Vec::with_capacity((width * height) as usize);
        let area = factor * factor;
        for y in 0..height {
            for x in 0..width {
                let mut sum = 0u32;
                for dy in 0..factor {
                    let row = ((y * factor + dy) * self.width + x * factor) as usize;
                    sum += self.pixels[row..row + factor as usize]
                        .iter()
                        .map(|&p| u32::from(p))
                        .sum::<u32>();
                }
                pixels.push((sum / area) as u8);
            }
        }
        Luma {
            width,
            height,
            pixels,
        }
    }

    /// With a white margin of `margin` pixels: a code printed or cropped without its quiet
    /// zone has no white around its finder patterns to be found by.
    fn padded(&self, margin: u32) -> Luma {
        let width = self.width + 2 * margin;
        let height = self.height + 2 * margin;
        let mut pixels = vec![255u8; (width * height) as usize];
        for y in 0..self.height {
            let from = (y * self.width) as usize;
            let to = ((y + margin) * width + margin) as usize;
            pixels[to..to + self.width as usize]
                .copy_from_slice(&self.pixels[from..from + self.width as usize]);
        }
        Luma {
            width,
            height,
            pixels,
        }
    }

    /// Enlarged `factor` times with bilinear interpolation: tiny codes get modules of
    /// several pixels, which the finder-pattern scan needs.
    fn enlarged(&self, factor: u32) -> Luma {
        let (width, height) = (self.width * factor, self.height * factor);
        let mut pixels = Vec::with_capacity((width * height) as usize);
        let at = |x: u32, y: u32| f32::from(self.pixels[(y * self.width + x) as usize]);
        for y in 0..height {
            let sy = ((y as f32 + 0.5) / factor as f32 - 0.5).max(0.0);
            let (y0, fy) = (sy.floor() as u32, sy.fract());
            let y1 = (y0 + 1).min(self.height - 1);
            for x in 0..width {
                let sx = ((x as f32 + 0.5) / factor as f32 - 0.5).max(0.0);
                let (x0, fx) = (sx.floor() as u32, sx.fract());
                let x1 = (x0 + 1).min(self.width - 1);
                let top = at(x0, y0) * (1.0 - fx) + at(x1, y0) * fx;
                let bottom = at(x0, y1) * (1.0 - fx) + at(x1, y1) * fx;
                pixels.push((top * (1.0 - fy) + bottom * fy).round() as u8);
            }
        }
        Luma {
            width,
            height,
            pixels,
        }
    }
}

fn check_size(width: u32, height: u32) -> Result<(), FrameError> {
    let fits = |side: u32| (MIN_SIDE..=MAX_SIDE).contains(&side);
    match fits(width) && fits(height) {
        true => Ok(()),
        false => Err(FrameError::BadSize { width, height }),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Binarization {
    /// Local thresholds per 8×8 block: shadows and glare.
    Hybrid,
    /// One threshold from the histogram: blur and low contrast.
    Histogram,
    /// Hybrid, then closed (dilated and eroded): dot-shaped modules and specks join up.
    HybridClosed,
    /// For a code that is the whole image (a screenshot, a crop): no finder-pattern search,
    /// the module grid is read straight from the code's corners, so even one pixel per
    /// module will do.
    Pure,
}

/// Every distinct QR text in `frame`, in the order found, from the first pass that reads
/// any; empty when none could be read within `budget` (the pass running when it runs out
/// finishes first).
pub fn read(frame: &Luma, budget: Duration) -> Vec<String> {
    read_wanted(frame, budget, &|_| true)
}

/// Every distinct QR text the whole ladder reads in `frame` within `budget`, in the order
/// found: no pass is skipped because an earlier one read something. For signing in from a
/// picture, where a second code of ours that only a later pass reads must still be seen
/// (which screen is meant could not be told), at the cost of a frame without a code.
pub fn read_all(frame: &Luma, budget: Duration) -> Vec<String> {
    read_wanted(frame, budget, &|_| false)
}

/// Like [`read`], but the ladder goes on until it reads a text that is `wanted`: another
/// code that reads more easily (a poster's, an app store's) must not hide the one sought.
/// Returns every text read on the way.
pub fn read_wanted(frame: &Luma, budget: Duration, wanted: &dyn Fn(&str) -> bool) -> Vec<String> {
    let deadline = Instant::now() + budget;
    let out_of_time = || Instant::now() >= deadline;
    let mut found = Found {
        wanted,
        texts: Vec::new(),
        seen: HashSet::new(),
    };
    let layers = pyramid(frame);
    for layer in &layers {
        if out_of_time() || found.read_rxing(layer, Binarization::Hybrid) {
            return found.texts;
        }
    }
    for layer in &layers {
        if out_of_time() || found.read_rxing(layer, Binarization::Histogram) {
            return found.texts;
        }
    }
    // Tiny codes: modules of one or two pixels are below what the finder scan sees.
    let smaller_side = frame.width.min(frame.height);
    let enlarged = (smaller_side < 300).then(|| {
        let factor = match smaller_side {
            ..64 => 6,
            64..150 => 3,
            _ => 2,
        };
        frame.enlarged(factor)
    });
    if let Some(enlarged) = &enlarged {
        for binarization in [Binarization::Hybrid, Binarization::Histogram] {
            if out_of_time() || found.read_rxing(enlarged, binarization) {
                return found.texts;
            }
        }
    }
    let padded = layers
        .last()
        .map(|smallest| smallest.padded(smallest.width.min(smallest.height) / 8));
    for layer in padded.iter().chain(enlarged.iter()) {
        if out_of_time() || found.read_rxing(layer, Binarization::Hybrid) {
            return found.texts;
        }
    }
    for layer in layers.iter().chain(enlarged.iter()) {
        if out_of_time() || found.read_rxing(layer, Binarization::HybridClosed) {
            return found.texts;
        }
    }
    if smaller_side < 300 {
        for layer in [frame]
            .into_iter()
            .chain(padded.iter())
            .chain(enlarged.iter())
        {
            if out_of_time() || found.read_rxing(layer, Binarization::Pure) {
                return found.texts;
            }
        }
    }
    // rqrr's cost grows fast with candidate finder patterns: small layers only.
    let small = |layer: &&Luma| u64::from(layer.width) * u64::from(layer.height) <= 500_000;
    for layer in layers.iter().chain(enlarged.iter()).filter(small) {
        if out_of_time() || found.read_rqrr(layer) {
            return found.texts;
        }
    }
    found.texts
}

/// The frame (halved first while its larger side is over 2048 pixels: a 4096×4096 frame
/// would cost every pass 4 times as much for detail a camera's QR code does not need), then
/// halved while its larger side is over 800 pixels (a 1920×1080 frame: 1920, 960 and 480
/// wide), so a code fills a reasonable share of some layer.
fn pyramid(frame: &Luma) -> Vec<Luma> {
    let mut first = frame.clone();
    while first.width.max(first.height) > 2048 && first.width.min(first.height) / 2 >= MIN_SIDE {
        first = first.shrunk(2);
    }
    let mut layers = vec![first];
    while let Some(last) = layers.last()
        && last.width.max(last.height) > 800
        && last.width.min(last.height) / 2 >= MIN_SIDE
    {
        let next = last.shrunk(2);
        layers.push(next);
    }
    layers
}

struct Found<'a> {
    wanted: &'a dyn Fn(&str) -> bool,
    texts: Vec<String>,
    seen: HashSet<String>,
}

impl Found<'_> {
    /// Whether `text` is new and wanted (which ends the ladder).
    fn add(&mut self, text: String) -> bool {
        if text.is_empty() || !self.seen.insert(text.clone()) {
            return false;
        }
        let wanted = (self.wanted)(&text);
        self.texts.push(text);
        wanted
    }

    /// rxing on one layer with one binarisation, as it is and inverted (light on dark).
    fn read_rxing(&mut self, layer: &Luma, binarization: Binarization) -> bool {
        let wanted = self.wanted;
        let read = catch_unwind(AssertUnwindSafe(|| {
            let Ok(source) = Luma8Source::new_with_slice(&layer.pixels, layer.width, layer.height)
            else {
                return Vec::new();
            };
            let hints = hints(binarization == Binarization::Pure);
            match binarization {
                Binarization::Hybrid => read_both_ways(
                    &mut BinaryBitmap::new(HybridBinarizer::new(source)),
                    &hints,
                    wanted,
                ),
                Binarization::Histogram => read_both_ways(
                    &mut BinaryBitmap::new(GlobalHistogramBinarizer::new(source)),
                    &hints,
                    wanted,
                ),
                // Then ZXing's Java reader: its pure-code path samples differently, and
                // each reads codes the other misses.
                Binarization::Pure => {
                    let mut bitmap = BinaryBitmap::new(GlobalHistogramBinarizer::new(source));
                    let texts = read_both_ways(&mut bitmap, &hints, wanted);
                    if !texts.is_empty() {
                        return texts;
                    }
                    let mut reader = rxing::MultiFormatReader::default();
                    use rxing::Reader;
                    reader
                        .decode_with_hints(&mut bitmap, &hints)
                        .map(|r| vec![r.getText().to_owned()])
                        .unwrap_or_default()
                }
                Binarization::HybridClosed => {
                    let mut bitmap = BinaryBitmap::new(HybridBinarizer::new(source));
                    match bitmap.close() {
                        Ok(()) => read_both_ways(&mut bitmap, &hints, wanted),
                        Err(_) => Vec::new(),
                    }
                }
            }
        }));
        let texts = read.unwrap_or_default();
        let mut any = false;
        for text in texts {
            any |= self.add(text);
        }
        any
    }

    /// rqrr on one layer: its own thresholding and perspective fit, slower, for what rxing
    /// missed. It reports raw bytes; text is UTF-8, else Shift_JIS (Kanji mode), else Latin-1.
    fn read_rqrr(&mut self, layer: &Luma) -> bool {
        let read = catch_unwind(AssertUnwindSafe(|| {
            let (width, height) = (layer.width as usize, layer.height as usize);
            let mut prepared =
                rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| {
                    layer.pixels[y * width + x]
                });
            prepared
                .detect_grids()
                .into_iter()
                .filter_map(|grid| {
                    let mut bytes = Vec::new();
                    grid.decode_to(&mut bytes).ok().map(|_| text_of(&bytes))
                })
                .collect::<Vec<String>>()
        }));
        let mut any = false;
        for text in read.unwrap_or_default() {
            any |= self.add(text);
        }
        any
    }
}

fn hints(pure: bool) -> DecodeHints {
    DecodeHints {
        TryHarder: Some(true),
        PureBarcode: Some(pure),
        PossibleFormats: Some(HashSet::from([BarcodeFormat::QR_CODE])),
        ..Default::default()
    }
}

/// Every code in the bitmap as it is; if none of them is wanted, inverted too (light on
/// dark).
fn read_both_ways<B: Binarizer>(
    bitmap: &mut BinaryBitmap<B>,
    hints: &DecodeHints,
    wanted: &dyn Fn(&str) -> bool,
) -> Vec<String> {
    let mut reader = QrReader;
    let mut decode = |bitmap: &mut BinaryBitmap<B>| -> Vec<String> {
        reader
            .decode_multiple_with_hints(bitmap, hints)
            .map(|results| results.iter().map(|r| r.getText().to_owned()).collect())
            .unwrap_or_default()
    };
    let mut texts = decode(bitmap);
    if !texts.iter().any(|text| wanted(text)) {
        bitmap.invert();
        texts.extend(decode(bitmap));
        bitmap.invert();
    }
    texts
}

fn text_of(bytes: &[u8]) -> String {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return text.to_owned();
    }
    let (text, _, had_errors) = encoding_rs::SHIFT_JIS.decode(bytes);
    match had_errors {
        false => text.into_owned(),
        true => encoding_rs::WINDOWS_1252.decode(bytes).0.into_owned(),
    }
}
