//! What a study returns (tables, figures, claims) and how it becomes a report on disk.
//!
//! A study builds an [`Outcome`]; [`write::write_report`] turns it into
//! `README.md`, `tables/*.{csv,parquet}`, `figures/*.{svg,png}`, `claims.json`, `manifest.json`
//! inside a temporary folder that is renamed into place only when complete.

pub mod baseline;
pub mod html;
pub mod index;
pub mod latex;
pub mod plot;
pub mod seeds;
pub mod spec;
mod train_table;
pub mod write;

use serde::{Deserialize, Serialize};

pub use spec::{ClaimSpec, Gate};

/// JSON has no NaN or infinities: write them as `null` / `"inf"` / `"-inf"` and read them back, so
/// that a claim measured as NaN (a diverged run) still round-trips through `claims.json`.
pub mod json_f64 {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Serialize: NaN as `null`, infinities as `"inf"` / `"-inf"`, other values as numbers.
    pub fn serialize<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
        if x.is_nan() {
            s.serialize_none()
        } else if x.is_infinite() {
            s.serialize_str(if *x > 0.0 { "inf" } else { "-inf" })
        } else {
            s.serialize_f64(*x)
        }
    }

    /// Deserialize: a number, `"inf"`, `"-inf"`, or `null` / a missing value (NaN).
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Num(f64),
            Str(String),
            Null(()),
        }
        Ok(match Option::<Repr>::deserialize(d)? {
            Some(Repr::Num(x)) => x,
            Some(Repr::Str(t)) if t == "inf" => f64::INFINITY,
            Some(Repr::Str(t)) if t == "-inf" => f64::NEG_INFINITY,
            Some(Repr::Str(t)) => return Err(serde::de::Error::custom(format!("not a number: {t}"))),
            Some(Repr::Null(())) | None => f64::NAN,
        })
    }

    /// The same for a `Vec<f64>`: `#[serde(with = "common::report::json_f64::vec")]`.
    pub mod vec {
        use serde::{Deserialize, Deserializer, Serialize, Serializer};

        #[derive(Serialize, Deserialize)]
        struct W(#[serde(with = "super")] f64);

        /// Serialize.
        pub fn serialize<S: Serializer>(v: &[f64], s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(v.iter().map(|x| W(*x)))
        }
        /// Deserialize.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
            Ok(Vec::<W>::deserialize(d)?.into_iter().map(|w| w.0).collect())
        }
    }

    /// The same for a `Vec<Vec<f64>>`: `#[serde(with = "common::report::json_f64::vec2")]`.
    pub mod vec2 {
        use serde::{Deserialize, Deserializer, Serialize, Serializer};

        #[derive(Serialize, Deserialize)]
        struct W(#[serde(with = "super::vec")] Vec<f64>);

        /// Serialize.
        pub fn serialize<S: Serializer>(v: &[Vec<f64>], s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(v.iter().map(|x| W(x.clone())))
        }
        /// Deserialize.
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Vec<f64>>, D::Error> {
            Ok(Vec::<W>::deserialize(d)?.into_iter().map(|w| w.0).collect())
        }
    }
}

/// An `f64` that survives JSON whatever its value (NaN as `null`, infinities as `"inf"`/`"-inf"`):
/// use it in `Results` types where a value may be non-finite (a diverged run, a step cap).
#[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(transparent)]
pub struct F64(#[serde(with = "json_f64")] pub f64);

/// What a claim's measured value is held against.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Expect {
    /// `x <= bound`.
    AtMost {
        /// The upper bound (inclusive).
        #[serde(with = "json_f64")]
        bound: f64,
    },
    /// `x >= bound`.
    AtLeast {
        /// The lower bound (inclusive).
        #[serde(with = "json_f64")]
        bound: f64,
    },
    /// `|x - target| <= tol`.
    Within {
        /// The value expected.
        #[serde(with = "json_f64")]
        target: f64,
        /// The absolute tolerance.
        #[serde(with = "json_f64")]
        tol: f64,
    },
    /// `lo <= x <= hi`.
    Between {
        /// The lower end (inclusive).
        #[serde(with = "json_f64")]
        lo: f64,
        /// The upper end (inclusive).
        #[serde(with = "json_f64")]
        hi: f64,
    },
}

impl Expect {
    /// Whether `x` meets the expectation; a non-finite `x` never does.
    pub fn holds(&self, x: f64) -> bool {
        if !x.is_finite() {
            return false;
        }
        match *self {
            Expect::AtMost { bound } => x <= bound,
            Expect::AtLeast { bound } => x >= bound,
            Expect::Within { target, tol } => (x - target).abs() <= tol,
            Expect::Between { lo, hi } => lo <= x && x <= hi,
        }
    }
    /// Short text for tables: `<= b`, `>= b`, `t ± tol` or `in [lo, hi]`.
    pub fn describe(&self) -> String {
        match *self {
            Expect::AtMost { bound } => format!("<= {}", fmt_num(bound)),
            Expect::AtLeast { bound } => format!(">= {}", fmt_num(bound)),
            Expect::Within { target, tol } => format!("{} ± {}", fmt_num(target), fmt_num(tol)),
            Expect::Between { lo, hi } => format!("in [{}, {}]", fmt_num(lo), fmt_num(hi)),
        }
    }
}

/// Seconds for people: `0.012 s`, `4.2 s`, `42 s`, `12 min`, `3.2 h`.
pub fn fmt_secs(t: f64) -> String {
    if t < 0.1 {
        format!("{t:.3} s")
    } else if t < 10.0 {
        format!("{t:.1} s")
    } else if t < 120.0 {
        format!("{t:.0} s")
    } else if t < 7200.0 {
        format!("{:.0} min", t / 60.0)
    } else {
        format!("{:.1} h", t / 3600.0)
    }
}

/// Compact human formatting of a number for tables and READMEs.
pub fn fmt_num(x: f64) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if x == x.trunc() && x.abs() < 1e9 {
        return format!("{}", x as i64);
    }
    let a = x.abs();
    if !(1e-3..1e5).contains(&a) {
        format!("{x:.3e}")
    } else {
        let s = format!("{x:.4}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    }
}

/// Numbers of a list for a claim's detail: `0.1, 0.25, 3`.
pub fn fmt_list(v: &[f64]) -> String {
    v.iter().map(|x| fmt_num(*x)).collect::<Vec<_>>().join(", ")
}

/// The unit of truth: one statement of the paper, a measured number and the expectation it must
/// meet. Only gated claims decide the exit code; an ungated one is reported with its reason.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Claim {
    /// Short id, unique in the study (`H1`, `C2-asymptote`).
    pub id: String,
    /// The paper's statement, in words.
    pub statement: String,
    /// Where in the paper (e.g. "Thm 1", "Fig. 3", "Sec. 4.2").
    pub source: String,
    /// The measured value (NaN when it could not be measured, e.g. a diverged run).
    #[serde(with = "json_f64")]
    pub measured: f64,
    /// What `measured` is held against.
    pub expected: Expect,
    /// Whether the claim decides the exit code.
    pub gated: bool,
    /// Whether `measured` meets `expected`.
    pub passed: bool,
    /// Why the claim is not gated (required when `gated` is false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Supporting numbers (per-seed values, the fit, ...), free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Regression tolerance: CI fails when `measured` moves further than this from the committed
    /// baseline, relative to max(|baseline|, the size of the expectation: its bound or band width).
    pub drift_tol: f64,
    /// Which aggregate over seeds decides the claim in a report of several seeds (`--seeds`);
    /// absent from `claims.json` when it is the default, passing at every seed.
    #[serde(default, skip_serializing_if = "SeedGate::is_every")]
    pub over_seeds: SeedGate,
}

/// Which aggregate over seeds decides a claim in a report of several seeds (`report::seeds`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "rule")]
pub enum SeedGate {
    /// The claim passes at every seed (the default: a per-seed claim stays a per-seed claim).
    #[default]
    Every,
    /// The mean over the seeds meets the expectation (a claim about an average, where single
    /// seeds are noisy by design; every value must be finite).
    Mean,
    /// The median over the seeds meets the expectation (robust to one outlying seed).
    Median,
    /// At least this share of the seeds pass (in (0, 1]; 1 is `Every`).
    Share {
        /// The least share of passing seeds.
        #[serde(with = "json_f64")]
        at_least: f64,
    },
}

impl SeedGate {
    /// Whether this is the default, [`SeedGate::Every`].
    pub fn is_every(&self) -> bool {
        matches!(self, SeedGate::Every)
    }
    /// In words, for a claim's detail: `gated on every seed`, `gated on the mean over seeds`, ...
    pub fn describe(&self) -> String {
        match *self {
            SeedGate::Every => "gated on every seed".into(),
            SeedGate::Mean => "gated on the mean over seeds".into(),
            SeedGate::Median => "gated on the median over seeds".into(),
            SeedGate::Share { at_least } => format!("gated on a pass share of at least {}", fmt_num(at_least)),
        }
    }
}

impl Claim {
    /// `pass`, `FAIL`, `pass (not gated)` or `fail (not gated)`.
    pub fn verdict(&self) -> &'static str {
        match (self.gated, self.passed) {
            (true, true) => "pass",
            (true, false) => "FAIL",
            (false, true) => "pass (not gated)",
            (false, false) => "fail (not gated)",
        }
    }
}

/// A column of a result table.
#[derive(Clone, Debug, PartialEq)]
pub enum Column {
    /// Floating-point values.
    F64(Vec<f64>),
    /// Integers.
    I64(Vec<i64>),
    /// Text.
    Str(Vec<String>),
}

impl Column {
    /// Number of rows.
    pub fn len(&self) -> usize {
        match self {
            Column::F64(v) => v.len(),
            Column::I64(v) => v.len(),
            Column::Str(v) => v.len(),
        }
    }
    /// Whether the column has no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Row `i` as display text (floats through [`fmt_num`]).
    pub fn cell(&self, i: usize) -> String {
        match self {
            Column::F64(v) => fmt_num(v[i]),
            Column::I64(v) => v[i].to_string(),
            Column::Str(v) => v[i].clone(),
        }
    }
}

/// A named result table (becomes `tables/<name>.csv`, `.parquet` and a Markdown table).
#[derive(Clone, Debug, Default)]
pub struct Table {
    /// File name stem (`tables/<name>.csv`).
    pub name: String,
    /// Caption shown above the table in the README.
    pub caption: String,
    /// Named columns, in order; all of the same length.
    pub columns: Vec<(String, Column)>,
}

impl Table {
    /// An empty table.
    pub fn new(name: &str, caption: &str) -> Self {
        Table { name: name.into(), caption: caption.into(), columns: vec![] }
    }
    /// Append a float column.
    pub fn f64(mut self, name: &str, v: Vec<f64>) -> Self {
        self.columns.push((name.into(), Column::F64(v)));
        self
    }
    /// Append an integer column.
    pub fn i64(mut self, name: &str, v: Vec<i64>) -> Self {
        self.columns.push((name.into(), Column::I64(v)));
        self
    }
    /// Append an integer column from `usize` values (cast to `i64`).
    pub fn usize(self, name: &str, v: Vec<usize>) -> Self {
        self.i64(name, v.into_iter().map(|x| x as i64).collect())
    }
    /// Append a text column.
    pub fn str(mut self, name: &str, v: Vec<String>) -> Self {
        self.columns.push((name.into(), Column::Str(v)));
        self
    }
    /// A table from rows of any `Serialize` struct: one column per field, in field order. Numbers
    /// become an `f64` column when any row holds a float (or null, read as NaN), else an integer
    /// column; strings and booleans a text column; lists and nested values their JSON text.
    /// Panics on rows that are not structs or maps (a programming error, not an input).
    pub fn from_rows<R: Serialize>(name: &str, caption: &str, rows: &[R]) -> Self {
        let rows: Vec<serde_json::Map<String, serde_json::Value>> = rows
            .iter()
            .map(|r| match serde_json::to_value(r) {
                Ok(serde_json::Value::Object(m)) => m,
                other => panic!("Table::from_rows({name}): a row must serialize to a map, got {other:?}"),
            })
            .collect();
        let mut t = Table::new(name, caption);
        let Some(first) = rows.first() else { return t };
        for key in first.keys() {
            let vals: Vec<&serde_json::Value> =
                rows.iter().map(|r| r.get(key).unwrap_or(&serde_json::Value::Null)).collect();
            use serde_json::Value as V;
            let all_num = vals.iter().all(|v| matches!(v, V::Number(_) | V::Null));
            let any_float = vals.iter().any(|v| matches!(v, V::Null) || v.as_number().is_some_and(|n| n.is_f64()));
            let col = if all_num && any_float {
                Column::F64(vals.iter().map(|v| v.as_f64().unwrap_or(f64::NAN)).collect())
            } else if all_num {
                Column::I64(vals.iter().map(|v| v.as_i64().unwrap_or(i64::MAX)).collect())
            } else {
                Column::Str(
                    vals.iter()
                        .map(|v| match v {
                            V::String(s) => s.clone(),
                            other => other.to_string(),
                        })
                        .collect(),
                )
            };
            t.columns.push((key.clone(), col));
        }
        t
    }
    /// Keep only the named columns, in that order (panics on an unknown name).
    pub fn select(mut self, names: &[&str]) -> Self {
        let mut cols = vec![];
        for n in names {
            let i = self
                .columns
                .iter()
                .position(|(c, _)| c == n)
                .unwrap_or_else(|| panic!("table {}: no column {n}", self.name));
            cols.push(self.columns.swap_remove(i));
        }
        self.columns = cols;
        self
    }
    /// Number of rows.
    pub fn nrows(&self) -> usize {
        self.columns.first().map_or(0, |c| c.1.len())
    }
    /// Checks that every column has the same length and names are unique.
    pub fn validate(&self) -> anyhow::Result<()> {
        let n = self.nrows();
        for (i, (name, c)) in self.columns.iter().enumerate() {
            anyhow::ensure!(c.len() == n, "table {}: column {name} has {} rows, expected {n}", self.name, c.len());
            anyhow::ensure!(
                !self.columns[..i].iter().any(|(o, _)| o == name),
                "table {}: duplicate column {name}",
                self.name
            );
        }
        Ok(())
    }
}

/// How a series is drawn. Measured data are solid lines and/or markers, one marker shape per series
/// (so curves stay apart in grayscale); a theory curve that belongs to a measured series is
/// [`Style::Dashed`] in that series' colour ([`Series::color`]); a reference value of the paper
/// (a bound, a threshold) is [`Style::Reference`]: dark grey, dash-dotted, never a data colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    /// A solid line (with sparse markers of the series' shape when there are several series).
    Line,
    /// A dashed line: a theory curve.
    Dashed,
    /// Markers only.
    Markers,
    /// A solid line with a marker at each point.
    LineMarkers,
    /// A reference line or curve of the paper (dark grey, dash-dotted).
    Reference,
}

/// One curve of a figure, optionally with an error band (lo, hi).
#[derive(Clone, Debug)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// Abscissae.
    pub x: Vec<f64>,
    /// Ordinates, one per `x`.
    pub y: Vec<f64>,
    /// How the curve is drawn.
    pub style: Style,
    /// Lower and upper edges of a shaded band, one per `x`.
    pub band: Option<(Vec<f64>, Vec<f64>)>,
    /// Palette slot (colour and marker shape); `None` takes the next free slot in figure order.
    pub color: Option<usize>,
}

impl Series {
    fn new(label: &str, x: Vec<f64>, y: Vec<f64>, style: Style) -> Self {
        Series { label: label.into(), x, y, style, band: None, color: None }
    }
    /// A solid line.
    pub fn line(label: &str, x: Vec<f64>, y: Vec<f64>) -> Self {
        Series::new(label, x, y, Style::Line)
    }
    /// A dashed line (a theory curve; pair it with its data series through [`Series::color`]).
    pub fn dashed(label: &str, x: Vec<f64>, y: Vec<f64>) -> Self {
        Series::new(label, x, y, Style::Dashed)
    }
    /// Markers only.
    pub fn markers(label: &str, x: Vec<f64>, y: Vec<f64>) -> Self {
        Series::new(label, x, y, Style::Markers)
    }
    /// A line with markers.
    pub fn line_markers(label: &str, x: Vec<f64>, y: Vec<f64>) -> Self {
        Series::new(label, x, y, Style::LineMarkers)
    }
    /// A reference curve of the paper (a bound or a prediction not tied to one data series).
    pub fn reference(label: &str, x: Vec<f64>, y: Vec<f64>) -> Self {
        Series::new(label, x, y, Style::Reference)
    }
    /// A horizontal reference line at `y` over [x0, x1].
    pub fn hline(label: &str, y: f64, x0: f64, x1: f64) -> Self {
        Series::reference(label, vec![x0, x1], vec![y, y])
    }
    /// Add a shaded band from `lo` to `hi` (one value each per `x`).
    pub fn with_band(mut self, lo: Vec<f64>, hi: Vec<f64>) -> Self {
        self.band = Some((lo, hi));
        self
    }
    /// Use palette slot `slot` (its colour and marker): give a theory curve the slot of the data
    /// series it predicts.
    pub fn color(mut self, slot: usize) -> Self {
        self.color = Some(slot);
        self
    }
}

/// Printed width of a figure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Width {
    /// One column of a two-column paper (3.3 in).
    #[default]
    Single,
    /// The full text width (6.9 in).
    Double,
}

/// What a figure shows: curves on x/y axes, or a heat map of a matrix.
#[derive(Clone, Debug)]
pub enum FigureKind {
    /// Curves on x/y axes.
    Xy(Vec<Series>),
    /// Row-major values; row 0 at the top.
    Heatmap(Vec<Vec<f64>>),
}

/// A named figure (becomes `figures/<name>.svg` and `.png`).
#[derive(Clone, Debug)]
pub struct Figure {
    /// File name stem (`figures/<name>.svg`).
    pub name: String,
    /// Title drawn above the plot.
    pub title: String,
    /// Label of the x axis.
    pub x_label: String,
    /// Label of the y axis.
    pub y_label: String,
    /// Logarithmic x axis.
    pub x_log: bool,
    /// Logarithmic y axis.
    pub y_log: bool,
    /// What is drawn.
    pub kind: FigureKind,
    /// Printed width.
    pub width: Width,
    /// What the colour of a heat map means (the colour bar's label).
    pub z_label: String,
}

impl Figure {
    /// An x/y figure with no series yet, linear axes.
    pub fn xy(name: &str, title: &str, x_label: &str, y_label: &str) -> Self {
        Figure {
            name: name.into(),
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            x_log: false,
            y_log: false,
            kind: FigureKind::Xy(vec![]),
            width: Width::Single,
            z_label: String::new(),
        }
    }
    /// A heat map of `values` (rows of a matrix, row 0 at the top), axes labelled column and row.
    pub fn heatmap(name: &str, title: &str, values: Vec<Vec<f64>>) -> Self {
        Figure {
            name: name.into(),
            title: title.into(),
            x_label: "column".into(),
            y_label: "row".into(),
            x_log: false,
            y_log: false,
            kind: FigureKind::Heatmap(values),
            width: Width::Single,
            z_label: String::new(),
        }
    }
    /// Use a logarithmic x axis.
    pub fn log_x(mut self) -> Self {
        self.x_log = true;
        self
    }
    /// Use a logarithmic y axis.
    pub fn log_y(mut self) -> Self {
        self.y_log = true;
        self
    }
    /// Print across the full text width (6.9 in) rather than one column (3.3 in).
    pub fn wide(mut self) -> Self {
        self.width = Width::Double;
        self
    }
    /// Label the colour bar of a heat map.
    pub fn z_label(mut self, label: &str) -> Self {
        self.z_label = label.into();
        self
    }
    /// Add a curve (ignored for a heat map).
    pub fn series(mut self, s: Series) -> Self {
        if let FigureKind::Xy(v) = &mut self.kind {
            v.push(s);
        }
        self
    }
}

/// Everything a study run produces.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Result tables, in report order.
    pub tables: Vec<Table>,
    /// Figures, in report order.
    pub figures: Vec<Figure>,
    /// Claims, in the declared order.
    pub claims: Vec<Claim>,
    /// Markdown paragraphs for the report's README (setup notes, deviations from the paper).
    pub notes: Vec<String>,
}

impl Outcome {
    /// Append a table.
    pub fn table(&mut self, t: Table) -> &mut Self {
        self.tables.push(t);
        self
    }
    /// Append a figure.
    pub fn figure(&mut self, f: Figure) -> &mut Self {
        self.figures.push(f);
        self
    }
    /// Append a claim.
    pub fn claim(&mut self, c: Claim) -> &mut Self {
        self.claims.push(c);
        self
    }
    /// Append a Markdown note.
    pub fn note(&mut self, n: impl Into<String>) -> &mut Self {
        self.notes.push(n.into());
        self
    }
    /// True when every gated claim passed.
    pub fn all_gated_passed(&self) -> bool {
        self.claims.iter().filter(|c| c.gated).all(|c| c.passed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expectations() {
        assert!(Expect::AtMost { bound: 1.0 }.holds(1.0));
        assert!(!Expect::AtMost { bound: 1.0 }.holds(f64::NAN));
        assert!(Expect::Within { target: 2.0, tol: 0.1 }.holds(2.05));
        assert!(!Expect::Between { lo: 0.8, hi: 1.2 }.holds(1.3));
        let c = ClaimSpec::new("C1", "s", "Thm 1", Expect::at_least(0.6)).measured(0.5);
        assert!(!c.passed && c.gated);
        let c = ClaimSpec::new("C1", "s", "Thm 1", Expect::at_least(0.6)).not_gated("too small").measured(0.5);
        assert_eq!(c.verdict(), "fail (not gated)");
    }

    #[test]
    fn non_finite_values_roundtrip_through_json() {
        for x in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1.5, -0.0] {
            let c = ClaimSpec::new("C", "s", "p", Expect::between(f64::NEG_INFINITY, 2.0)).measured(x);
            let back: Claim = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
            assert!(back.measured == x || (x.is_nan() && back.measured.is_nan()));
            assert_eq!(back.expected, c.expected);
        }
    }

    #[test]
    fn tables_from_rows() {
        #[derive(Serialize)]
        struct Row {
            k: usize,
            loss: f64,
            name: &'static str,
            ok: bool,
            v: Vec<u8>,
        }
        let rows = [
            Row { k: 1, loss: 1.0, name: "a", ok: true, v: vec![1] },
            Row { k: 2, loss: f64::NAN, name: "b", ok: false, v: vec![] },
        ];
        let t = Table::from_rows("t", "c", &rows);
        assert_eq!(t.columns.iter().map(|c| c.0.as_str()).collect::<Vec<_>>(), ["k", "loss", "name", "ok", "v"]);
        assert_eq!(t.columns[0].1, Column::I64(vec![1, 2]));
        assert!(matches!(&t.columns[1].1, Column::F64(v) if v[0] == 1.0 && v[1].is_nan()));
        assert_eq!(t.columns[3].1, Column::Str(vec!["true".into(), "false".into()]));
        assert_eq!(t.columns[4].1, Column::Str(vec!["[1]".into(), "[]".into()]));
        t.validate().unwrap();
        let t = t.select(&["name", "k"]);
        assert_eq!(t.columns.iter().map(|c| c.0.as_str()).collect::<Vec<_>>(), ["name", "k"]);
        assert_eq!(Table::from_rows::<Row>("e", "c", &[]).nrows(), 0);
    }

    #[test]
    fn json_f64_adapters_roundtrip_every_value() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct R {
            #[serde(with = "json_f64::vec")]
            v: Vec<f64>,
            #[serde(with = "json_f64::vec2")]
            m: Vec<Vec<f64>>,
            w: Vec<F64>,
        }
        let r = R {
            v: vec![f64::INFINITY, -1.5, f64::NEG_INFINITY],
            m: vec![vec![], vec![f64::INFINITY, 2.0]],
            w: vec![F64(f64::NEG_INFINITY), F64(0.1)],
        };
        let s = serde_json::to_string(&r).unwrap();
        assert_eq!(s, r#"{"v":["inf",-1.5,"-inf"],"m":[[],["inf",2.0]],"w":["-inf",0.1]}"#);
        assert_eq!(serde_json::from_str::<R>(&s).unwrap(), r);
        let n: Vec<F64> = serde_json::from_str("[null]").unwrap();
        assert!(n[0].0.is_nan());
    }

    #[test]
    fn number_format() {
        assert_eq!(fmt_num(3.0), "3");
        assert_eq!(fmt_num(0.25), "0.25");
        assert_eq!(fmt_num(1.5e-7), "1.500e-7");
        assert_eq!(fmt_list(&[0.5, 3.0]), "0.5, 3");
    }
}
