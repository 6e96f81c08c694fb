//! One report from several seeds (`--seeds`, or `merge` of runs at different seeds).
//!
//! [`aggregate`] takes each seed's [`Outcome`] (the same study and config) and builds one:
//! - **claims**: the measured value is the mean over the seeds; the claim passes by the aggregate
//!   it declares ([`SeedGate`]: by default only if it passes at every seed; or its mean, or its
//!   median, meets the expectation; or a least share of seeds pass), and its detail gives the
//!   rule, the pass share, the mean with a 95 % t-interval and every seed's value; the table
//!   `seed_claims` lists claim × seed;
//! - **tables**: each table's rows from every seed, with a leading `seed` column (`root_seed`
//!   when the table has a `seed` column of its own);
//! - **figures**: a curve whose x values agree across seeds becomes the mean over seeds with the
//!   min–max band (a reference line: the mean only); curves that do not line up are drawn per
//!   seed; heat maps are averaged.
use super::{Claim, Column, Figure, FigureKind, Outcome, SeedGate, Series, Style, Table};
use crate::stats::mean_sd;

/// Two-sided 95 % Student-t quantiles for 1..=30 degrees of freedom (then 1.96).
fn t95(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
    ];
    if df == 0 { f64::NAN } else { T.get(df - 1).copied().unwrap_or(1.96) }
}

/// Mean and the half-width of its 95 % t-interval over the finite values (NaN when none).
pub fn mean_ci95(xs: &[f64]) -> (f64, f64) {
    let v: Vec<f64> = xs.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let (m, sd) = mean_sd(&v);
    (m, t95(v.len() - 1) * sd / (v.len() as f64).sqrt())
}

/// The claims of several seeds (`per_seed[k]` at `seeds[k]`), declared in the same order.
fn claims(seeds: &[u64], per_seed: &[&[Claim]]) -> Vec<Claim> {
    let n = seeds.len();
    (0..per_seed[0].len())
        .map(|i| {
            let first = &per_seed[0][i];
            let vals: Vec<f64> = per_seed.iter().map(|cs| cs[i].measured).collect();
            let passes = per_seed.iter().filter(|cs| cs[i].passed).count();
            let (m, hw) = mean_ci95(&vals);
            let each: Vec<String> = seeds
                .iter()
                .zip(per_seed)
                .map(|(s, cs)| {
                    format!("{s}: {} ({})", super::fmt_num(cs[i].measured), if cs[i].passed { "pass" } else { "fail" })
                })
                .collect();
            let mut c = first.clone();
            let all_finite = vals.iter().all(|v| v.is_finite());
            c.measured = if all_finite { m } else { f64::NAN };
            let med = if all_finite { crate::stats::median(&vals) } else { f64::NAN };
            c.passed = match first.over_seeds {
                SeedGate::Every => passes == n,
                SeedGate::Mean => c.expected.holds(c.measured),
                SeedGate::Median => c.expected.holds(med),
                SeedGate::Share { at_least } => passes as f64 >= at_least * n as f64 - 1e-12,
            };
            let median = match first.over_seeds {
                SeedGate::Median => format!("; median {}", super::fmt_num(med)),
                _ => String::new(),
            };
            c.detail = Some(format!(
                "passes at {passes}/{n} seeds ({}); mean {} ± {} (95% t-interval){median}; {}",
                first.over_seeds.describe(),
                super::fmt_num(m),
                super::fmt_num(hw),
                each.join("; ")
            ));
            c
        })
        .collect()
}

/// `t`'s rows from every seed, with a leading `seed` column; `None` when the seeds' tables do not
/// share their columns (names and types).
fn stack(seeds: &[u64], tables: &[&Table]) -> Option<Table> {
    let first = tables[0];
    let same = tables.iter().all(|t| {
        t.columns.len() == first.columns.len()
            && t.columns
                .iter()
                .zip(&first.columns)
                .all(|((a, ca), (b, cb))| a == b && std::mem::discriminant(ca) == std::mem::discriminant(cb))
    });
    if !same {
        return None;
    }
    let mut seed_col = vec![];
    for (s, t) in seeds.iter().zip(tables) {
        let rows = t.columns.first().map_or(0, |c| c.1.len());
        seed_col.extend(std::iter::repeat_n(*s as i64, rows));
    }
    // A table that already has a `seed` column (a per-repetition seed) gets `root_seed` beside it.
    let name = if first.columns.iter().any(|(n, _)| n == "seed") { "root_seed" } else { "seed" };
    let mut out = Table::new(&first.name, &format!("{} (all seeds)", first.caption)).i64(name, seed_col);
    for (j, (name, col)) in first.columns.iter().enumerate() {
        let joined = match col {
            Column::F64(_) => Column::F64(
                tables
                    .iter()
                    .flat_map(|t| if let Column::F64(v) = &t.columns[j].1 { v.clone() } else { vec![] })
                    .collect(),
            ),
            Column::I64(_) => Column::I64(
                tables
                    .iter()
                    .flat_map(|t| if let Column::I64(v) = &t.columns[j].1 { v.clone() } else { vec![] })
                    .collect(),
            ),
            Column::Str(_) => Column::Str(
                tables
                    .iter()
                    .flat_map(|t| if let Column::Str(v) = &t.columns[j].1 { v.clone() } else { vec![] })
                    .collect(),
            ),
        };
        out.columns.push((name.clone(), joined));
    }
    Some(out)
}

/// Series `j` of every seed, merged: the mean with the min–max band where the x values agree
/// (reference curves kept once when identical), else each seed's curve.
fn merge_series(seeds: &[u64], all: &[&Series]) -> Vec<Series> {
    let first = all[0];
    let same_x = all.iter().all(|s| s.x == first.x && s.y.len() == first.y.len() && s.label == first.label);
    if same_x && all.iter().all(|s| s.y == first.y) {
        return vec![first.clone()];
    }
    if same_x && first.style == Style::Reference {
        // A reference drawn from each seed's data (an anchored slope, a fitted level): its mean,
        // without a band, so the legend keeps one entry.
        let mut s = first.clone();
        s.y = (0..first.x.len()).map(|i| all.iter().map(|x| x.y[i]).sum::<f64>() / all.len() as f64).collect();
        s.band = None;
        return vec![s];
    }
    if same_x {
        let k = first.x.len();
        let col = |i: usize| all.iter().map(|s| s.y[i]).filter(|v| v.is_finite()).collect::<Vec<f64>>();
        let mean: Vec<f64> = (0..k)
            .map(|i| {
                let c = col(i);
                if c.is_empty() { f64::NAN } else { c.iter().sum::<f64>() / c.len() as f64 }
            })
            .collect();
        let lo: Vec<f64> = (0..k).map(|i| col(i).into_iter().fold(f64::NAN, f64::min)).collect();
        let hi: Vec<f64> = (0..k).map(|i| col(i).into_iter().fold(f64::NAN, f64::max)).collect();
        let mut s = first.clone();
        s.y = mean;
        s.band = Some((lo, hi));
        s.label = format!("{} (mean, range over {} seeds)", first.label, seeds.len());
        return vec![s];
    }
    seeds
        .iter()
        .zip(all)
        .map(|(seed, s)| {
            let mut s = (*s).clone();
            s.label = format!("{}, seed {seed}", s.label);
            s
        })
        .collect()
}

fn figure(seeds: &[u64], figs: &[&Figure]) -> Figure {
    let first = figs[0];
    let mut f = first.clone();
    f.title = format!("{} (over {} seeds)", first.title, seeds.len());
    match &first.kind {
        FigureKind::Xy(series) => {
            let lists: Vec<&Vec<Series>> =
                figs.iter().filter_map(|f| if let FigureKind::Xy(v) = &f.kind { Some(v) } else { None }).collect();
            let aligned = lists.len() == figs.len() && lists.iter().all(|v| v.len() == series.len());
            let mut out = vec![];
            if aligned {
                for j in 0..series.len() {
                    let all: Vec<&Series> = lists.iter().map(|v| &v[j]).collect();
                    out.extend(merge_series(seeds, &all));
                }
            } else {
                for (seed, v) in seeds.iter().zip(&lists) {
                    out.extend(v.iter().map(|s| {
                        let mut s = s.clone();
                        s.label = format!("{}, seed {seed}", s.label);
                        s
                    }));
                }
            }
            f.kind = FigureKind::Xy(out);
        }
        FigureKind::Heatmap(m) => {
            let mats: Vec<&Vec<Vec<f64>>> =
                figs.iter().filter_map(|f| if let FigureKind::Heatmap(m) = &f.kind { Some(m) } else { None }).collect();
            let shape_ok = mats.len() == figs.len()
                && mats.iter().all(|x| x.len() == m.len() && x.iter().zip(m).all(|(a, b)| a.len() == b.len()));
            if shape_ok {
                let avg = m
                    .iter()
                    .enumerate()
                    .map(|(r, row)| {
                        (0..row.len()).map(|c| mats.iter().map(|x| x[r][c]).sum::<f64>() / mats.len() as f64).collect()
                    })
                    .collect();
                f.kind = FigureKind::Heatmap(avg);
                f.title = format!("{} (mean over {} seeds)", first.title, seeds.len());
            } else {
                f.title = format!("{} (seed {}; the seeds' shapes differ)", first.title, seeds[0]);
            }
        }
    }
    f
}

/// One outcome from several seeds' (`outcomes[k]` at `seeds[k]`, same study and config).
pub fn aggregate(seeds: &[u64], outcomes: &[Outcome]) -> anyhow::Result<Outcome> {
    anyhow::ensure!(!seeds.is_empty() && seeds.len() == outcomes.len(), "aggregate: one outcome per seed");
    let first = &outcomes[0];
    for (s, o) in seeds.iter().zip(outcomes) {
        let ids: Vec<&str> = o.claims.iter().map(|c| c.id.as_str()).collect();
        let want: Vec<&str> = first.claims.iter().map(|c| c.id.as_str()).collect();
        anyhow::ensure!(ids == want, "aggregate: seed {s} reports the claims {ids:?}, seed {} {want:?}", seeds[0]);
    }
    let mut out = Outcome::default();
    let per_seed: Vec<&[Claim]> = outcomes.iter().map(|o| o.claims.as_slice()).collect();
    out.claims = claims(seeds, &per_seed);
    for t in &first.tables {
        let same: Vec<&Table> = outcomes.iter().filter_map(|o| o.tables.iter().find(|x| x.name == t.name)).collect();
        match (same.len() == outcomes.len()).then(|| stack(seeds, &same)).flatten() {
            Some(s) => out.tables.push(s),
            None => {
                for (seed, o) in seeds.iter().zip(outcomes) {
                    if let Some(x) = o.tables.iter().find(|x| x.name == t.name) {
                        let mut x = x.clone();
                        x.name = format!("{}_seed{seed}", x.name);
                        out.tables.push(x);
                    }
                }
            }
        }
    }
    let mut claim_rows = Table::new("seed_claims", "Every claim at every seed: the measured value and its verdict.");
    let (mut ids, mut ss, mut ms, mut ps) = (vec![], vec![], vec![], vec![]);
    for (s, o) in seeds.iter().zip(outcomes) {
        for c in &o.claims {
            ids.push(c.id.clone());
            ss.push(*s as i64);
            ms.push(c.measured);
            ps.push(if c.passed { "pass" } else { "fail" }.to_string());
        }
    }
    claim_rows = claim_rows.str("claim", ids).i64("seed", ss).f64("measured", ms).str("verdict", ps);
    out.tables.push(claim_rows);
    for f in &first.figures {
        let same: Vec<&Figure> = outcomes.iter().filter_map(|o| o.figures.iter().find(|x| x.name == f.name)).collect();
        out.figures.push(figure(seeds, &same));
    }
    out.notes.push(format!(
        "**Aggregated over {} seeds** ({}): a claim passes only if it passes at every seed; its measured value \
         is the mean over the seeds (95% t-interval and each seed's value in its detail; all in \
         `tables/seed_claims.csv`). Figures show the mean over seeds with the min–max band; tables carry a \
         `seed` column. Each seed's own report is under `seeds/<seed>/` beside this folder.",
        seeds.len(),
        seeds.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", ")
    ));
    out.notes.extend(first.notes.iter().cloned());
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ClaimSpec, Expect};

    fn outcome(v: f64, ys: Vec<f64>) -> Outcome {
        let mut o = Outcome::default();
        o.claim(ClaimSpec::new("C1", "s", "p", Expect::at_least(1.0)).wrong("w").measured(v));
        o.table(Table::new("t", "cap").f64("x", vec![1.0, 2.0]).f64("y", ys.clone()));
        o.figure(
            Figure::xy("f", "title", "x", "y")
                .series(Series::line("data", vec![1.0, 2.0], ys))
                .series(Series::hline("ref", 1.0, 2.0, 0.5)),
        );
        o.figure(Figure::heatmap("h", "heat", vec![vec![v, 0.0]]));
        o
    }

    #[test]
    fn claims_pass_at_every_seed_and_report_the_mean() {
        let o = aggregate(
            &[1, 2, 3],
            &[outcome(2.0, vec![1.0, 2.0]), outcome(4.0, vec![3.0, 4.0]), outcome(0.5, vec![2.0, 0.0])],
        )
        .unwrap();
        let c = &o.claims[0];
        assert!(!c.passed, "fails at seed 3");
        assert!((c.measured - 6.5 / 3.0).abs() < 1e-12);
        let d = c.detail.as_ref().unwrap();
        assert!(d.contains("passes at 2/3 seeds") && d.contains("3: 0.5 (fail)"), "{d}");
        let t = o.tables.iter().find(|t| t.name == "t").unwrap();
        assert_eq!(t.columns[0], ("seed".to_string(), Column::I64(vec![1, 1, 2, 2, 3, 3])));
        assert_eq!(t.columns[2].1, Column::F64(vec![1.0, 2.0, 3.0, 4.0, 2.0, 0.0]));
        assert!(o.tables.iter().any(|t| t.name == "seed_claims" && t.columns[0].1.len() == 3));
        let FigureKind::Xy(s) = &o.figures[0].kind else { panic!() };
        assert_eq!(s.len(), 2, "the data as one banded mean, the identical reference once");
        assert_eq!(s[0].y, vec![2.0, 2.0]);
        assert_eq!(s[0].band, Some((vec![1.0, 0.0], vec![3.0, 4.0])));
        let FigureKind::Heatmap(m) = &o.figures[1].kind else { panic!() };
        assert!((m[0][0] - 6.5 / 3.0).abs() < 1e-12);
        let mut r1 = outcome(2.0, vec![1.0, 2.0]);
        let mut r2 = outcome(2.0, vec![1.0, 2.0]);
        for (o, level) in [(&mut r1, 1.0), (&mut r2, 3.0)] {
            if let FigureKind::Xy(s) = &mut o.figures[0].kind {
                s[1] = Series::hline("ref", level, 1.0, 2.0);
            }
        }
        let FigureKind::Xy(s) = &aggregate(&[1, 2], &[r1, r2]).unwrap().figures[0].kind else { panic!() };
        assert_eq!((s[1].label.as_str(), s[1].y.clone(), s[1].band.is_none()), ("ref", vec![2.0, 2.0], true));
        let all = aggregate(&[1, 2], &[outcome(2.0, vec![1.0, 2.0]), outcome(3.0, vec![1.0, 2.0])]).unwrap();
        // A table with its own `seed` column keeps it; the root seed goes beside it.
        let mut a = outcome(2.0, vec![1.0, 2.0]);
        a.tables[0].columns.push(("seed".into(), Column::I64(vec![7, 8])));
        let mut b = outcome(2.0, vec![1.0, 2.0]);
        b.tables[0].columns.push(("seed".into(), Column::I64(vec![7, 8])));
        let t = &aggregate(&[1, 2], &[a, b]).unwrap().tables[0];
        assert_eq!(t.columns.iter().map(|c| c.0.as_str()).collect::<Vec<_>>(), ["root_seed", "x", "y", "seed"]);
        assert!(all.claims[0].passed);
    }

    #[test]
    fn a_claim_gates_on_the_aggregate_it_declares() {
        // Seeds measure 2, 4 and 0.5 against `>= 1`: two of three pass, the mean 2.17 and the
        // median 2 pass, and a single NaN seed fails the mean.
        let with = |rule: SeedGate, vals: &[f64]| {
            let spec = ClaimSpec::new("C1", "s", "p", Expect::at_least(1.0)).wrong("w").over_seeds(rule);
            let outs: Vec<Outcome> = vals
                .iter()
                .map(|&v| {
                    let mut o = Outcome::default();
                    o.claim(spec.measured(v));
                    o
                })
                .collect();
            let seeds: Vec<u64> = (1..=vals.len() as u64).collect();
            aggregate(&seeds, &outs).unwrap().claims.remove(0)
        };
        let v = [2.0, 4.0, 0.5];
        assert!(!with(SeedGate::Every, &v).passed);
        let mean = with(SeedGate::Mean, &v);
        assert!(mean.passed && mean.detail.as_ref().unwrap().contains("gated on the mean over seeds"));
        assert!(with(SeedGate::Median, &v).passed);
        assert!(!with(SeedGate::Median, &[0.5, 4.0, 0.9]).passed, "the median 0.9 is below the bound");
        assert!(!with(SeedGate::Mean, &[0.1, 0.2, 2.0]).passed, "mean 0.77");
        assert!(!with(SeedGate::Mean, &[2.0, f64::NAN, 2.0]).passed);
        assert!(with(SeedGate::Share { at_least: 2.0 / 3.0 }, &v).passed);
        assert!(!with(SeedGate::Share { at_least: 0.7 }, &v).passed);
        // The rule travels with the claim through claims.json, and the default is left out.
        let c = with(SeedGate::Share { at_least: 0.5 }, &v);
        let back: Claim = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back.over_seeds, SeedGate::Share { at_least: 0.5 });
        assert!(!serde_json::to_string(&with(SeedGate::Every, &v)).unwrap().contains("over_seeds"));
    }

    #[test]
    fn ragged_curves_are_drawn_per_seed() {
        let mut b = outcome(2.0, vec![1.0, 2.0]);
        if let FigureKind::Xy(s) = &mut b.figures[0].kind {
            s[0].x = vec![1.0, 3.0];
        }
        let o = aggregate(&[5, 6], &[outcome(2.0, vec![1.0, 2.0]), b]).unwrap();
        let FigureKind::Xy(s) = &o.figures[0].kind else { panic!() };
        assert!(s.iter().any(|x| x.label == "data, seed 6"), "{:?}", s.iter().map(|x| &x.label).collect::<Vec<_>>());
        assert!(aggregate(&[1], &[]).is_err());
    }

    #[test]
    fn t_interval() {
        let (m, hw) = mean_ci95(&[1.0, 2.0, 3.0]);
        assert_eq!(m, 2.0);
        assert!((hw - 4.303 * 1.0 / 3f64.sqrt()).abs() < 1e-9);
        assert!(mean_ci95(&[]).0.is_nan());
    }
}
