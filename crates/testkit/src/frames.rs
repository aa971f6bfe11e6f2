//! Synthetic glasses frames: a QR code as a camera would see it on a screen: placed in a
//! photo-like scene, turned, seen at an angle, blurred, noisy, with screen moiré or glare.
//! Deterministic for a given seed, so a failing frame can be rendered again.

use qrcode::{Color, QrCode};

#[derive(Clone, Debug)]
pub struct Scene {
    pub width: u32,
    pub height: u32,
    /// The code's side in pixels, quiet zone included, before tilting.
    pub code_side: f32,
    /// Turned in the image plane, in degrees.
    pub angle: f32,
    /// Seen at an angle: the far edge this much shorter than the near one (0 = head on).
    pub tilt: f32,
    /// Box blur radius in pixels (focus, motion).
    pub blur: u32,
    /// Sensor noise: each pixel moved by up to this much either way.
    pub noise: u8,
    /// The interference a camera records off a screen's pixel grid.
    pub moire: bool,
    /// A bright reflection over a corner of the code.
    pub glare: bool,
    pub seed: u64,
}

impl Scene {
    /// A frame of `width`×`height` holding a code a quarter of its height, head on.
    pub fn plain(width: u32, height: u32) -> Self {
        Self {
            width,
            height,
            code_side: height as f32 / 2.5,
            angle: 0.0,
            tilt: 0.0,
            blur: 0,
            noise: 0,
            moire: false,
            glare: false,
            seed: 1,
        }
    }
}

/// One way a camera sees a code: a change to a plain scene.
pub struct Case {
    pub name: &'static str,
    pub change: fn(&mut Scene),
}

/// What the tests and the benchmark put the decoder through.
pub fn cases() -> Vec<Case> {
    let case = |name, change| Case { name, change };
    vec![
        case("head on", |_| {}),
        case("turned 45°", |s| s.angle = 45.0),
        case("tilted 30% and turned 20°", |s| {
            s.tilt = 0.3;
            s.angle = 20.0;
        }),
        case("small (1/6 of the height)", |s| {
            s.code_side = s.height as f32 / 6.0;
        }),
        case("blurred (radius 2)", |s| s.blur = 2),
        case("noisy (±30)", |s| s.noise = 30),
        case("screen moiré", |s| s.moire = true),
        case("glare", |s| s.glare = true),
        case("all at once", |s| {
            s.angle = 30.0;
            s.tilt = 0.2;
            s.blur = 1;
            s.noise = 15;
            s.moire = true;
            s.glare = true;
        }),
    ]
}

/// Greyscale pixels, row by row, `scene.width * scene.height` of them.
pub fn render(text: &str, scene: &Scene) -> Vec<u8> {
    let code = QrCode::new(text.as_bytes()).expect("the text fits a QR code");
    let modules = code.width();
    let colors = code.to_colors();
    let side = modules + 8; // four modules of quiet zone each side
    let dark = |u: f32, v: f32| {
        let (column, row) = ((u * side as f32) as usize, (v * side as f32) as usize);
        let inside = (4..4 + modules).contains(&column) && (4..4 + modules).contains(&row);
        inside && colors[(row - 4) * modules + (column - 4)] == Color::Dark
    };
    let (width, height) = (scene.width as usize, scene.height as usize);
    let to_square = square_from_quad(&quad(scene));
    let mut random = XorShift(scene.seed.max(1));
    let phase = random.unit() * 6.0;
    let mut pixels = vec![0u8; width * height];
    for y in 0..height {
        for x in 0..width {
            let (fx, fy) = (x as f32, y as f32);
            // Light falls off across the scene; the background has soft shapes.
            let light = 0.75 + 0.25 * (fx / width as f32 + phase).sin();
            let background =
                110.0 + 50.0 * (fx / 170.0 + phase).sin() * (fy / 130.0).cos() + 30.0 * light;
            // 2×2 samples per pixel, so module edges are grey as a lens makes them.
            let mut sum = 0.0;
            for (dx, dy) in [(0.25, 0.25), (0.75, 0.25), (0.25, 0.75), (0.75, 0.75)] {
                let (u, v) = to_square(fx + dx, fy + dy);
                sum += if (0.0..1.0).contains(&u) && (0.0..1.0).contains(&v) {
                    match dark(u, v) {
                        true => 30.0 * light,
                        false => 235.0 * light,
                    }
                } else {
                    background
                };
            }
            pixels[y * width + x] = (sum / 4.0).clamp(0.0, 255.0) as u8;
        }
    }
    if scene.moire {
        for y in 0..height {
            for x in 0..width {
                let wave = (std::f32::consts::TAU * (x as f32 * 0.31 + y as f32 * 0.07)).sin();
                let pixel = &mut pixels[y * width + x];
                *pixel = (f32::from(*pixel) + 28.0 * wave).clamp(0.0, 255.0) as u8;
            }
        }
    }
    if scene.glare {
        let corners = quad(scene);
        let (gx, gy) = (
            (corners[0].0 * 2.0 + corners[2].0) / 3.0,
            (corners[0].1 * 2.0 + corners[2].1) / 3.0,
        );
        let radius = scene.code_side / 5.0;
        for y in 0..height {
            for x in 0..width {
                let d2 = (x as f32 - gx).powi(2) + (y as f32 - gy).powi(2);
                let pixel = &mut pixels[y * width + x];
                let shine = 170.0 * (-d2 / (2.0 * radius * radius)).exp();
                *pixel = (f32::from(*pixel) + shine).min(255.0) as u8;
            }
        }
    }
    if scene.blur > 0 {
        box_blur(&mut pixels, width, height, scene.blur as usize);
    }
    if scene.noise > 0 {
        let amplitude = f32::from(scene.noise);
        for pixel in &mut pixels {
            let moved = f32::from(*pixel) + (random.unit() * 2.0 - 1.0) * amplitude;
            *pixel = moved.clamp(0.0, 255.0) as u8;
        }
    }
    pixels
}

/// Where the code's corners land (top left, top right, bottom right, bottom left).
fn quad(scene: &Scene) -> [(f32, f32); 4] {
    let (cx, cy) = (scene.width as f32 / 2.0, scene.height as f32 / 2.0);
    let half = scene.code_side / 2.0;
    let far = half * (1.0 - scene.tilt);
    let corners = [(-far, -half), (far, -half), (half, half), (-half, half)];
    let (sin, cos) = scene.angle.to_radians().sin_cos();
    corners.map(|(x, y)| (cx + x * cos - y * sin, cy + x * sin + y * cos))
}

/// The projective map from image points back to the unit square the code fills
/// (Heckbert's square-to-quad, inverted).
fn square_from_quad(q: &[(f32, f32); 4]) -> impl Fn(f32, f32) -> (f32, f32) + use<> {
    let [(x0, y0), (x1, y1), (x2, y2), (x3, y3)] = q.map(|(x, y)| (f64::from(x), f64::from(y)));
    let (dx1, dx2, dx3) = (x1 - x2, x3 - x2, x0 - x1 + x2 - x3);
    let (dy1, dy2, dy3) = (y1 - y2, y3 - y2, y0 - y1 + y2 - y3);
    let det = dx1 * dy2 - dx2 * dy1;
    let a13 = (dx3 * dy2 - dx2 * dy3) / det;
    let a23 = (dx1 * dy3 - dx3 * dy1) / det;
    // [x y w] = [u v 1] · m
    let m = [
        [x1 - x0 + a13 * x1, y1 - y0 + a13 * y1, a13],
        [x3 - x0 + a23 * x3, y3 - y0 + a23 * y3, a23],
        [x0, y0, 1.0],
    ];
    let inverse = invert(m);
    move |x: f32, y: f32| {
        let (x, y) = (f64::from(x), f64::from(y));
        let u = x * inverse[0][0] + y * inverse[1][0] + inverse[2][0];
        let v = x * inverse[0][1] + y * inverse[1][1] + inverse[2][1];
        let w = x * inverse[0][2] + y * inverse[1][2] + inverse[2][2];
        ((u / w) as f32, (v / w) as f32)
    }
}

fn invert(m: [[f64; 3]; 3]) -> [[f64; 3]; 3] {
    let cofactor = |r: usize, c: usize| {
        let rows: Vec<usize> = (0..3).filter(|&i| i != r).collect();
        let cols: Vec<usize> = (0..3).filter(|&j| j != c).collect();
        let minor =
            m[rows[0]][cols[0]] * m[rows[1]][cols[1]] - m[rows[0]][cols[1]] * m[rows[1]][cols[0]];
        if (r + c).is_multiple_of(2) {
            minor
        } else {
            -minor
        }
    };
    let det: f64 = (0..3).map(|c| m[0][c] * cofactor(0, c)).sum();
    let mut inverse = [[0.0; 3]; 3];
    for (r, row) in inverse.iter_mut().enumerate() {
        for (c, cell) in row.iter_mut().enumerate() {
            *cell = cofactor(c, r) / det;
        }
    }
    inverse
}

fn box_blur(pixels: &mut [u8], width: usize, height: usize, radius: usize) {
    let pass = |pixels: &mut [u8], along_rows: bool| {
        let (lines, length) = if along_rows {
            (height, width)
        } else {
            (width, height)
        };
        let index = |line: usize, i: usize| {
            if along_rows {
                line * width + i
            } else {
                i * width + line
            }
        };
        let mut line_values = vec![0u32; length];
        for line in 0..lines {
            for (i, value) in line_values.iter_mut().enumerate() {
                *value = u32::from(pixels[index(line, i)]);
            }
            for i in 0..length {
                let (from, to) = (i.saturating_sub(radius), (i + radius).min(length - 1));
                let sum: u32 = line_values[from..=to].iter().sum();
                pixels[index(line, i)] = (sum / (to - from + 1) as u32) as u8;
            }
        }
    };
    pass(pixels, true);
    pass(pixels, false);
}

struct XorShift(u64);

impl XorShift {
    /// In [0, 1).
    fn unit(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }
}
