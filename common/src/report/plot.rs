//! Publication figures. A figure is drawn once, by plotters, as an SVG whose size is the printed
//! size (3.3 in for one column, 6.9 in for the text width; CSS pixels, 96 per inch, so a point is
//! 4/3 px); the SVG is then converted in Rust to a PDF (svg2pdf: vector, the embedded DejaVu Sans
//! subset inside) and a PNG at 300 dpi (resvg), so the three files show the same figure. No system
//! fonts, fontconfig or external tools.
//!
//! The style, for every figure: Okabe–Ito colours, and a marker shape per series, so curves stay
//! apart in grayscale; theory curves dashed in their data series' colour; the paper's reference
//! lines dark grey and dash-dotted; the legend below the plot, never on data; axes ticked by
//! [`Ticks`], one number format per axis (decades as 10ᵏ on log axes, with minor ticks; a shared
//! ×10ᵏ factor moved into the axis label on linear axes that need one); heat maps with a colour bar.
use super::{Figure, FigureKind, Series, Style, Width};
use anyhow::{Context, Result};
use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;
use std::sync::{Arc, Once, OnceLock};

const FONT: &str = "sans-serif";
/// Drawing units per CSS pixel: plotters draws on an integer grid, so the SVG is drawn 4× finer and
/// its `width`/`height` say the printed size (its `viewBox` the drawing grid).
const SUPERSAMPLE: f64 = 4.0;
/// Drawing units per point.
const PX_PER_PT: f64 = SUPERSAMPLE * 96.0 / 72.0;
/// Resolution of the PNG.
pub const PNG_DPI: f32 = 300.0;

/// Font sizes in points.
const TITLE_PT: f64 = 8.5;
const LABEL_PT: f64 = 8.0;
const TICK_PT: f64 = 7.0;
const LEGEND_PT: f64 = 7.0;

fn px(pt: f64) -> i32 {
    (pt * PX_PER_PT).round() as i32
}

fn font(pt: f64) -> FontDesc<'static> {
    (FONT, pt * PX_PER_PT).into_font()
}

fn text_width(s: &str, pt: f64) -> i32 {
    font(pt).box_size(s).map(|(w, _)| w as i32).unwrap_or((s.chars().count() as f64 * 0.6 * pt * PX_PER_PT) as i32)
}

/// Printed width in inches.
pub fn width_in(w: Width) -> f64 {
    match w {
        Width::Single => 3.3,
        Width::Double => 6.9,
    }
}

/// Height of the plot (title and legend come on top of it), in inches.
fn plot_height_in(w: Width) -> f64 {
    match w {
        Width::Single => 2.4,
        Width::Double => 2.8,
    }
}

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for style in [FontStyle::Normal, FontStyle::Bold, FontStyle::Italic, FontStyle::Oblique] {
            plotters::style::register_font(FONT, style, dejavu::sans::regular())
                .unwrap_or_else(|_| panic!("embedded DejaVu font failed to load"));
        }
    });
}

/// Okabe & Ito (2008), the colour-blind-safe palette, without its yellow (too light on white).
pub const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(230, 159, 0),   // orange
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(0, 0, 0),       // black
];
/// Colour of reference lines.
const REFERENCE: RGBColor = RGBColor(80, 80, 80);
/// Number of marker shapes; with 7 colours, slots 0..56 differ in colour or shape.
pub const MARKERS: usize = 8;

/// Colour of palette slot `slot`.
pub fn slot_color(slot: usize) -> RGBColor {
    PALETTE[slot % PALETTE.len()]
}

/// Polygon of marker `shape` (of [`MARKERS`]), centred on 0, radius `r` px.
fn marker_shape(shape: usize, r: f64) -> Vec<(i32, i32)> {
    let poly = |n: usize, rot: f64, rad: f64| -> Vec<(i32, i32)> {
        (0..n)
            .map(|i| {
                let a = rot + std::f64::consts::TAU * i as f64 / n as f64;
                ((rad * a.cos()).round() as i32, (-rad * a.sin()).round() as i32)
            })
            .collect()
    };
    let h = std::f64::consts::FRAC_PI_2;
    match shape % MARKERS {
        0 => poly(16, 0.0, r),           // circle
        1 => poly(4, h / 2.0, r * 1.2),  // square
        2 => poly(3, h, r * 1.35),       // triangle up
        3 => poly(4, 0.0, r * 1.3),      // diamond
        4 => poly(3, -h, r * 1.35),      // triangle down
        5 => poly(6, 0.0, r * 1.15),     // hexagon
        6 => star(5, r * 1.45, r * 0.6), // star
        _ => cross(r * 1.25, r * 0.45),  // plus
    }
}

fn star(n: usize, ro: f64, ri: f64) -> Vec<(i32, i32)> {
    (0..2 * n)
        .map(|i| {
            let a = std::f64::consts::FRAC_PI_2 + std::f64::consts::PI * i as f64 / n as f64;
            let rad = if i % 2 == 0 { ro } else { ri };
            ((rad * a.cos()).round() as i32, (-rad * a.sin()).round() as i32)
        })
        .collect()
}

fn cross(a: f64, b: f64) -> Vec<(i32, i32)> {
    let (a, b) = (a.round() as i32, b.round().max(1.0) as i32);
    vec![(-b, -a), (b, -a), (b, -b), (a, -b), (a, b), (b, b), (b, a), (-b, a), (-b, b), (-a, b), (-a, -b), (-b, -b)]
}

/// Dash pattern (on, off, on, off ...) in points; empty for a solid line.
fn dash_pattern(style: Style) -> &'static [f64] {
    match style {
        Style::Dashed => &[4.0, 2.5],
        Style::Reference => &[5.0, 2.0, 1.2, 2.0],
        _ => &[],
    }
}

/// Split a pixel polyline into the "on" pieces of a dash pattern (in px).
fn dashes(points: &[(f64, f64)], pattern: &[f64]) -> Vec<Vec<(i32, i32)>> {
    let r = |p: (f64, f64)| (p.0.round() as i32, p.1.round() as i32);
    if pattern.is_empty() {
        return vec![points.iter().map(|&p| r(p)).collect()];
    }
    let mut out = vec![];
    let mut cur: Vec<(i32, i32)> = vec![];
    let (mut k, mut left, mut on) = (0usize, pattern[0], true);
    for w in points.windows(2) {
        let (a, b) = (w[0], w[1]);
        let len = ((b.0 - a.0).powi(2) + (b.1 - a.1).powi(2)).sqrt();
        let mut t = 0.0;
        if on && cur.is_empty() {
            cur.push(r(a));
        }
        while len - t > left {
            t += left;
            let p = (a.0 + (b.0 - a.0) * t / len, a.1 + (b.1 - a.1) * t / len);
            if on {
                cur.push(r(p));
                out.push(std::mem::take(&mut cur));
            } else {
                cur = vec![r(p)];
            }
            on = !on;
            k = (k + 1) % pattern.len();
            left = pattern[k];
        }
        left -= len - t;
        if on {
            cur.push(r(b));
        }
    }
    if cur.len() >= 2 {
        out.push(cur);
    }
    out
}

fn tf(v: f64, log: bool) -> Option<f64> {
    if !v.is_finite() {
        return None;
    }
    if log { if v > 0.0 { Some(v.log10()) } else { None } } else { Some(v) }
}

fn range(vals: impl Iterator<Item = f64>, log: bool) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in vals {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 * (1.0 + lo.abs()) {
        let pad = if log { 0.2 } else { 0.5 + 0.05 * lo.abs() };
        return (lo - pad, hi + pad);
    }
    let pad = 0.04 * (hi - lo);
    (lo - pad, hi + pad)
}

const SUPERSCRIPT: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];

/// `10ᵏ` with a superscript exponent.
pub fn pow10_label(k: i64) -> String {
    let mut s = String::from("10");
    if k < 0 {
        s.push('⁻');
    }
    for c in k.unsigned_abs().to_string().chars() {
        s.push(SUPERSCRIPT[c.to_digit(10).unwrap_or(0) as usize]);
    }
    s
}

/// A number with a typographic minus.
fn minus(s: String) -> String {
    if let Some(rest) = s.strip_prefix('-') { format!("−{rest}") } else { s }
}

/// The fewest decimals (≤ 8) that print every value exactly to within `tol`.
fn common_decimals(vals: &[f64], tol: f64) -> usize {
    (0..=8)
        .find(|&d| {
            let q = 10f64.powi(d as i32);
            vals.iter().all(|v| ((v * q).round() / q - v).abs() <= tol)
        })
        .unwrap_or(8)
}

/// The ticks of one axis, in drawing coordinates (log10 of the value on a log axis), with their
/// labels, all in one number format, and a suffix for the axis label (a shared `×10ᵏ`).
#[derive(Clone, Debug, PartialEq)]
pub struct Ticks {
    /// Labelled tick positions.
    pub major: Vec<f64>,
    /// Unlabelled minor tick positions.
    pub minor: Vec<f64>,
    /// One label per major tick.
    pub labels: Vec<String>,
    /// Appended to the axis label, e.g. ` (×10⁻³)`; empty when not needed.
    pub suffix: String,
}

impl Ticks {
    /// Ticks of a linear axis over [lo, hi], about `target` of them.
    pub fn linear(lo: f64, hi: f64, target: usize) -> Ticks {
        let raw = (hi - lo) / target.max(2) as f64;
        let e = raw.log10().floor();
        let f = raw / 10f64.powf(e);
        let m = [1.0, 2.0, 5.0, 10.0].into_iter().find(|&m| m >= f - 1e-9).unwrap_or(10.0);
        let step = m * 10f64.powf(e);
        let (k0, k1) = ((lo / step - 1e-9).ceil() as i64, (hi / step + 1e-9).floor() as i64);
        let major: Vec<f64> = (k0..=k1).map(|k| if k == 0 { 0.0 } else { k as f64 * step }).collect();
        let sub = if m == 2.0 { 4.0 } else { 5.0 };
        let ms = step / sub;
        let minor = ((lo / ms).ceil() as i64..=(hi / ms).floor() as i64)
            .map(|k| k as f64 * ms)
            .filter(|v| major.iter().all(|t| (t - v).abs() > 1e-9 * step))
            .collect();
        let amax = major.iter().fold(0.0f64, |a, v| a.max(v.abs()));
        let exp = if amax >= 1e4 || (amax > 0.0 && amax < 1e-2) { amax.log10().floor() as i32 } else { 0 };
        let scale = 10f64.powi(exp);
        let scaled: Vec<f64> = major.iter().map(|v| v / scale).collect();
        let d = common_decimals(&scaled, 1e-6 * step / scale);
        let labels =
            scaled.iter().map(|v| minus(format!("{:.*}", d, if v.abs() < 1e-12 { 0.0 } else { *v }))).collect();
        let suffix = if exp != 0 { format!(" (×{})", pow10_label(exp as i64)) } else { String::new() };
        Ticks { major, minor, labels, suffix }
    }

    /// Ticks of a log axis over [lo, hi] (log10 of the values).
    pub fn log(lo: f64, hi: f64) -> Ticks {
        let (k0, k1) = ((lo - 1e-9).ceil() as i64, (hi + 1e-9).floor() as i64);
        let n = k1 - k0 + 1;
        let inside = |v: f64| v >= lo - 1e-9 && v <= hi + 1e-9;
        if n >= 2 {
            let stride = (n + 5) / 6;
            let major: Vec<f64> = (k0..=k1).filter(|k| k.rem_euclid(stride) == 0).map(|k| k as f64).collect();
            let minor: Vec<f64> = if stride == 1 {
                (k0 - 1..=k1)
                    .flat_map(|k| (2..=9).map(move |m| k as f64 + (m as f64).log10()))
                    .filter(|&v| inside(v))
                    .collect()
            } else {
                (k0..=k1).filter(|k| k.rem_euclid(stride) != 0).map(|k| k as f64).collect()
            };
            let labels = major.iter().map(|&k| pow10_label(k as i64)).collect();
            return Ticks { major, minor, labels, suffix: String::new() };
        }
        // Less than two decades: mantissa ticks 1, 2, 5 (or every digit) times 10^k.
        let (e0, e1) = (lo.floor() as i64, hi.ceil() as i64);
        let cands = |ms: &[u32]| -> Vec<(u32, i64)> {
            (e0..=e1)
                .flat_map(|k| ms.iter().map(move |&m| (m, k)))
                .filter(|&(m, k)| inside(k as f64 + (m as f64).log10()))
                .collect()
        };
        let mut picks = cands(&[1, 2, 5]);
        if picks.len() < 2 {
            picks = cands(&[1, 2, 3, 5, 7]);
        }
        if picks.len() > 6 {
            picks = cands(&[1, 3]);
        }
        if picks.len() < 2 {
            // A narrow range: linear ticks of the values, drawn at their logarithms.
            let lin = Ticks::linear(10f64.powf(lo), 10f64.powf(hi), 3);
            let keep: Vec<usize> = (0..lin.major.len()).filter(|&i| lin.major[i] > 0.0).collect();
            return Ticks {
                major: keep.iter().map(|&i| lin.major[i].log10()).collect(),
                minor: vec![],
                labels: keep.iter().map(|&i| lin.labels[i].clone()).collect(),
                suffix: lin.suffix,
            };
        }
        let major: Vec<f64> = picks.iter().map(|&(m, k)| k as f64 + (m as f64).log10()).collect();
        let vals: Vec<f64> = picks.iter().map(|&(m, k)| m as f64 * 10f64.powi(k as i32)).collect();
        let labels = if vals.iter().all(|v| (1e-3..1e4).contains(v)) {
            let d = common_decimals(&vals, 1e-9 * vals[0]);
            vals.iter().map(|v| format!("{v:.d$}")).collect()
        } else {
            picks.iter().map(|&(m, k)| format!("{m}×{}", pow10_label(k))).collect()
        };
        let minor = cands(&[1, 2, 3, 4, 5, 6, 7, 8, 9])
            .into_iter()
            .map(|(m, k)| k as f64 + (m as f64).log10())
            .filter(|v| major.iter().all(|t| (t - v).abs() > 1e-9))
            .collect();
        Ticks { major, minor, labels, suffix: String::new() }
    }

    fn for_axis(lo: f64, hi: f64, log: bool, target: usize) -> Ticks {
        if log { Ticks::log(lo, hi) } else { Ticks::linear(lo, hi, target) }
    }

    fn label(&self, v: f64) -> String {
        let tol = 1e-9 * (1.0 + v.abs());
        self.major.iter().position(|t| (t - v).abs() <= tol).map(|i| self.labels[i].clone()).unwrap_or_default()
    }
}

/// A linear coordinate over [lo, hi] whose key points are given ticks (plotters' own
/// `WithKeyPoints` lacks the formatter bound the mesh needs).
struct Axis {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

impl Ranged for Axis {
    type ValueType = f64;
    type FormatOption = DefaultFormatting;
    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let t = (v - self.lo) / (self.hi - self.lo);
        limit.0 + ((limit.1 - limit.0) as f64 * t).round() as i32
    }
    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() { vec![] } else { self.ticks.clone() }
    }
    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

fn axis(lo: f64, hi: f64, ticks: Vec<f64>) -> Axis {
    Axis { lo, hi, ticks }
}

/// A legend entry: how its sample is drawn.
#[derive(Clone, Debug, PartialEq)]
struct Entry {
    label: String,
    color: RGBColor,
    style: Style,
    marker: Option<usize>,
    band: bool,
}

/// Palette slot of every series: explicit ones as given, the others the next slot not taken by an
/// explicit one, in order; reference series take none. A theory curve's explicit slot pairs it with
/// the data series there and reserves nothing.
fn slots(series: &[Series]) -> Vec<Option<usize>> {
    let taken: Vec<usize> = series.iter().filter(|s| s.style != Style::Dashed).filter_map(|s| s.color).collect();
    let mut next = 0usize;
    series
        .iter()
        .map(|s| {
            if s.style == Style::Reference {
                return None;
            }
            Some(s.color.unwrap_or_else(|| {
                while taken.contains(&next) {
                    next += 1;
                }
                next += 1;
                next - 1
            }))
        })
        .collect()
}

/// Whether series `s` is drawn with markers (always for markers; for solid lines when several
/// data series share the plot, sparsely).
fn has_marker(s: &Series, n_data: usize) -> bool {
    match s.style {
        Style::Markers | Style::LineMarkers => true,
        // A one-point "line" draws nothing, as a line; it gets no marker either.
        Style::Line => n_data > 1 && s.x.len() > 1,
        Style::Dashed | Style::Reference => false,
    }
}

fn entries(series: &[Series]) -> Vec<Entry> {
    let slot = slots(series);
    let n_data = series.iter().filter(|s| matches!(s.style, Style::Line | Style::LineMarkers | Style::Markers)).count();
    let mut out: Vec<Entry> = vec![];
    for (s, k) in series.iter().zip(&slot) {
        if s.label.is_empty() {
            continue;
        }
        let e = Entry {
            label: s.label.clone(),
            color: k.map_or(REFERENCE, slot_color),
            style: s.style,
            marker: if has_marker(s, n_data) { *k } else { None },
            band: s.band.is_some(),
        };
        if !out.contains(&e) {
            out.push(e);
        }
    }
    // Data first, then theory curves, then the paper's reference lines.
    out.sort_by_key(|e| match e.style {
        Style::Dashed => 1,
        Style::Reference => 2,
        _ => 0,
    });
    out
}

/// Legend rows (indices into `entries`) that fit in `width` px.
fn legend_rows(entries: &[Entry], width: i32) -> Vec<Vec<usize>> {
    let mut rows: Vec<Vec<usize>> = vec![];
    let mut used = i32::MAX;
    for (i, e) in entries.iter().enumerate() {
        let w = entry_width(e);
        if used.saturating_add(w) > width {
            rows.push(vec![]);
            used = 0;
        }
        rows.last_mut().expect("a row").push(i);
        used += w;
    }
    rows
}

fn entry_width(e: &Entry) -> i32 {
    px(SAMPLE_PT + 3.0 + 8.0) + text_width(&e.label, LEGEND_PT)
}

const SAMPLE_PT: f64 = 16.0;
const LEGEND_ROW_PT: f64 = 9.5;
const MARGIN_PT: f64 = 4.0;

/// Words of `text` wrapped into lines of at most `width` px at `pt`.
fn wrap(text: &str, pt: f64, width: i32) -> Vec<String> {
    let mut lines: Vec<String> = vec![];
    for w in text.split_whitespace() {
        match lines.last_mut() {
            Some(l) if text_width(&format!("{l} {w}"), pt) <= width => {
                l.push(' ');
                l.push_str(w);
            }
            _ => lines.push(w.to_string()),
        }
    }
    lines
}

/// The font size (≤ `pt`, ≥ 5.5) at which `text` fits in `width` px.
fn fit(text: &str, pt: f64, width: i32) -> f64 {
    let w = text_width(text, pt);
    if w <= width { pt } else { (pt * width as f64 / w as f64).max(5.5) }
}

/// Layout of a figure in px: total size and the heights of the title, plot and legend bands.
struct Layout {
    w: i32,
    title: Vec<String>,
    title_h: i32,
    plot_h: i32,
    legend: Vec<Vec<usize>>,
    legend_h: i32,
}

impl Layout {
    fn new(fig: &Figure, entries: &[Entry]) -> Layout {
        let w = (width_in(fig.width) * 96.0 * SUPERSAMPLE).round() as i32;
        let title = if fig.title.is_empty() { vec![] } else { wrap(&fig.title, TITLE_PT, w - 2 * px(MARGIN_PT)) };
        let title_h = if title.is_empty() { px(MARGIN_PT) } else { px(TITLE_PT * 1.25 * title.len() as f64 + 4.0) };
        let plot_h = (plot_height_in(fig.width) * 96.0 * SUPERSAMPLE).round() as i32;
        let legend = legend_rows(entries, w - 2 * px(MARGIN_PT));
        let legend_h = if legend.is_empty() { 0 } else { px(LEGEND_ROW_PT * legend.len() as f64 + 3.0) };
        Layout { w, title, title_h, plot_h, legend, legend_h }
    }
    fn h(&self) -> i32 {
        self.title_h + self.plot_h + self.legend_h
    }
}

fn draw_title<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, lines: &[String]) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let (w, _) = area.dim_in_pixel();
    let style = font(TITLE_PT).color(&BLACK).pos(Pos::new(HPos::Center, VPos::Top));
    for (i, l) in lines.iter().enumerate() {
        area.draw(&Text::new(l.clone(), (w as i32 / 2, px(2.0 + TITLE_PT * 1.25 * i as f64)), style.clone()))?;
    }
    Ok(())
}

/// A line sample, with its marker and band, from `(x, y)` to `(x + len, y)`.
fn draw_sample<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, e: &Entry, x: i32, y: i32, len: i32) -> Result<()>
where
    DB::ErrorType: 'static,
{
    if e.band {
        area.draw(&Rectangle::new([(x, y - px(3.0)), (x + len, y + px(3.0))], e.color.mix(0.2).filled()))?;
    }
    if e.style != Style::Markers {
        let pts = [(x as f64, y as f64), ((x + len) as f64, y as f64)];
        for d in dashes(&pts, &scaled(dash_pattern(e.style))) {
            area.draw(&PathElement::new(d, e.color.stroke_width(line_width(e.style))))?;
        }
    }
    if let Some(m) = e.marker {
        area.draw(&(EmptyElement::at((x + len / 2, y)) + Polygon::new(marker_shape(m, marker_r()), e.color.filled())))?;
    }
    Ok(())
}

fn scaled(pattern: &[f64]) -> Vec<f64> {
    pattern.iter().map(|p| p * PX_PER_PT).collect()
}

fn line_width(style: Style) -> u32 {
    match style {
        Style::Reference => px(0.9).max(1) as u32,
        _ => px(1.1).max(1) as u32,
    }
}

fn marker_r() -> f64 {
    2.0 * PX_PER_PT
}

fn draw_legend<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, entries: &[Entry], rows: &[Vec<usize>]) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let style = font(LEGEND_PT).color(&BLACK).pos(Pos::new(HPos::Left, VPos::Center));
    let (w, _) = area.dim_in_pixel();
    for (r, row) in rows.iter().enumerate() {
        let total: i32 = row.iter().map(|&i| entry_width(&entries[i])).sum::<i32>() - px(8.0);
        let mut x = ((w as i32 - total) / 2).max(px(MARGIN_PT));
        let y = px(LEGEND_ROW_PT * (r as f64 + 0.5) + 1.5);
        for &i in row {
            let e = &entries[i];
            draw_sample(area, e, x, y, px(SAMPLE_PT))?;
            area.draw(&Text::new(e.label.clone(), (x + px(SAMPLE_PT + 3.0), y), style.clone()))?;
            x += entry_width(e);
        }
    }
    Ok(())
}

fn draw_xy<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, fig: &Figure, series: &[Series]) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let pts: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|s| s.x.iter().zip(&s.y).filter_map(|(&x, &y)| Some((tf(x, fig.x_log)?, tf(y, fig.y_log)?))).collect())
        .collect();
    let bands: Vec<Option<Vec<(f64, f64, f64)>>> = series
        .iter()
        .map(|s| {
            s.band.as_ref().map(|(lo, hi)| {
                s.x.iter()
                    .zip(lo.iter().zip(hi))
                    .filter_map(|(&x, (&l, &h))| Some((tf(x, fig.x_log)?, tf(l, fig.y_log)?, tf(h, fig.y_log)?)))
                    .collect()
            })
        })
        .collect();
    let (x0, x1) = range(pts.iter().flatten().map(|p| p.0), fig.x_log);
    let (y0, y1) = range(
        pts.iter().flatten().map(|p| p.1).chain(bands.iter().flatten().flatten().flat_map(|b| [b.1, b.2])),
        fig.y_log,
    );
    let (w, h) = area.dim_in_pixel();
    let xt = Ticks::for_axis(x0, x1, fig.x_log, if fig.width == Width::Double { 8 } else { 5 });
    let yt = Ticks::for_axis(y0, y1, fig.y_log, 5);
    let ytick_w = yt.labels.iter().map(|l| text_width(l, TICK_PT)).max().unwrap_or(0);
    let y_area = ytick_w + px(TICK_PT * 0.5 + LABEL_PT * 1.3 + 3.0);
    let x_area = px(TICK_PT * 1.2 + LABEL_PT * 1.2 + 3.0);
    let x_desc = format!("{}{}", fig.x_label, xt.suffix);
    let y_desc = format!("{}{}", fig.y_label, yt.suffix);
    let x_desc_pt = fit(&x_desc, LABEL_PT, w as i32 - y_area - px(2.0 * MARGIN_PT));
    let y_desc_pt = fit(&y_desc, LABEL_PT, h as i32 - x_area - px(MARGIN_PT));
    let mut chart = ChartBuilder::on(area)
        .margin_top(px(MARGIN_PT))
        .margin_right(px(2.5 * MARGIN_PT))
        .margin_left(px(1.0))
        .x_label_area_size(x_area)
        .y_label_area_size(y_area)
        .build_cartesian_2d(axis(x0, x1, xt.major.clone()), axis(y0, y1, yt.major.clone()))?;
    chart
        .configure_mesh()
        .x_desc(&x_desc)
        .y_desc(&y_desc)
        .x_label_style(font(TICK_PT))
        .y_label_style(font(TICK_PT))
        .axis_desc_style(font(x_desc_pt.min(y_desc_pt)))
        .x_label_formatter(&|v| xt.label(*v))
        .y_label_formatter(&|v| yt.label(*v))
        .bold_line_style(RGBColor(228, 228, 228).stroke_width(1))
        .light_line_style(TRANSPARENT)
        .axis_style(BLACK.stroke_width(1))
        .set_all_tick_mark_size(px(2.5))
        .draw()?;
    // Minor ticks, outward like the major ones.
    // Backend pixels to pixels of `area`.
    let base = area.get_base_pixel();
    let to_area = |q: &(f64, f64)| {
        let (a, b) = chart.backend_coord(q);
        (a - base.0, b - base.1)
    };
    let (xr, yr) = chart.plotting_area().get_pixel_range();
    let (xr, yr) = ((xr.start - base.0)..(xr.end - base.0), (yr.start - base.1)..(yr.end - base.1));
    for &v in &xt.minor {
        let (px_x, _) = to_area(&(v, y0));
        area.draw(&PathElement::new(vec![(px_x, yr.end), (px_x, yr.end + px(1.4))], BLACK.stroke_width(1)))?;
    }
    for &v in &yt.minor {
        let (_, px_y) = to_area(&(x0, v));
        area.draw(&PathElement::new(vec![(xr.start - px(1.4), px_y), (xr.start, px_y)], BLACK.stroke_width(1)))?;
    }
    let pix: Vec<Vec<(f64, f64)>> = pts
        .iter()
        .map(|p| {
            p.iter()
                .map(|q| {
                    let (a, b) = to_area(q);
                    (a as f64, b as f64)
                })
                .collect()
        })
        .collect();
    let slot = slots(series);
    let n_data = series.iter().filter(|s| matches!(s.style, Style::Line | Style::LineMarkers | Style::Markers)).count();
    // Bands first, under every line.
    for (i, b) in bands.iter().enumerate() {
        if let Some(b) = b {
            let c = slot[i].map_or(REFERENCE, slot_color);
            let mut poly: Vec<(f64, f64)> = b.iter().map(|p| (p.0, p.2)).collect();
            poly.extend(b.iter().rev().map(|p| (p.0, p.1)));
            if poly.len() >= 3 {
                chart.draw_series(std::iter::once(Polygon::new(poly, c.mix(0.18).filled())))?;
            }
        }
    }
    // Reference lines under the data, then the data in order.
    let mut order: Vec<usize> = (0..series.len()).filter(|&i| series[i].style == Style::Reference).collect();
    order.extend((0..series.len()).filter(|&i| series[i].style != Style::Reference));
    for i in order {
        let s = &series[i];
        let c = slot[i].map_or(REFERENCE, slot_color);
        let p = &pts[i];
        if s.style != Style::Markers && p.len() >= 2 {
            for d in dashes(&pix[i], &scaled(dash_pattern(s.style))) {
                area.draw(&PathElement::new(d, c.stroke_width(line_width(s.style))))?;
            }
        }
        if has_marker(s, n_data) {
            let m = slot[i].unwrap_or(0);
            let at: Vec<usize> = if s.style == Style::Line && p.len() > 8 {
                // Sparse markers, offset per slot so that overlapping curves show theirs.
                let n = p.len() - 1;
                (0..7)
                    .map(|j| ((j as f64 + (m % 7) as f64 / 7.0) * n as f64 / 7.0).round() as usize)
                    .filter(|&j| j <= n)
                    .collect()
            } else {
                (0..p.len()).collect()
            };
            let r = marker_r() * if s.style == Style::Line { 0.85 } else { 1.0 };
            chart.draw_series(
                at.iter().map(|&j| EmptyElement::at(p[j]) + Polygon::new(marker_shape(m, r), c.filled())),
            )?;
        }
    }
    Ok(())
}

/// Colour of `t` in [0, 1] on a sequential map (white to dark blue, monotone in lightness).
fn sequential(t: f64) -> RGBColor {
    let stops = [(255.0, 255.0, 255.0), (158.0, 202.0, 225.0), (49.0, 130.0, 189.0), (8.0, 48.0, 107.0)];
    ramp(&stops, t.clamp(0.0, 1.0))
}

/// Colour of `t` in [-1, 1] on a diverging map (blue, white, red).
fn diverging(t: f64) -> RGBColor {
    let stops =
        [(5.0, 48.0, 97.0), (67.0, 147.0, 195.0), (247.0, 247.0, 247.0), (214.0, 96.0, 77.0), (103.0, 0.0, 31.0)];
    ramp(&stops, (t.clamp(-1.0, 1.0) + 1.0) / 2.0)
}

fn ramp(stops: &[(f64, f64, f64)], t: f64) -> RGBColor {
    let s = t * (stops.len() - 1) as f64;
    let i = (s.floor() as usize).min(stops.len() - 2);
    let u = s - i as f64;
    let (a, b) = (stops[i], stops[i + 1]);
    let mix = |p: f64, q: f64| (p + (q - p) * u).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// The colour scale of a heat map: sequential from 0 for data of one sign (darker away from 0:
/// up for non-negative data, down for non-positive data), else diverging and symmetric about 0.
struct ColourScale {
    lo: f64,
    hi: f64,
    diverging: bool,
}

impl ColourScale {
    fn of(z: &[Vec<f64>]) -> ColourScale {
        let finite = || z.iter().flatten().copied().filter(|v| v.is_finite());
        let amax = finite().fold(0.0f64, |m, v| m.max(v.abs()));
        let amax = if amax > 0.0 { amax } else { 1.0 };
        if finite().all(|v| v >= 0.0) {
            ColourScale { lo: 0.0, hi: amax, diverging: false }
        } else if finite().all(|v| v <= 0.0) {
            ColourScale { lo: -amax, hi: 0.0, diverging: false }
        } else {
            ColourScale { lo: -amax, hi: amax, diverging: true }
        }
    }
    fn color(&self, v: f64) -> RGBColor {
        if !v.is_finite() {
            return RGBColor(200, 200, 200);
        }
        let amax = self.hi.abs().max(self.lo.abs());
        if self.diverging { diverging(v / amax) } else { sequential(v.abs() / amax) }
    }
}

fn draw_heatmap<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, fig: &Figure, z: &[Vec<f64>]) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let rows = z.len().max(1);
    let cols = z.iter().map(|r| r.len()).max().unwrap_or(1).max(1);
    let scale = ColourScale::of(z);
    let bar_t = Ticks::linear(scale.lo, scale.hi, 4);
    let bar_tick_w = bar_t.labels.iter().map(|l| text_width(l, TICK_PT)).max().unwrap_or(0);
    let bar_w = px(7.0) + px(3.0) + bar_tick_w + px(LABEL_PT * 1.3 + 4.0);
    let (w, h) = area.dim_in_pixel();
    let (main, bar) = area.split_horizontally(w as i32 - bar_w);
    let int_ticks = |n: usize| -> Vec<f64> {
        let step = (n as f64 / 8.0).ceil().max(1.0) as usize;
        (0..n).step_by(step).map(|i| i as f64).collect()
    };
    let (xk, yk) = (int_ticks(cols), int_ticks(rows));
    let ylab_w = text_width(&rows.to_string(), TICK_PT);
    let x_area = px(TICK_PT * 1.2 + LABEL_PT * 1.2 + 3.0);
    let mut chart = ChartBuilder::on(&main)
        .margin_top(px(MARGIN_PT))
        .margin_right(px(MARGIN_PT))
        .margin_left(px(1.0))
        .x_label_area_size(x_area)
        .y_label_area_size(ylab_w + px(TICK_PT * 0.5 + LABEL_PT * 1.3 + 3.0))
        // Cells are centred on integer coordinates, so integer ticks name rows and columns.
        .build_cartesian_2d(
            axis(-0.5, cols as f64 - 0.5, xk),
            axis(-0.5, rows as f64 - 0.5, yk.iter().map(|r| (rows - 1) as f64 - r).collect()),
        )?;
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(&fig.x_label)
        .y_desc(&fig.y_label)
        .x_label_style(font(TICK_PT))
        .y_label_style(font(TICK_PT))
        .axis_desc_style(font(LABEL_PT))
        // Row 0 is drawn at the top.
        .y_label_formatter(&|v| format!("{}", (rows as f64 - 1.0 - v).round() as i64))
        .x_label_formatter(&|v| format!("{}", v.round() as i64))
        .set_all_tick_mark_size(px(2.5))
        .draw()?;
    chart.draw_series(z.iter().enumerate().flat_map(|(i, row)| {
        let scale = &scale;
        row.iter().enumerate().map(move |(j, &v)| {
            let (x, y) = (j as f64, (rows - 1 - i) as f64);
            // A sliver of overlap hides the anti-aliasing seams between cells.
            Rectangle::new([(x - 0.5, y - 0.5), (x + 0.505, y + 0.505)], scale.color(v).filled())
        })
    }))?;
    // The colour bar, level with the plotting area.
    let (_, yr) = chart.plotting_area().get_pixel_range();
    let yr = (yr.start - bar.get_base_pixel().1)..(yr.end - bar.get_base_pixel().1);
    let (bx0, bx1) = (px(3.0), px(10.0));
    let n = (yr.end - yr.start).max(1);
    const STEPS: i32 = 96;
    for k in 0..STEPS {
        let t = scale.hi - (scale.hi - scale.lo) * (k as f64 + 0.5) / STEPS as f64;
        let (a, b) = (yr.start + n * k / STEPS, yr.start + n * (k + 1) / STEPS);
        // Each step overlaps the next by a unit, so no anti-aliasing seam shows.
        bar.draw(&Rectangle::new([(bx0, a), (bx1, (b + 1).min(yr.end))], scale.color(t).filled()))?;
    }
    bar.draw(&Rectangle::new([(bx0, yr.start), (bx1, yr.end)], BLACK.stroke_width(1)))?;
    let tick_style = font(TICK_PT).color(&BLACK).pos(Pos::new(HPos::Left, VPos::Center));
    for (v, l) in bar_t.major.iter().zip(&bar_t.labels) {
        let y = yr.end - ((v - scale.lo) / (scale.hi - scale.lo) * n as f64).round() as i32;
        bar.draw(&PathElement::new(vec![(bx1, y), (bx1 + px(2.0), y)], BLACK.stroke_width(1)))?;
        bar.draw(&Text::new(l.clone(), (bx1 + px(3.0), y), tick_style.clone()))?;
    }
    let label = format!("{}{}", fig.z_label, bar_t.suffix);
    if !label.trim().is_empty() {
        let style = font(fit(&label, LABEL_PT, h as i32))
            .color(&BLACK)
            .transform(FontTransform::Rotate270)
            .pos(Pos::new(HPos::Center, VPos::Top));
        let x = bx1 + px(3.0) + bar_tick_w + px(3.0);
        bar.draw(&Text::new(label, (x, (yr.start + yr.end) / 2), style))?;
    }
    Ok(())
}

fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    fig: &Figure,
    layout: &Layout,
    entries: &[Entry],
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let (title, rest) = root.split_vertically(layout.title_h);
    let (plot, legend) = rest.split_vertically(layout.plot_h);
    draw_title(&title, &layout.title)?;
    match &fig.kind {
        FigureKind::Xy(series) => draw_xy(&plot, fig, series)?,
        FigureKind::Heatmap(z) => draw_heatmap(&plot, fig, z)?,
    }
    if !layout.legend.is_empty() {
        draw_legend(&legend, entries, &layout.legend)?;
    }
    root.present()?;
    Ok(())
}

/// The figure as an SVG document, sized to print (inches × 96 px).
pub fn svg(fig: &Figure) -> Result<String> {
    register_font();
    let entries = match &fig.kind {
        FigureKind::Xy(series) => entries(series),
        FigureKind::Heatmap(_) => vec![],
    };
    let layout = Layout::new(fig, &entries);
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (layout.w as u32, layout.h() as u32)).into_drawing_area();
        draw(root, fig, &layout, &entries).with_context(|| format!("drawing {}", fig.name))?;
    }
    // The printed size in inches; the viewBox keeps the drawing grid.
    let (w, h) = (layout.w, layout.h());
    let head = format!("<svg width=\"{w}\" height=\"{h}\"");
    anyhow::ensure!(buf.starts_with(&head), "unexpected SVG header from plotters");
    let inches = |v: i32| format!("{:.4}", v as f64 / (96.0 * SUPERSAMPLE));
    Ok(format!("<svg width=\"{}in\" height=\"{}in\"{}", width_in(fig.width), inches(h), &buf[head.len()..]))
}

fn fontdb() -> Arc<svg2pdf::usvg::fontdb::Database> {
    static DB: OnceLock<Arc<svg2pdf::usvg::fontdb::Database>> = OnceLock::new();
    DB.get_or_init(|| {
        let mut db = svg2pdf::usvg::fontdb::Database::new();
        db.load_font_data(dejavu::sans::regular().to_vec());
        db.set_sans_serif_family("DejaVu Sans");
        Arc::new(db)
    })
    .clone()
}

fn tree(svg: &str) -> Result<svg2pdf::usvg::Tree> {
    let opt = svg2pdf::usvg::Options { fontdb: fontdb(), font_family: "DejaVu Sans".into(), ..Default::default() };
    svg2pdf::usvg::Tree::from_str(svg, &opt).context("parsing the figure's SVG")
}

/// A PDF of the SVG `svg`, one page of the printed size, text as the embedded DejaVu Sans subset.
pub fn pdf(svg: &str) -> Result<Vec<u8>> {
    let t = tree(svg)?;
    let bytes = svg2pdf::to_pdf(&t, svg2pdf::ConversionOptions::default(), svg2pdf::PageOptions { dpi: 96.0 })
        .map_err(|e| anyhow::anyhow!("converting to PDF: {e}"))?;
    Ok(canonical_pdf(bytes))
}

/// svg2pdf writes resource dictionaries (`/gs0 7 0 R` ...) in hash-map order; sort each run of such
/// entries, outside streams, so the same figure gives the same bytes. Sorting lines within a run
/// keeps every object's length, so the cross-reference offsets stay right.
fn canonical_pdf(mut bytes: Vec<u8>) -> Vec<u8> {
    fn is_entry(line: &[u8]) -> bool {
        let t = line.trim_ascii_start();
        let mut parts = t.split(|&b| b == b' ');
        let (Some(name), Some(num), Some(generation), Some(r), None) =
            (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return false;
        };
        name.len() > 1
            && name[0] == b'/'
            && name[1..].iter().all(|b| b.is_ascii_alphanumeric())
            && !num.is_empty()
            && num.iter().all(u8::is_ascii_digit)
            && generation == b"0"
            && r == b"R"
            && t.len() < line.len()
    }
    let mut i = 0;
    let mut in_stream = false;
    let mut run: Vec<(usize, usize)> = vec![];
    let flush = |bytes: &mut Vec<u8>, run: &mut Vec<(usize, usize)>| {
        if run.len() > 1 {
            let start = run[0].0;
            let end = run[run.len() - 1].1;
            let mut lines: Vec<Vec<u8>> = run.iter().map(|&(a, b)| bytes[a..b].to_vec()).collect();
            lines.sort();
            let joined: Vec<u8> = lines.join(&b'\n');
            bytes[start..end].copy_from_slice(&joined);
        }
        run.clear();
    };
    while i < bytes.len() {
        let end = bytes[i..].iter().position(|&b| b == b'\n').map_or(bytes.len(), |p| i + p);
        let line = &bytes[i..end];
        if in_stream {
            if line == b"endstream" {
                in_stream = false;
            }
        } else if line == b"stream" {
            flush(&mut bytes, &mut run);
            in_stream = true;
        } else if is_entry(line) {
            run.push((i, end));
        } else {
            flush(&mut bytes, &mut run);
        }
        i = end + 1;
    }
    flush(&mut bytes, &mut run);
    bytes
}

/// A PNG of the SVG `svg` at [`PNG_DPI`].
pub fn png(svg: &str) -> Result<Vec<u8>> {
    let t = tree(svg)?;
    let s = PNG_DPI / 96.0;
    let size = t.size();
    let (w, h) = ((size.width() * s).ceil() as u32, (size.height() * s).ceil() as u32);
    let mut pixmap = resvg::tiny_skia::Pixmap::new(w, h).context("PNG size")?;
    pixmap.fill(resvg::tiny_skia::Color::WHITE);
    resvg::render(&t, resvg::tiny_skia::Transform::from_scale(s, s), &mut pixmap.as_mut());
    pixmap.encode_png().map_err(|e| anyhow::anyhow!("encoding PNG: {e}"))
}

/// Render `fig` to `<dir>/<name>.svg`, `.pdf` and `.png`.
pub fn render(fig: &Figure, dir: &Path) -> Result<()> {
    let doc = svg(fig)?;
    let write = |ext: &str, bytes: &[u8]| {
        let p = dir.join(format!("{}.{ext}", fig.name));
        std::fs::write(&p, bytes).with_context(|| format!("writing {}", p.display()))
    };
    write("svg", doc.as_bytes())?;
    write("pdf", &pdf(&doc)?)?;
    write("png", &png(&doc)?)?;
    Ok(())
}

/// What is wrong with a figure's PDF `pdf` (empty when nothing): not a PDF, not one page, no
/// embedded font, no text drawn (the `Tj`/`TJ` operators of the inflated content streams), or a page
/// width other than `width_in` inches.
pub fn pdf_problems(pdf: &[u8], width_in: f64) -> Vec<String> {
    use std::io::Read;
    let mut out = vec![];
    if !pdf.starts_with(b"%PDF-") {
        return vec!["not a PDF".into()];
    }
    let s = String::from_utf8_lossy(pdf);
    if s.matches("/Type /Page\n").count() + s.matches("/Type /Page\r").count() != 1 {
        out.push("not exactly one page".into());
    }
    if !s.contains("/FontFile2") && !s.contains("/FontFile3") {
        out.push("no embedded font".into());
    }
    let mut text = false;
    let mut rest = pdf;
    while let Some(i) = rest.windows(7).position(|w| w == b"stream\n") {
        let body = &rest[i + 7..];
        let end = body.windows(9).position(|w| w == b"endstream").unwrap_or(body.len());
        let mut inflated = Vec::new();
        if flate2::read::ZlibDecoder::new(&body[..end]).read_to_end(&mut inflated).is_ok()
            && (inflated.windows(3).any(|w| w == b"Tj\n" || w == b" Tj" || w == b"TJ\n" || w == b" TJ"))
        {
            text = true;
        }
        rest = &body[(end + 9).min(body.len())..];
    }
    if !text {
        out.push("no text drawn".into());
    }
    let width = s
        .split("/MediaBox [")
        .nth(1)
        .and_then(|mb| mb.split(']').next())
        .and_then(|mb| mb.split_whitespace().nth(2))
        .and_then(|w| w.parse::<f64>().ok());
    match width {
        Some(w) if (w - width_in * 72.0).abs() < 1.0 => {}
        Some(w) => out.push(format!("page {w} pt wide, expected {} pt", width_in * 72.0)),
        None => out.push("no media box".into()),
    }
    out
}

/// [`lint`] plus what only the drawn files show: the SVG at the printed width and a PDF that
/// passes [`pdf_problems`]. Checked for every study's figures by the workspace tests.
pub fn lint_rendered(fig: &Figure) -> Vec<String> {
    let mut out = lint(fig);
    let doc = match svg(fig) {
        Ok(d) => d,
        Err(e) => return [out, vec![format!("{}: SVG: {e:#}", fig.name)]].concat(),
    };
    let w = width_in(fig.width);
    if !doc.starts_with(&format!("<svg width=\"{w}in\"")) {
        out.push(format!("{}: the SVG is not {w} in wide", fig.name));
    }
    match pdf(&doc) {
        Ok(p) => out.extend(pdf_problems(&p, w).into_iter().map(|m| format!("{}: PDF: {m}", fig.name))),
        Err(e) => out.push(format!("{}: PDF: {e:#}", fig.name)),
    }
    out
}

/// What a reader of the figure would trip over: each problem as a sentence (empty when none).
/// Checked for every study's figures by the workspace tests.
pub fn lint(fig: &Figure) -> Vec<String> {
    let mut out = vec![];
    match &fig.kind {
        FigureKind::Xy(series) => {
            if series.is_empty() {
                out.push(format!("{}: no series", fig.name));
            }
            let slot = slots(series);
            for (i, s) in series.iter().enumerate() {
                if s.x.len() != s.y.len() {
                    out.push(format!("{}: series '{}' has {} x and {} y", fig.name, s.label, s.x.len(), s.y.len()));
                }
                if let Some((lo, hi)) = &s.band
                    && (lo.len() != s.x.len() || hi.len() != s.x.len())
                {
                    out.push(format!("{}: band of '{}' does not match its x", fig.name, s.label));
                }
                let drawable =
                    s.x.iter()
                        .zip(&s.y)
                        .filter(|(x, y)| tf(**x, fig.x_log).is_some() && tf(**y, fig.y_log).is_some())
                        .count();
                if s.label.is_empty() && s.style == Style::Line && s.x.len() == 1 {
                    out.push(format!(
                        "{}: an unlabelled one-point line only stretches the axis (the legend is outside the plot: drop it)",
                        fig.name
                    ));
                }
                if drawable == 0 && !s.x.is_empty() {
                    out.push(format!("{}: series '{}' has no drawable point", fig.name, s.label));
                }
                for j in 0..i {
                    let o = &series[j];
                    let same_look = slot[i] == slot[j] && o.style == s.style;
                    if same_look && !s.label.is_empty() && !o.label.is_empty() && o.label != s.label {
                        out.push(format!(
                            "{}: '{}' and '{}' are drawn alike (same colour, marker and line)",
                            fig.name, o.label, s.label
                        ));
                    }
                }
            }
            if series.iter().filter(|s| !s.label.is_empty()).count() > 14 {
                out.push(format!("{}: more than 14 legend entries", fig.name));
            }
        }
        FigureKind::Heatmap(z) => {
            if z.iter().any(|r| r.len() != z[0].len()) {
                out.push(format!("{}: ragged heat map", fig.name));
            }
        }
    }
    if fig.x_label.trim().is_empty() || fig.y_label.trim().is_empty() {
        out.push(format!("{}: an axis has no label", fig.name));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Series;

    #[test]
    fn heat_maps_of_one_sign_use_the_sequential_scale_darker_away_from_zero() {
        let pos = ColourScale::of(&[vec![0.0, 1.0, 2.0]]);
        let neg = ColourScale::of(&[vec![0.0, -1.0, -2.0]]);
        let both = ColourScale::of(&[vec![-1.0, 2.0]]);
        assert_eq!((pos.lo, pos.hi, pos.diverging), (0.0, 2.0, false));
        assert_eq!((neg.lo, neg.hi, neg.diverging), (-2.0, 0.0, false));
        assert_eq!((both.lo, both.hi, both.diverging), (-2.0, 2.0, true));
        // The same magnitude gets the same colour, white at 0 and darkest at the extreme.
        assert_eq!(neg.color(-2.0), pos.color(2.0));
        assert_eq!(neg.color(0.0), RGBColor(255, 255, 255));
        let lightness = |c: RGBColor| c.0 as u32 + c.1 as u32 + c.2 as u32;
        assert!(lightness(neg.color(-2.0)) < lightness(neg.color(-1.0)));
    }

    fn sample() -> Figure {
        Figure::xy("t", "Title here", "x axis", "y axis")
            .log_y()
            .series(
                Series::line("curve", vec![1.0, 2.0, 3.0], vec![1.0, 10.0, 100.0])
                    .with_band(vec![0.5, 5.0, 50.0], vec![2.0, 20.0, 200.0]),
            )
            .series(Series::markers("pts", vec![1.5, 2.5], vec![3.0, 30.0]))
            .series(Series::dashed("theory", vec![1.0, 3.0], vec![1.0, 100.0]).color(0))
            .series(Series::hline("bound", 50.0, 1.0, 3.0))
    }

    #[test]
    fn log_ticks_are_decades_with_superscripts_and_minor_ticks() {
        let t = Ticks::log(-3.2, 1.1);
        assert_eq!(t.major, vec![-3.0, -2.0, -1.0, 0.0, 1.0]);
        assert_eq!(t.labels, vec!["10⁻³", "10⁻²", "10⁻¹", "10⁰", "10¹"]);
        assert!(t.minor.iter().any(|&v| (v - (-3.0 + 2f64.log10())).abs() < 1e-12));
        assert!(t.minor.iter().all(|&v| (-3.2..=1.1).contains(&v)));
        // Many decades: every other one labelled, the rest minor.
        let t = Ticks::log(-12.0, 3.0);
        assert!(t.major.len() <= 8 && t.labels.iter().all(|l| l.starts_with("10")));
    }

    #[test]
    fn widths_of_powers_of_two_on_a_log_axis_get_one_format() {
        // ntk's widths 64..4096 span 1.8 decades: 10², 10³ and minor ticks, never "63" or "4.0e3".
        let t = Ticks::log(64f64.log10() - 0.07, 4096f64.log10() + 0.07);
        assert_eq!(t.labels, vec!["10²", "10³"]);
        // A narrow log range: mantissa ticks, all in one format.
        let t = Ticks::log(0.2f64.log10(), 0.9f64.log10());
        assert!(t.labels.iter().all(|l| l.starts_with("0.")), "{:?}", t.labels);
        let t = Ticks::log(2e-5f64.log10(), 9e-5f64.log10());
        assert!(t.labels.iter().all(|l| l.contains("×10⁻⁵")), "{:?}", t.labels);
    }

    #[test]
    fn linear_ticks_share_decimals_and_move_large_exponents_to_the_label() {
        let t = Ticks::linear(0.0, 1.0, 5);
        assert_eq!(t.labels, vec!["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"]);
        let t = Ticks::linear(-3.0, 7.0, 5);
        assert_eq!(t.labels, vec!["−2", "0", "2", "4", "6"]);
        let t = Ticks::linear(0.0, 40000.0, 4);
        assert_eq!(t.suffix, " (×10⁴)");
        assert_eq!(t.labels, vec!["0", "1", "2", "3", "4"]);
        let t = Ticks::linear(0.0, 0.003, 3);
        assert_eq!(t.suffix, " (×10⁻³)");
        assert!(t.minor.len() > t.major.len());
    }

    proptest::proptest! {
        #[test]
        fn ticks_lie_in_range_are_distinct_and_share_a_format(lo in -1e6f64..1e6, span in 1e-6f64..1e6, log in proptest::bool::ANY) {
            let (lo, hi) = if log { (lo / 1e5, lo / 1e5 + span.log10().abs() + 1e-3) } else { (lo, lo + span) };
            let t = Ticks::for_axis(lo, hi, log, 5);
            proptest::prop_assert!(t.major.len() >= 2, "{lo} {hi} {t:?}");
            proptest::prop_assert!(t.major.len() <= 12, "{lo} {hi} {t:?}");
            proptest::prop_assert!(t.major.iter().all(|v| *v >= lo - 1e-9 * (1.0 + lo.abs()) && *v <= hi + 1e-9 * (1.0 + hi.abs())));
            let mut l = t.labels.clone();
            l.dedup();
            proptest::prop_assert_eq!(l.len(), t.labels.len(), "duplicate labels {:?}", t.labels);
            // One format: all decades, all mantissa×10ᵏ, or all plain numbers with equal decimals.
            let decimals = |s: &str| s.split('.').nth(1).map_or(0, |d| d.chars().take_while(|c| c.is_ascii_digit()).count());
            let kind = |s: &str| if s.contains('×') { 2 } else if s.starts_with("10") && s.chars().any(|c| SUPERSCRIPT.contains(&c) || c == '⁻') { 1 } else { 0 };
            proptest::prop_assert!(t.labels.iter().all(|s| kind(s) == kind(&t.labels[0])), "{:?}", t.labels);
            if kind(&t.labels[0]) == 0 {
                proptest::prop_assert!(t.labels.iter().all(|s| decimals(s) == decimals(&t.labels[0])), "{:?}", t.labels);
            }
        }
    }

    #[test]
    fn dashes_cover_the_pattern_share_of_the_line() {
        let d = dashes(&[(0.0, 0.0), (100.0, 0.0)], &[4.0, 6.0]);
        let on: i32 = d.iter().map(|s| s[s.len() - 1].0 - s[0].0).sum();
        assert!((38..=42).contains(&on), "{on}");
        assert_eq!(dashes(&[(0.0, 0.0), (10.0, 0.0)], &[]).len(), 1);
    }

    #[test]
    fn slots_skip_explicit_ones_and_references() {
        let s = vec![
            Series::line("a", vec![], vec![]),
            Series::dashed("a theory", vec![], vec![]).color(0),
            Series::hline("bound", 1.0, 0.0, 1.0),
            Series::line("b", vec![], vec![]).color(3),
            Series::line("c", vec![], vec![]),
        ];
        // "a" takes slot 0 although "a theory" names it too: pairing is what `color` is for.
        assert_eq!(slots(&s), vec![Some(0), Some(0), None, Some(3), Some(1)]);
    }

    #[test]
    fn renders_svg_pdf_png_at_print_size_with_text() {
        let dir = tempfile::tempdir().unwrap();
        render(&sample(), dir.path()).unwrap();
        let svg = std::fs::read_to_string(dir.path().join("t.svg")).unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("<text") && svg.contains("Title here") && svg.contains("curve"));
        assert!(svg.contains("10¹") && svg.contains("width=\"3.3in\""), "{}", &svg[..200]);
        let png = std::fs::read(dir.path().join("t.png")).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let w = u32::from_be_bytes(png[16..20].try_into().unwrap());
        assert_eq!(w, (3.3 * PNG_DPI).ceil() as u32);
        let pdf = std::fs::read(dir.path().join("t.pdf")).unwrap();
        check_pdf(&pdf, 3.3);
        let hm = Figure::heatmap("h", "Heat", vec![vec![1.0, -1.0], vec![0.0, 0.5]]).z_label("Γ entry");
        render(&hm, dir.path()).unwrap();
        let svg = std::fs::read_to_string(dir.path().join("h.svg")).unwrap();
        assert!(svg.contains("Γ entry") && svg.contains("−1.0"), "the colour bar is labelled");
        let wide = Figure { width: Width::Double, ..sample() };
        check_pdf(&pdf_of(&wide), 6.9);
        // The check sees a wrong width, and a page without text.
        assert!(pdf_problems(&pdf, 6.9).iter().any(|m| m.contains("wide")));
        let blank = super::pdf("<svg width=\"1in\" height=\"1in\" viewBox=\"0 0 96 96\" xmlns=\"http://www.w3.org/2000/svg\"><rect width=\"10\" height=\"10\"/></svg>").unwrap();
        let p = pdf_problems(&blank, 1.0);
        assert!(p.iter().any(|m| m.contains("no text")) && p.iter().any(|m| m.contains("font")), "{p:?}");
        assert!(lint_rendered(&sample()).is_empty(), "{:?}", lint_rendered(&sample()));
    }

    fn pdf_of(fig: &Figure) -> Vec<u8> {
        pdf(&svg(fig).unwrap()).unwrap()
    }

    fn check_pdf(pdf: &[u8], width_in: f64) {
        let problems = pdf_problems(pdf, width_in);
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn same_figure_same_bytes() {
        let a = svg(&sample()).unwrap();
        assert!(a == svg(&sample()).unwrap(), "SVG differs");
        let p = pdf(&a).unwrap();
        for _ in 0..6 {
            assert!(p == pdf(&a).unwrap(), "PDF differs");
        }
        assert!(png(&a).unwrap() == png(&a).unwrap(), "PNG differs");
    }

    #[test]
    fn lint_flags_look_alike_series_and_undrawable_ones() {
        assert!(lint(&sample()).is_empty(), "{:?}", lint(&sample()));
        let bad = Figure::xy("b", "B", "x", "y")
            .log_y()
            .series(Series::line("a", vec![1.0], vec![1.0]).color(2))
            .series(Series::line("b", vec![1.0], vec![2.0]).color(2))
            .series(Series::line("c", vec![1.0], vec![-1.0]));
        let l = lint(&bad);
        assert!(l.iter().any(|m| m.contains("drawn alike")), "{l:?}");
        assert!(l.iter().any(|m| m.contains("no drawable point")), "{l:?}");
    }
}
