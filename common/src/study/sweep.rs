//! Sweeps: a grid of named axes (and repetitions) run through [`Ctx::grid`](super::Ctx::grid), so
//! cells run in parallel, are cached under a content key and get seeds from their content. The
//! results can be looked up, filtered and grouped by axis value, and serialize as part of a study's
//! `Results`.
//!
//! A cell serializes as `{"axis1": v1, "axis2": v2, ..., "rep": r}` in axis order: the same JSON
//! (hence the same seed and cache key) as a struct with those fields in that order.
//!
//! ```
//! use common::study::sweep::Sweep;
//! let s = Sweep::new("spectrum").axis("k", [2usize, 4]).axis("lr", [0.1, 0.2]).reps(2);
//! let cells = s.cells();
//! assert_eq!(cells.len(), 8);
//! assert_eq!(serde_json::to_string(&cells[1]).unwrap(), r#"{"k":2,"lr":0.1,"rep":1}"#);
//! ```
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A declared grid: axes in order (the first varies slowest), then repetitions.
#[derive(Clone, Debug)]
pub struct Sweep {
    /// Grid name (part of every cell's seed and cache key).
    pub name: String,
    axes: Vec<(String, Vec<Value>)>,
    reps: Option<usize>,
}

impl Sweep {
    /// An empty grid (one cell) named `name`.
    pub fn new(name: &str) -> Self {
        Sweep { name: name.into(), axes: vec![], reps: None }
    }
    /// Add an axis; values keep their JSON types (usize stays an integer, f64 a float).
    pub fn axis<T: Serialize>(mut self, name: &str, values: impl IntoIterator<Item = T>) -> Self {
        let v = values.into_iter().map(|x| serde_json::to_value(x).expect("axis values serialize")).collect();
        self.axes.push((name.into(), v));
        self
    }
    /// `n` repetitions of every cell, as the last axis `rep` = 0..n.
    pub fn reps(mut self, n: usize) -> Self {
        self.reps = Some(n);
        self
    }
    /// Every cell, first axis outermost, repetitions innermost.
    pub fn cells(&self) -> Vec<Cell> {
        let mut out = vec![Map::new()];
        let reps = self.reps.map(|n| ("rep".to_string(), (0..n).map(Value::from).collect::<Vec<_>>()));
        for (name, values) in self.axes.iter().chain(reps.iter()) {
            out = out
                .into_iter()
                .flat_map(|m| {
                    values.iter().map(move |v| {
                        let mut m = m.clone();
                        m.insert(name.clone(), v.clone());
                        m
                    })
                })
                .collect();
        }
        out.into_iter().map(Cell).collect()
    }
}

/// One cell of a sweep: axis name → value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Cell(pub Map<String, Value>);

impl Cell {
    /// The value on `axis`, typed. Panics when the axis is missing or of another type (a bug in
    /// the study, not an input).
    pub fn get<T: DeserializeOwned>(&self, axis: &str) -> T {
        let v = self.0.get(axis).unwrap_or_else(|| panic!("cell {self} has no axis `{axis}`"));
        serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("cell {self}, axis `{axis}`: {e}"))
    }
    /// An integer axis.
    pub fn usize(&self, axis: &str) -> usize {
        self.get(axis)
    }
    /// A number axis.
    pub fn f64(&self, axis: &str) -> f64 {
        self.get(axis)
    }
    /// A text axis.
    pub fn str(&self, axis: &str) -> &str {
        self.0.get(axis).and_then(Value::as_str).unwrap_or_else(|| panic!("cell {self} has no text axis `{axis}`"))
    }
    /// The repetition index.
    pub fn rep(&self) -> usize {
        self.usize("rep")
    }
    /// Whether the cell has `axis` = `value`.
    pub fn is<T: Serialize>(&self, axis: &str, value: T) -> bool {
        self.0.get(axis).is_some_and(|v| *v == serde_json::to_value(value).expect("serializes"))
    }
}

impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => format!("{k}={s}"),
                other => format!("{k}={other}"),
            })
            .collect();
        write!(f, "{}", parts.join(" "))
    }
}

/// Results of a sweep, in cell order.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Swept<R> {
    /// The cells, as [`Sweep::cells`] gave them.
    pub cells: Vec<Cell>,
    /// One result per cell.
    pub results: Vec<R>,
}

impl<R> Swept<R> {
    /// `(cell, result)` pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&Cell, &R)> {
        self.cells.iter().zip(&self.results)
    }
    /// The pairs whose cell satisfies `keep`.
    pub fn filter<'a>(&'a self, keep: impl Fn(&Cell) -> bool + 'a) -> impl Iterator<Item = (&'a Cell, &'a R)> + 'a {
        self.iter().filter(move |(c, _)| keep(c))
    }
    /// The pairs with `axis` = `value`.
    pub fn at<'a, T: Serialize + 'a>(
        &'a self,
        axis: &'a str,
        value: T,
    ) -> impl Iterator<Item = (&'a Cell, &'a R)> + 'a {
        let v = serde_json::to_value(value).expect("serializes");
        self.iter().filter(move |(c, _)| c.0.get(axis) == Some(&v))
    }
    /// The one result whose cell has every `(axis, value)` given; `None` if none or several.
    pub fn one(&self, coords: &[(&str, Value)]) -> Option<&R> {
        let mut it = self.iter().filter(|(c, _)| coords.iter().all(|(a, v)| c.0.get(*a) == Some(v)));
        let first = it.next()?;
        if it.next().is_some() { None } else { Some(first.1) }
    }
    /// The distinct values of `axis`, in first-appearance order.
    pub fn values(&self, axis: &str) -> Vec<Value> {
        let mut out: Vec<Value> = vec![];
        for c in &self.cells {
            if let Some(v) = c.0.get(axis)
                && !out.contains(v)
            {
                out.push(v.clone());
            }
        }
        out
    }
    /// Pairs grouped by the value of `axis`, groups in first-appearance order.
    pub fn group_by(&self, axis: &str) -> Vec<(Value, Vec<(&Cell, &R)>)> {
        self.values(axis)
            .into_iter()
            .map(|v| {
                let g = self.iter().filter(|(c, _)| c.0.get(axis) == Some(&v)).collect();
                (v, g)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Profile;
    use crate::study::Ctx;

    #[derive(Serialize)]
    struct Legacy {
        k: usize,
        h: usize,
        rep: usize,
    }

    #[test]
    fn cells_match_a_struct_of_the_same_fields_so_seeds_carry_over() {
        let s = Sweep::new("g").axis("k", [2usize, 4]).axis("h", [64usize]).reps(2);
        let cells = s.cells();
        let legacy: Vec<String> = [(2, 64, 0), (2, 64, 1), (4, 64, 0), (4, 64, 1)]
            .iter()
            .map(|&(k, h, rep)| serde_json::to_string(&Legacy { k, h, rep }).unwrap())
            .collect();
        assert_eq!(cells.iter().map(|c| serde_json::to_string(c).unwrap()).collect::<Vec<_>>(), legacy);
        let ctx = Ctx::for_test(5, Profile::Quick);
        let a = ctx.sweep(&s, |c, seed| Ok((c.usize("k") * 10 + c.rep(), seed.0))).unwrap();
        let b = ctx.grid("g", &[Legacy { k: 4, h: 64, rep: 1 }], |_, seed| Ok(seed.0)).unwrap();
        assert_eq!(a.results[3].1, b[0]);
        assert_eq!(Sweep::new("e").cells().len(), 1);
    }

    #[test]
    fn lookups() {
        let s = Sweep::new("g").axis("k", [2usize, 4]).axis("opt", ["sgd", "adam"]).reps(3);
        let ctx = Ctx::for_test(1, Profile::Quick);
        let r = ctx.sweep(&s, |c, _| Ok(c.usize("k") as f64 + c.rep() as f64 / 10.0)).unwrap();
        assert_eq!(r.cells.len(), 12);
        assert_eq!(r.at("k", 4).count(), 6);
        assert_eq!(r.filter(|c| c.str("opt") == "adam" && c.rep() == 2).count(), 2);
        assert_eq!(r.one(&[("k", 2.into()), ("opt", "sgd".into()), ("rep", 1.into())]), Some(&2.1));
        assert_eq!(r.one(&[("k", 2.into())]), None);
        let g = r.group_by("opt");
        assert_eq!(g.len(), 2);
        assert_eq!(g[1].0, Value::from("adam"));
        assert_eq!(g[1].1.len(), 6);
        assert!(r.cells[0].is("opt", "sgd"));
        assert_eq!(r.cells[0].to_string(), "k=2 opt=sgd rep=0");
        let back: Swept<f64> = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back.results, r.results);
        assert_eq!(back.cells, r.cells);
    }
}
