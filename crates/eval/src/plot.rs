//! Axis-free scatter maps (like the paper's UMAP figures) as PNG or SVG, with a categorical
//! legend or a continuous colour bar.
//!
//! Text is drawn with the bundled Inter Regular font (SIL OFL 1.1, `data/fonts/`) through
//! plotters' `ab_glyph` backend, so rendering needs no fontconfig/freetype on the machine.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Once;

use multimat_dataset::SplitMix64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{FontStyle, RGBAColor, RGBColor};

use crate::error::{Error, ErrorKind, Result};

/// The bundled font (Inter Regular, SIL Open Font License 1.1; see data/fonts/OFL.txt).
static FONT: &[u8] = include_bytes!("../../../data/fonts/Inter-Regular.otf");
const FAMILY: &str = "sans-serif";
static REGISTER: Once = Once::new();

fn register_font() {
    REGISTER.call_once(|| {
        // The font is compiled in and known good; a failure would only mean a corrupt build.
        let _ = plotters::style::register_font(FAMILY, FontStyle::Normal, FONT);
    });
}

/// The seven crystal systems in the paper's legend order, with their colours.
pub const CRYSTAL_SYSTEMS: [(&str, RGBColor); 7] = [
    ("cubic", RGBColor(214, 39, 40)),
    ("hexagonal", RGBColor(255, 127, 14)),
    ("monoclinic", RGBColor(31, 119, 180)),
    ("orthorhombic", RGBColor(44, 160, 44)),
    ("tetragonal", RGBColor(148, 103, 189)),
    ("triclinic", RGBColor(140, 86, 75)),
    ("trigonal", RGBColor(227, 119, 194)),
];

/// Colours for other categories, in order of first use (matplotlib's tab10 without the
/// greys).
const PALETTE: [RGBColor; 9] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// Points without a value.
const MISSING: RGBColor = RGBColor(200, 200, 200);

/// matplotlib's viridis at 9 evenly spaced stops.
const VIRIDIS: [(u8, u8, u8); 9] = [
    (0x44, 0x01, 0x54),
    (0x47, 0x2d, 0x7b),
    (0x3b, 0x52, 0x8b),
    (0x2c, 0x72, 0x8e),
    (0x21, 0x91, 0x8c),
    (0x28, 0xae, 0x80),
    (0x5e, 0xc9, 0x62),
    (0xad, 0xdc, 0x30),
    (0xfd, 0xe7, 0x25),
];

/// Viridis at `t` ∈ [0, 1] (clamped), linearly interpolated between the stops.
pub fn viridis(t: f64) -> RGBColor {
    let t = if t.is_finite() {
        t.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let x = t * (VIRIDIS.len() - 1) as f64;
    let i = (x.floor() as usize).min(VIRIDIS.len() - 2);
    let f = x - i as f64;
    let lerp = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * f).round() as u8;
    let (a, b) = (VIRIDIS[i], VIRIDIS[i + 1]);
    RGBColor(lerp(a.0, b.0), lerp(a.1, b.1), lerp(a.2, b.2))
}

/// How points are coloured.
#[derive(Debug, Clone, PartialEq)]
pub enum Coloring {
    /// One colour per category (crystal system, metal / non-metal, ...); `None` = no value.
    Categorical {
        /// Legend title.
        title: String,
        values: Vec<Option<String>>,
    },
    /// A continuous value through viridis with a colour bar; `None` / NaN = no value.
    Continuous {
        /// Colour-bar title, with units (e.g. `formation energy (eV/atom)`).
        title: String,
        values: Vec<Option<f64>>,
    },
}

impl Coloring {
    fn len(&self) -> usize {
        match self {
            Coloring::Categorical { values, .. } => values.len(),
            Coloring::Continuous { values, .. } => values.len(),
        }
    }
}

/// Size and look of a map.
#[derive(Debug, Clone, PartialEq)]
pub struct PlotStyle {
    /// Image size in pixels (SVG user units).
    pub width: u32,
    pub height: u32,
    /// Title above the map.
    pub title: Option<String>,
    /// Point radius (px); `None`: from the number of points.
    pub point_radius: Option<f64>,
    /// Point opacity 0–1; `None`: 0.35 for categories (overlaps stay readable, the paper uses
    /// 0.2), 0.8 for continuous values.
    pub alpha: Option<f64>,
    /// Seed of the drawing order (points are drawn shuffled so no class is always on top).
    pub seed: u64,
}

impl Default for PlotStyle {
    fn default() -> Self {
        Self {
            width: 1200,
            height: 900,
            title: None,
            point_radius: None,
            alpha: None,
            seed: 0,
        }
    }
}

/// What the legend of a drawn map shows (returned for reports and tests).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LegendSummary {
    /// Category → count (categorical), in legend order.
    pub categories: Vec<(String, usize)>,
    /// Colour-bar range (continuous).
    pub range: Option<(f64, f64)>,
    /// Points without a value.
    pub missing: usize,
}

/// Draws `points` coloured by `coloring` and writes a PNG or SVG, chosen by `path`'s
/// extension, atomically.
pub fn scatter(
    points: &[[f32; 2]],
    coloring: &Coloring,
    style: &PlotStyle,
    path: &Path,
) -> Result<LegendSummary> {
    let name = path.display().to_string();
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(|e| e.to_ascii_lowercase());
    let (bytes, summary) = match ext.as_deref() {
        Some("png") => scatter_png(points, coloring, style)?,
        Some("svg") => {
            let (s, summary) = scatter_svg(points, coloring, style)?;
            (s.into_bytes(), summary)
        }
        _ => {
            return Err(Error::new(
                name,
                ErrorKind::InvalidInput("map files must end in .png or .svg".into()),
            ))
        }
    };
    multimat_crystal::io::write_atomic(path, &bytes).map_err(|e| Error::io(name, &e))?;
    Ok(summary)
}

/// The map as PNG bytes.
pub fn scatter_png(
    points: &[[f32; 2]],
    coloring: &Coloring,
    style: &PlotStyle,
) -> Result<(Vec<u8>, LegendSummary)> {
    let (w, h) = (style.width, style.height);
    let mut buf = vec![255u8; w as usize * h as usize * 3];
    let summary = {
        let root = BitMapBackend::with_buffer(&mut buf, (w, h)).into_drawing_area();
        let s = draw(&root, points, coloring, style)?;
        root.present().map_err(plot_err)?;
        s
    };
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().map_err(plot_err)?;
        writer.write_image_data(&buf).map_err(plot_err)?;
        writer.finish().map_err(plot_err)?;
    }
    Ok((out, summary))
}

/// The map as an SVG document.
pub fn scatter_svg(
    points: &[[f32; 2]],
    coloring: &Coloring,
    style: &PlotStyle,
) -> Result<(String, LegendSummary)> {
    let mut s = String::new();
    let summary = {
        let root = SVGBackend::with_string(&mut s, (style.width, style.height)).into_drawing_area();
        let summary = draw(&root, points, coloring, style)?;
        root.present().map_err(plot_err)?;
        summary
    };
    Ok((s, summary))
}

fn plot_err(e: impl std::fmt::Display) -> Error {
    Error::new("plot", ErrorKind::Plot(e.to_string()))
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    points: &[[f32; 2]],
    coloring: &Coloring,
    style: &PlotStyle,
) -> Result<LegendSummary> {
    register_font();
    if coloring.len() != points.len() {
        return Err(Error::new(
            "plot",
            ErrorKind::Shape(format!(
                "{} points but {} colour values",
                points.len(),
                coloring.len()
            )),
        ));
    }
    if let Some(i) = points
        .iter()
        .position(|p| !p[0].is_finite() || !p[1].is_finite())
    {
        return Err(Error::at(
            "plot",
            format!("point {i}"),
            ErrorKind::InvalidValue(format!("{:?}", points[i])),
        ));
    }
    let (w, h) = (style.width as i32, style.height as i32);
    root.fill(&WHITE).map_err(plot_err)?;
    let scale = (h as f64 / 900.0).max(0.5);
    let font = |size: f64| (FAMILY, size * scale).into_font();
    let legend_w = (260.0 * scale) as i32;
    let margin = (30.0 * scale) as i32;
    let top = if let Some(t) = &style.title {
        root.draw(&Text::new(
            t.clone(),
            (margin, (14.0 * scale) as i32),
            font(26.0).color(&BLACK),
        ))
        .map_err(plot_err)?;
        (60.0 * scale) as i32
    } else {
        margin
    };
    // Map area: left of the legend, square pixels so distances are not distorted.
    let (x0, y0, x1, y1) = (margin, top, w - legend_w - margin, h - margin);
    let n = points.len();
    let radius = style
        .point_radius
        .unwrap_or_else(|| (6.0 / (n.max(1) as f64).powf(0.2) * 2.2).clamp(1.2, 6.0) * scale);
    let (mut lo, mut hi) = ([f32::INFINITY; 2], [f32::NEG_INFINITY; 2]);
    for p in points {
        for d in 0..2 {
            lo[d] = lo[d].min(p[d]);
            hi[d] = hi[d].max(p[d]);
        }
    }
    let span = [
        (hi[0] - lo[0]).max(1e-9) as f64,
        (hi[1] - lo[1]).max(1e-9) as f64,
    ];
    let avail = [
        (x1 - x0) as f64 - 2.0 * radius,
        (y1 - y0) as f64 - 2.0 * radius,
    ];
    let s = (avail[0] / span[0]).min(avail[1] / span[1]);
    let off = [
        x0 as f64 + radius + (avail[0] - s * span[0]) / 2.0,
        y0 as f64 + radius + (avail[1] - s * span[1]) / 2.0,
    ];
    // Image y grows downwards; flip so the layout's y points up.
    let to_px = |p: &[f32; 2]| -> (i32, i32) {
        (
            (off[0] + (p[0] - lo[0]) as f64 * s).round() as i32,
            (off[1] + (hi[1] - p[1]) as f64 * s).round() as i32,
        )
    };
    let mut order: Vec<usize> = (0..n).collect();
    SplitMix64::new(style.seed).shuffle(&mut order);
    let r = radius.round().max(1.0) as i32;

    let lx = w - legend_w;
    let summary = match coloring {
        Coloring::Categorical { title, values } => {
            let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
            for v in values.iter().flatten() {
                *counts.entry(v.as_str()).or_default() += 1;
            }
            let known: Vec<&str> = CRYSTAL_SYSTEMS.iter().map(|c| c.0).collect();
            let all_crystal = counts.keys().all(|k| known.contains(k));
            let mut cats: Vec<(String, RGBColor, usize)> = Vec::new();
            if all_crystal {
                for (name, c) in CRYSTAL_SYSTEMS {
                    if let Some(&cnt) = counts.get(name) {
                        cats.push((name.to_string(), c, cnt));
                    }
                }
            } else {
                for (i, (name, cnt)) in counts.iter().enumerate() {
                    cats.push((name.to_string(), PALETTE[i % PALETTE.len()], *cnt));
                }
            }
            let alpha = style.alpha.unwrap_or(0.35);
            let colour_of = |v: &Option<String>| -> RGBAColor {
                match v {
                    Some(v) => cats
                        .iter()
                        .find(|c| &c.0 == v)
                        .map(|c| c.1.mix(alpha))
                        .unwrap_or(MISSING.mix(alpha)),
                    None => MISSING.mix(0.5),
                }
            };
            // Missing values first, underneath.
            for &i in order.iter().filter(|&&i| values[i].is_none()) {
                root.draw(&Circle::new(
                    to_px(&points[i]),
                    r,
                    colour_of(&values[i]).filled(),
                ))
                .map_err(plot_err)?;
            }
            for &i in order.iter().filter(|&&i| values[i].is_some()) {
                root.draw(&Circle::new(
                    to_px(&points[i]),
                    r,
                    colour_of(&values[i]).filled(),
                ))
                .map_err(plot_err)?;
            }
            let missing = values.iter().filter(|v| v.is_none()).count();
            let mut y = top + (10.0 * scale) as i32;
            root.draw(&Text::new(title.clone(), (lx, y), font(22.0).color(&BLACK)))
                .map_err(plot_err)?;
            y += (40.0 * scale) as i32;
            let row = (34.0 * scale) as i32;
            let dot = (8.0 * scale) as i32;
            let mut entries: Vec<(String, RGBColor, usize)> = cats.clone();
            if missing > 0 {
                entries.push(("no value".to_string(), MISSING, missing));
            }
            for (name, c, cnt) in &entries {
                root.draw(&Circle::new((lx + dot, y + dot), dot, c.filled()))
                    .map_err(plot_err)?;
                root.draw(&Text::new(
                    format!("{name} ({cnt})"),
                    (lx + 3 * dot, y),
                    font(18.0).color(&RGBColor(40, 40, 40)),
                ))
                .map_err(plot_err)?;
                y += row;
            }
            LegendSummary {
                categories: cats.iter().map(|c| (c.0.clone(), c.2)).collect(),
                range: None,
                missing,
            }
        }
        Coloring::Continuous { title, values } => {
            let finite: Vec<f64> = values
                .iter()
                .flatten()
                .copied()
                .filter(|v| v.is_finite())
                .collect();
            let (vmin, vmax) = if finite.is_empty() {
                (0.0, 1.0)
            } else {
                (
                    finite.iter().copied().fold(f64::INFINITY, f64::min),
                    finite.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                )
            };
            let vspan = if vmax > vmin { vmax - vmin } else { 1.0 };
            let alpha = style.alpha.unwrap_or(0.8);
            let value = |i: usize| values[i].filter(|v| v.is_finite());
            for &i in order.iter().filter(|&&i| value(i).is_none()) {
                root.draw(&Circle::new(
                    to_px(&points[i]),
                    r,
                    MISSING.mix(0.5).filled(),
                ))
                .map_err(plot_err)?;
            }
            for &i in order.iter() {
                if let Some(v) = value(i) {
                    let c = viridis((v - vmin) / vspan).mix(alpha);
                    root.draw(&Circle::new(to_px(&points[i]), r, c.filled()))
                        .map_err(plot_err)?;
                }
            }
            // Colour bar: a vertical gradient with 5 labelled ticks.
            let bar_top = top + (60.0 * scale) as i32;
            let bar_bottom = h - margin - (40.0 * scale) as i32;
            let bar_w = (28.0 * scale) as i32;
            root.draw(&Text::new(
                title.clone(),
                (lx, top + (10.0 * scale) as i32),
                font(20.0).color(&BLACK),
            ))
            .map_err(plot_err)?;
            let steps = (bar_bottom - bar_top).max(1);
            for k in 0..steps {
                let t = 1.0 - k as f64 / (steps - 1).max(1) as f64;
                root.draw(&Rectangle::new(
                    [(lx, bar_top + k), (lx + bar_w, bar_top + k + 1)],
                    viridis(t).filled(),
                ))
                .map_err(plot_err)?;
            }
            root.draw(&Rectangle::new(
                [(lx, bar_top), (lx + bar_w, bar_bottom)],
                BLACK.stroke_width(1),
            ))
            .map_err(plot_err)?;
            for k in 0..5 {
                let t = k as f64 / 4.0;
                let y = bar_bottom - ((bar_bottom - bar_top) as f64 * t).round() as i32;
                root.draw(&PathElement::new(
                    vec![(lx + bar_w, y), (lx + bar_w + 6, y)],
                    BLACK.stroke_width(1),
                ))
                .map_err(plot_err)?;
                root.draw(&Text::new(
                    format_tick(vmin + t * (vmax - vmin), vmax - vmin),
                    (lx + bar_w + (10.0 * scale) as i32, y - (9.0 * scale) as i32),
                    font(17.0).color(&RGBColor(40, 40, 40)),
                ))
                .map_err(plot_err)?;
            }
            let missing = n - finite.len();
            if missing > 0 {
                root.draw(&Text::new(
                    format!("grey: no value ({missing})"),
                    (lx, bar_bottom + (14.0 * scale) as i32),
                    font(16.0).color(&RGBColor(90, 90, 90)),
                ))
                .map_err(plot_err)?;
            }
            LegendSummary {
                categories: Vec::new(),
                range: if finite.is_empty() {
                    None
                } else {
                    Some((vmin, vmax))
                },
                missing,
            }
        }
    };
    Ok(summary)
}

/// A tick label with as many decimals as the range needs.
fn format_tick(v: f64, span: f64) -> String {
    let decimals = if span >= 50.0 {
        0
    } else if span >= 5.0 {
        1
    } else if span >= 0.5 {
        2
    } else {
        3
    };
    let s = format!("{v:.decimals$}");
    // "-0.00" reads oddly on a colour bar.
    if s.trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        s.trim_start_matches('-').to_string()
    } else {
        s
    }
}
