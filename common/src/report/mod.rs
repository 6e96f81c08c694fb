//! What a study returns (tables, figures, claims) and how it becomes a report on disk.
//!
//! A study builds an [`Outcome`]; [`write::write_report`] turns it into
//! `README.md`, `tables/*.{csv,parquet}`, `figures/*.{svg,png}`, `claims.json`, `manifest.json`
//! inside a temporary folder that is renamed into place only when complete.

pub mod baseline;
pub mod index;
pub mod plot;
mod train_table;
pub mod write;

use serde::{Deserialize, Serialize};

/// JSON has no NaN or infinities: write them as `null` / `"inf"` / `"-inf"` and read them back, so
/// that a claim measured as NaN (a diverged run) still round-trips through `claims.json`.
pub mod json_f64 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
        if x.is_nan() {
            s.serialize_none()
        } else if x.is_infinite() {
            s.serialize_str(if *x > 0.0 { "inf" } else { "-inf" })
        } else {
            s.serialize_f64(*x)
        }
    }

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
}

/// What a claim's measured value is held against.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Expect {
    AtMost {
        #[serde(with = "json_f64")]
        bound: f64,
    },
    AtLeast {
        #[serde(with = "json_f64")]
        bound: f64,
    },
    Within {
        #[serde(with = "json_f64")]
        target: f64,
        #[serde(with = "json_f64")]
        tol: f64,
    },
    Between {
        #[serde(with = "json_f64")]
        lo: f64,
        #[serde(with = "json_f64")]
        hi: f64,
    },
}

impl Expect {
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
    pub fn describe(&self) -> String {
        match *self {
            Expect::AtMost { bound } => format!("<= {}", fmt_num(bound)),
            Expect::AtLeast { bound } => format!(">= {}", fmt_num(bound)),
            Expect::Within { target, tol } => format!("{} ± {}", fmt_num(target), fmt_num(tol)),
            Expect::Between { lo, hi } => format!("in [{}, {}]", fmt_num(lo), fmt_num(hi)),
        }
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

/// The unit of truth: one statement of the paper, a measured number and the expectation it must
/// meet. Only gated claims decide the exit code; an ungated one is reported with its reason.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Claim {
    pub id: String,
    pub statement: String,
    /// Where in the paper (e.g. "Thm 1", "Fig. 3", "Sec. 4.2").
    pub source: String,
    #[serde(with = "json_f64")]
    pub measured: f64,
    pub expected: Expect,
    pub gated: bool,
    pub passed: bool,
    /// Why the claim is not gated (required when `gated` is false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Supporting numbers (per-seed values, the fit, ...), free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Regression tolerance: CI fails when `measured` moves further than this from the committed
    /// baseline, relative to max(|baseline|, `drift_abs`).
    pub drift_tol: f64,
}

impl Claim {
    // Returns a builder on purpose: a claim is only complete with its expectation.
    #[allow(clippy::new_ret_no_self)]
    /// Start a claim; finish it with one expectation (`at_most`, `at_least`, `within`, `between`).
    pub fn new(id: &str, statement: &str, source: &str) -> ClaimBuilder {
        ClaimBuilder {
            id: id.into(),
            statement: statement.into(),
            source: source.into(),
            measured: f64::NAN,
            detail: None,
            drift_tol: 0.05,
        }
    }
    /// Mark as reported-not-gated, with the reason kept in the report.
    pub fn not_gated(mut self, reason: &str) -> Self {
        self.gated = false;
        self.reason = Some(reason.into());
        self
    }
    pub fn verdict(&self) -> &'static str {
        match (self.gated, self.passed) {
            (true, true) => "pass",
            (true, false) => "FAIL",
            (false, true) => "pass (not gated)",
            (false, false) => "fail (not gated)",
        }
    }
}

#[derive(Clone, Debug)]
pub struct ClaimBuilder {
    id: String,
    statement: String,
    source: String,
    measured: f64,
    detail: Option<String>,
    drift_tol: f64,
}

impl ClaimBuilder {
    pub fn measured(mut self, x: f64) -> Self {
        self.measured = x;
        self
    }
    pub fn detail(mut self, d: impl Into<String>) -> Self {
        self.detail = Some(d.into());
        self
    }
    /// Relative regression tolerance against the committed baseline (default 5%).
    pub fn drift(mut self, tol: f64) -> Self {
        self.drift_tol = tol;
        self
    }
    pub fn expect(self, expected: Expect) -> Claim {
        let passed = expected.holds(self.measured);
        Claim {
            id: self.id,
            statement: self.statement,
            source: self.source,
            measured: self.measured,
            expected,
            gated: true,
            passed,
            reason: None,
            detail: self.detail,
            drift_tol: self.drift_tol,
        }
    }
    pub fn at_most(self, bound: f64) -> Claim {
        self.expect(Expect::AtMost { bound })
    }
    pub fn at_least(self, bound: f64) -> Claim {
        self.expect(Expect::AtLeast { bound })
    }
    pub fn within(self, target: f64, tol: f64) -> Claim {
        self.expect(Expect::Within { target, tol })
    }
    pub fn between(self, lo: f64, hi: f64) -> Claim {
        self.expect(Expect::Between { lo, hi })
    }
}

/// A column of a result table.
#[derive(Clone, Debug, PartialEq)]
pub enum Column {
    F64(Vec<f64>),
    I64(Vec<i64>),
    Str(Vec<String>),
}

impl Column {
    pub fn len(&self) -> usize {
        match self {
            Column::F64(v) => v.len(),
            Column::I64(v) => v.len(),
            Column::Str(v) => v.len(),
        }
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
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
    pub name: String,
    pub caption: String,
    pub columns: Vec<(String, Column)>,
}

impl Table {
    pub fn new(name: &str, caption: &str) -> Self {
        Table { name: name.into(), caption: caption.into(), columns: vec![] }
    }
    pub fn f64(mut self, name: &str, v: Vec<f64>) -> Self {
        self.columns.push((name.into(), Column::F64(v)));
        self
    }
    pub fn i64(mut self, name: &str, v: Vec<i64>) -> Self {
        self.columns.push((name.into(), Column::I64(v)));
        self
    }
    pub fn usize(self, name: &str, v: Vec<usize>) -> Self {
        self.i64(name, v.into_iter().map(|x| x as i64).collect())
    }
    pub fn str(mut self, name: &str, v: Vec<String>) -> Self {
        self.columns.push((name.into(), Column::Str(v)));
        self
    }
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

/// How a series is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Style {
    Line,
    Dashed,
    Markers,
    LineMarkers,
}

/// One curve of a figure, optionally with an error band (lo, hi).
#[derive(Clone, Debug)]
pub struct Series {
    pub label: String,
    pub x: Vec<f64>,
    pub y: Vec<f64>,
    pub style: Style,
    pub band: Option<(Vec<f64>, Vec<f64>)>,
}

impl Series {
    pub fn line(label: &str, x: Vec<f64>, y: Vec<f64>) -> Self {
        Series { label: label.into(), x, y, style: Style::Line, band: None }
    }
    pub fn dashed(label: &str, x: Vec<f64>, y: Vec<f64>) -> Self {
        Series { label: label.into(), x, y, style: Style::Dashed, band: None }
    }
    pub fn markers(label: &str, x: Vec<f64>, y: Vec<f64>) -> Self {
        Series { label: label.into(), x, y, style: Style::Markers, band: None }
    }
    pub fn line_markers(label: &str, x: Vec<f64>, y: Vec<f64>) -> Self {
        Series { label: label.into(), x, y, style: Style::LineMarkers, band: None }
    }
    /// A horizontal reference line at `y` over [x0, x1].
    pub fn hline(label: &str, y: f64, x0: f64, x1: f64) -> Self {
        Series::dashed(label, vec![x0, x1], vec![y, y])
    }
    pub fn with_band(mut self, lo: Vec<f64>, hi: Vec<f64>) -> Self {
        self.band = Some((lo, hi));
        self
    }
}

/// What a figure shows: curves on x/y axes, or a heat map of a matrix.
#[derive(Clone, Debug)]
pub enum FigureKind {
    Xy(Vec<Series>),
    /// Row-major values; row 0 at the top.
    Heatmap(Vec<Vec<f64>>),
}

/// A named figure (becomes `figures/<name>.svg` and `.png`).
#[derive(Clone, Debug)]
pub struct Figure {
    pub name: String,
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub x_log: bool,
    pub y_log: bool,
    pub kind: FigureKind,
}

impl Figure {
    pub fn xy(name: &str, title: &str, x_label: &str, y_label: &str) -> Self {
        Figure {
            name: name.into(),
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            x_log: false,
            y_log: false,
            kind: FigureKind::Xy(vec![]),
        }
    }
    pub fn heatmap(name: &str, title: &str, values: Vec<Vec<f64>>) -> Self {
        Figure {
            name: name.into(),
            title: title.into(),
            x_label: "column".into(),
            y_label: "row".into(),
            x_log: false,
            y_log: false,
            kind: FigureKind::Heatmap(values),
        }
    }
    pub fn log_x(mut self) -> Self {
        self.x_log = true;
        self
    }
    pub fn log_y(mut self) -> Self {
        self.y_log = true;
        self
    }
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
    pub tables: Vec<Table>,
    pub figures: Vec<Figure>,
    pub claims: Vec<Claim>,
    /// Markdown paragraphs for the report's README (setup notes, deviations from the paper).
    pub notes: Vec<String>,
}

impl Outcome {
    pub fn table(&mut self, t: Table) -> &mut Self {
        self.tables.push(t);
        self
    }
    pub fn figure(&mut self, f: Figure) -> &mut Self {
        self.figures.push(f);
        self
    }
    pub fn claim(&mut self, c: Claim) -> &mut Self {
        self.claims.push(c);
        self
    }
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
        let c = Claim::new("C1", "s", "Thm 1").measured(0.5).at_least(0.6);
        assert!(!c.passed && c.gated);
        let c = c.not_gated("too small");
        assert_eq!(c.verdict(), "fail (not gated)");
    }

    #[test]
    fn non_finite_values_roundtrip_through_json() {
        for x in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1.5, -0.0] {
            let c = Claim::new("C", "s", "p").measured(x).between(f64::NEG_INFINITY, 2.0);
            let back: Claim = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
            assert!(back.measured == x || (x.is_nan() && back.measured.is_nan()));
            assert_eq!(back.expected, c.expected);
        }
    }

    #[test]
    fn number_format() {
        assert_eq!(fmt_num(3.0), "3");
        assert_eq!(fmt_num(0.25), "0.25");
        assert_eq!(fmt_num(1.5e-7), "1.500e-7");
    }
}
