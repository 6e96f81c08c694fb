//! Figures with plotters: SVG and PNG, text rendered with the embedded DejaVu Sans font (no system
//! fonts or fontconfig). Log axes are drawn by plotting log10 of the data with 10^k tick labels.
use super::{Figure, FigureKind, Series, Style};
use anyhow::{Context, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

const W: u32 = 900;
const H: u32 = 600;
const FONT: &str = "sans-serif";

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for style in [FontStyle::Normal, FontStyle::Bold, FontStyle::Italic, FontStyle::Oblique] {
            plotters::style::register_font(FONT, style, dejavu::sans::regular())
                .unwrap_or_else(|_| panic!("embedded DejaVu font failed to load"));
        }
    });
}

/// A colour-blind-friendly palette (Okabe-Ito, then Tol).
const PALETTE: [RGBColor; 10] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
    RGBColor(136, 34, 85),
    RGBColor(68, 170, 153),
    RGBColor(153, 153, 51),
];

fn tf(v: f64, log: bool) -> Option<f64> {
    if !v.is_finite() {
        return None;
    }
    if log { if v > 0.0 { Some(v.log10()) } else { None } } else { Some(v) }
}

fn range(vals: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in vals {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    if hi - lo < 1e-12 * (1.0 + lo.abs()) {
        return (lo - 0.5 - 0.05 * lo.abs(), hi + 0.5 + 0.05 * hi.abs());
    }
    let pad = 0.04 * (hi - lo);
    (lo - pad, hi + pad)
}

fn tick_label(v: f64, log: bool) -> String {
    if log {
        let r = v.round();
        if (v - r).abs() < 1e-6 { format!("1e{}", r as i64) } else { sig2(10f64.powf(v)) }
    } else {
        super::fmt_num((v * 1e6).round() / 1e6)
    }
}

/// Two significant digits, e.g. 316.23 -> "320", 3162.3 -> "3.2e3", 0.0316 -> "0.032".
fn sig2(x: f64) -> String {
    let a = x.abs();
    if a == 0.0 || !a.is_finite() {
        return super::fmt_num(x);
    }
    let e = a.log10().floor() as i32;
    if !(-2..3).contains(&e) {
        return format!("{:.1}e{e}", x / 10f64.powi(e));
    }
    let decimals = (1 - e).max(0) as usize;
    let q = 10f64.powi(e - 1);
    format!("{:.*}", decimals, (x / q).round() * q)
}

fn draw_xy<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, fig: &Figure, series: &[Series]) -> Result<()>
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
    let (x0, x1) = range(pts.iter().flatten().map(|p| p.0));
    let (y0, y1) =
        range(pts.iter().flatten().map(|p| p.1).chain(bands.iter().flatten().flatten().flat_map(|b| [b.1, b.2])));
    let mut chart = ChartBuilder::on(root)
        .caption(&fig.title, (FONT, 24))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(80)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    let (xl, yl) = (fig.x_log, fig.y_log);
    chart
        .configure_mesh()
        .x_desc(&fig.x_label)
        .y_desc(&fig.y_label)
        .axis_desc_style((FONT, 18))
        .label_style((FONT, 14))
        .x_label_formatter(&|v| tick_label(*v, xl))
        .y_label_formatter(&|v| tick_label(*v, yl))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()?;
    for (i, s) in series.iter().enumerate() {
        let c = PALETTE[i % PALETTE.len()];
        if let Some(b) = &bands[i] {
            let mut poly: Vec<(f64, f64)> = b.iter().map(|p| (p.0, p.2)).collect();
            poly.extend(b.iter().rev().map(|p| (p.0, p.1)));
            if poly.len() >= 3 {
                chart.draw_series(std::iter::once(Polygon::new(poly, c.mix(0.2).filled())))?;
            }
        }
        let p = pts[i].clone();
        let anno = match s.style {
            Style::Line => chart.draw_series(LineSeries::new(p.clone(), c.stroke_width(2)))?,
            Style::LineMarkers => chart.draw_series(LineSeries::new(p.clone(), c.stroke_width(2)).point_size(3))?,
            Style::Dashed => chart.draw_series(DashedLineSeries::new(p.clone(), 8, 5, c.stroke_width(2)))?,
            Style::Markers => chart.draw_series(p.iter().map(|&q| Circle::new(q, 4, c.filled())))?,
        };
        if !s.label.is_empty() {
            anno.label(s.label.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(3)));
        }
    }
    if series.iter().any(|s| !s.label.is_empty()) {
        chart
            .configure_series_labels()
            .label_font((FONT, 14))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::UpperRight)
            .draw()?;
    }
    Ok(())
}

fn heat_color(t: f64) -> RGBColor {
    // Diverging blue-white-red for t in [-1, 1].
    let t = t.clamp(-1.0, 1.0);
    let (r, g, b) = if t < 0.0 {
        let u = -t;
        (1.0 - u, 1.0 - 0.6 * u, 1.0)
    } else {
        (1.0, 1.0 - 0.8 * t, 1.0 - t)
    };
    RGBColor((r * 255.0) as u8, (g * 255.0) as u8, (b * 255.0) as u8)
}

fn draw_heatmap<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, fig: &Figure, z: &[Vec<f64>]) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let rows = z.len().max(1);
    let cols = z.iter().map(|r| r.len()).max().unwrap_or(1).max(1);
    let amax = z.iter().flatten().fold(0.0f64, |m, v| if v.is_finite() { m.max(v.abs()) } else { m });
    let scale = if amax > 0.0 { amax } else { 1.0 };
    let title = format!("{} (colour: ±{})", fig.title, super::fmt_num(scale));
    let mut chart = ChartBuilder::on(root)
        .caption(&title, (FONT, 22))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(50)
        // Cells are centred on integer coordinates, so integer ticks name rows and columns.
        .build_cartesian_2d(-0.5f64..cols as f64 - 0.5, -0.5f64..rows as f64 - 0.5)?;
    let on_cell = |v: f64, n: usize| {
        let r = v.round();
        ((v - r).abs() < 1e-6 && r >= 0.0 && (r as usize) < n).then_some(r as usize)
    };
    chart
        .configure_mesh()
        .disable_mesh()
        .x_desc(&fig.x_label)
        .y_desc(&fig.y_label)
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .x_labels(cols.min(12) + 1)
        .y_labels(rows.min(12) + 1)
        // Row 0 is drawn at the top.
        .y_label_formatter(&|v| on_cell(*v, rows).map(|r| (rows - 1 - r).to_string()).unwrap_or_default())
        .x_label_formatter(&|v| on_cell(*v, cols).map(|c| c.to_string()).unwrap_or_default())
        .draw()?;
    chart.draw_series(z.iter().enumerate().flat_map(|(i, row)| {
        row.iter().enumerate().map(move |(j, &v)| {
            let (x, y) = (j as f64, (rows - 1 - i) as f64);
            Rectangle::new([(x - 0.5, y - 0.5), (x + 0.5, y + 0.5)], heat_color(v / scale).filled())
        })
    }))?;
    Ok(())
}

fn draw<DB: DrawingBackend>(root: DrawingArea<DB, Shift>, fig: &Figure) -> Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    match &fig.kind {
        FigureKind::Xy(series) => draw_xy(&root, fig, series)?,
        FigureKind::Heatmap(z) => draw_heatmap(&root, fig, z)?,
    }
    root.present()?;
    Ok(())
}

/// Render `fig` to `<dir>/<name>.svg` and `<dir>/<name>.png`.
pub fn render(fig: &Figure, dir: &Path) -> Result<()> {
    register_font();
    let svg = dir.join(format!("{}.svg", fig.name));
    let png = dir.join(format!("{}.png", fig.name));
    draw(SVGBackend::new(&svg, (W, H)).into_drawing_area(), fig)
        .with_context(|| format!("drawing {}", svg.display()))?;
    draw(BitMapBackend::new(&png, (W, H)).into_drawing_area(), fig)
        .with_context(|| format!("drawing {}", png.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_significant_digits() {
        assert_eq!(sig2(316.2278), "320");
        assert_eq!(sig2(3162.2777), "3.2e3");
        assert_eq!(sig2(0.031623), "0.032");
        assert_eq!(sig2(3.1623), "3.2");
    }

    #[test]
    fn renders_valid_svg_and_png_with_text() {
        let dir = tempfile::tempdir().unwrap();
        let fig = Figure::xy("t", "Title here", "x axis", "y axis")
            .log_y()
            .series(
                Series::line("curve", vec![1.0, 2.0, 3.0], vec![1.0, 10.0, 100.0])
                    .with_band(vec![0.5, 5.0, 50.0], vec![2.0, 20.0, 200.0]),
            )
            .series(Series::markers("pts", vec![1.5, 2.5], vec![3.0, 30.0]))
            .series(Series::hline("bound", 50.0, 1.0, 3.0));
        render(&fig, dir.path()).unwrap();
        let svg = std::fs::read_to_string(dir.path().join("t.svg")).unwrap();
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
        assert!(svg.contains("<text") && svg.contains("Title here") && svg.contains("curve"));
        let png = std::fs::read(dir.path().join("t.png")).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let hm = Figure::heatmap("h", "Heat", vec![vec![1.0, -1.0], vec![0.0, 0.5]]);
        render(&hm, dir.path()).unwrap();
        assert!(dir.path().join("h.png").exists());
    }
}
