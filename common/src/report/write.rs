//! Writing one study's report folder, atomically.
use super::{Claim, Column, Outcome, Table, plot};
use anyhow::{Context, Result};
use polars::prelude::{Column as PlColumn, CsvWriter, DataFrame, ParquetCompression, ParquetWriter, SerWriter};
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::{Path, PathBuf};

/// `claims.json`: what CI checks.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ClaimsFile {
    /// The study's slug.
    pub study: String,
    /// The profile run.
    pub profile: String,
    /// The root seed.
    pub seed: u64,
    /// Every claim with its measured value and verdict.
    pub claims: Vec<Claim>,
}

/// `manifest.json`: everything needed to say how the numbers were made.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Manifest {
    /// The study's slug.
    pub study: String,
    /// The paper's title.
    pub paper: String,
    /// The profile run.
    pub profile: String,
    /// The root seed.
    pub seed: u64,
    /// The resolved config (profile plus overrides) as JSON.
    pub config: serde_json::Value,
    /// `git rev-parse HEAD` (`"unknown"` without git).
    pub git_commit: String,
    /// Whether the working tree had changes outside `reports/`.
    pub git_dirty: bool,
    /// The `--device` asked for (`auto`, `cpu`, `cuda`).
    pub device_requested: String,
    /// The device the study ran on (`cpu`, `cuda`).
    pub device_used: String,
    /// Why that device (the probe's note).
    pub device_note: String,
    /// The CPU's model name (`/proc/cpuinfo`; the architecture where unavailable).
    pub cpu_model: String,
    /// Rayon threads.
    pub threads: usize,
    /// Versions of the crate and of the key dependencies (from `Cargo.lock`).
    pub crate_versions: serde_json::Value,
    /// Start of the run, `YYYY-MM-DDTHH:MM:SSZ`.
    pub started_utc: String,
    /// Wall-clock seconds of the measurement (rounded to 0.01 s).
    pub wall_seconds: f64,
    /// Gradient evaluations counted during the run (process-wide counters).
    pub gradient_evals: u64,
    /// Hessian-vector (and Gauss-Newton-vector) products counted during the run.
    pub hvp_evals: u64,
    /// Sweep cells computed in this run.
    pub cells_run: u64,
    /// Sweep cells read back from the cache.
    pub cells_cached: u64,
    /// The seeds of an aggregated report (`--seeds`; each seed's report is under
    /// `<out>/seeds/<seed>/<slug>/`); empty for a single-seed run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seeds: Vec<u64>,
}

/// The paper's identity as shown in the report.
#[derive(Clone, Debug, Default)]
pub struct PaperInfo {
    /// The study's slug.
    pub slug: String,
    /// The paper's title.
    pub title: String,
    /// The authors, as shown.
    pub authors: String,
    /// The arXiv identifier (e.g. `2103.00065`).
    pub arxiv: String,
    /// Link to the authors' code, if any.
    pub official_code: Option<String>,
}

fn to_dataframe(t: &Table) -> Result<DataFrame> {
    t.validate()?;
    let cols: Vec<PlColumn> = t
        .columns
        .iter()
        .map(|(name, c)| match c {
            Column::F64(v) => PlColumn::new(name.as_str().into(), v.as_slice()),
            Column::I64(v) => PlColumn::new(name.as_str().into(), v.as_slice()),
            Column::Str(v) => PlColumn::new(name.as_str().into(), v.iter().map(|s| s.as_str()).collect::<Vec<_>>()),
        })
        .collect();
    Ok(DataFrame::new(t.nrows(), cols)?)
}

/// Write `tables/<name>.csv` and `.parquet`.
pub fn write_table(t: &Table, dir: &Path) -> Result<()> {
    let mut df = to_dataframe(t)?;
    let csv = dir.join(format!("{}.csv", t.name));
    let f = fs::File::create(&csv).with_context(|| format!("creating {}", csv.display()))?;
    CsvWriter::new(f).finish(&mut df)?;
    let tex = dir.join(format!("{}.tex", t.name));
    fs::write(&tex, super::latex::table(t)).with_context(|| format!("writing {}", tex.display()))?;
    let pq = dir.join(format!("{}.parquet", t.name));
    let f = fs::File::create(&pq).with_context(|| format!("creating {}", pq.display()))?;
    ParquetWriter::new(f).with_compression(ParquetCompression::Uncompressed).finish(&mut df)?;
    Ok(())
}

/// Markdown rendering of a table (at most `max_rows` rows, the rest pointed to the CSV).
pub fn markdown_table(t: &Table, max_rows: usize) -> String {
    let mut s = String::new();
    s += &format!("| {} |\n", t.columns.iter().map(|c| c.0.as_str()).collect::<Vec<_>>().join(" | "));
    s += &format!("|{}\n", "---|".repeat(t.columns.len()));
    let n = t.nrows();
    for i in 0..n.min(max_rows) {
        s += &format!("| {} |\n", t.columns.iter().map(|c| c.1.cell(i)).collect::<Vec<_>>().join(" | "));
    }
    if n > max_rows {
        s += &format!("\n({} of {n} rows shown; all in `tables/{}.csv`.)\n", max_rows, t.name);
    }
    s
}

fn escape_md(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Markdown table of claims, shared by the study README and the index.
pub fn claims_markdown(claims: &[Claim]) -> String {
    let mut s =
        String::from("| id | claim | paper | measured | expected | gated | verdict |\n|---|---|---|---|---|---|---|\n");
    for c in claims {
        let mut verdict = c.verdict().to_string();
        if let Some(r) = &c.reason {
            verdict += &format!(": {}", escape_md(r));
        }
        s += &format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            c.id,
            escape_md(&c.statement),
            escape_md(&c.source),
            super::fmt_num(c.measured),
            c.expected.describe(),
            if c.gated { "yes" } else { "no" },
            verdict
        );
    }
    s
}

fn readme(paper: &PaperInfo, outcome: &Outcome, claims: &ClaimsFile, manifest: &Manifest) -> String {
    let gated: Vec<&Claim> = outcome.claims.iter().filter(|c| c.gated).collect();
    let passed = gated.iter().filter(|c| c.passed).count();
    let mut s = format!("# {}: {}\n\n", paper.slug, paper.title);
    s += &format!("{}. [arXiv:{}](https://arxiv.org/abs/{})", paper.authors, paper.arxiv, paper.arxiv);
    if let Some(code) = &paper.official_code {
        s += &format!(" · official code: {code}");
    }
    s += "\n\n";
    let list = manifest.seeds.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(",");
    let (seed_words, seed_flag) = if manifest.seeds.is_empty() {
        (format!("seed {}", claims.seed), format!("--seed {}", claims.seed))
    } else {
        (format!("seeds {} (a claim passes only at every seed)", list.replace(',', ", ")), format!("--seeds {list}"))
    };
    s += &format!(
        "Profile `{}`, {seed_words}, {} gated claims passed of {} ({} reported, not gated). Wall time {:.1} s on {} ({} threads, device {}). Commit `{}`{}.\n\n",
        claims.profile,
        passed,
        gated.len(),
        outcome.claims.len() - gated.len(),
        manifest.wall_seconds,
        manifest.cpu_model,
        manifest.threads,
        manifest.device_used,
        &manifest.git_commit[..manifest.git_commit.len().min(12)],
        if manifest.git_dirty { " (dirty)" } else { "" }
    );
    s += &format!(
        "Regenerate: `cargo reproduce {} --profile {} {seed_flag}` (or `just reproduce {}`); re-render from `results.json` without re-running: `cargo repro render {0}`.\n\n",
        paper.slug, claims.profile, paper.slug
    );
    s += "## Claims\n\n";
    s += &claims_markdown(&outcome.claims);
    s += "\nAs a LaTeX table (booktabs): [claims.tex](claims.tex).\n";
    for c in outcome.claims.iter().filter(|c| c.detail.is_some()) {
        s += &format!("\n- **{}**: {}", c.id, c.detail.as_deref().unwrap_or_default());
    }
    s += "\n";
    if !outcome.notes.is_empty() {
        s += "\n## Notes\n\n";
        for n in &outcome.notes {
            s += n;
            s += "\n\n";
        }
    }
    if !outcome.figures.is_empty() {
        s += "\n## Figures\n\n";
        for f in &outcome.figures {
            s += &format!(
                "### {}\n\n![{}](figures/{2}.svg)\n\n[PDF](figures/{2}.pdf) · [PNG](figures/{2}.png) · [SVG](figures/{2}.svg)\n\n",
                f.title, f.title, f.name
            );
        }
    }
    if !outcome.tables.is_empty() {
        s += "## Tables\n\n";
        for t in &outcome.tables {
            s += &format!("### {}\n\n{}\n\n", t.name, t.caption);
            s += &markdown_table(t, 40);
            s += &format!(
                "\nFiles: [CSV](tables/{0}.csv) · [Parquet](tables/{0}.parquet) · [LaTeX](tables/{0}.tex) (booktabs).\n\n",
                t.name
            );
        }
    }
    s
}

fn write_json<T: Serialize>(path: &Path, v: &T) -> Result<()> {
    let s = serde_json::to_string_pretty(v)?;
    fs::write(path, s + "\n").with_context(|| format!("writing {}", path.display()))
}

/// Write the whole report into a fresh folder `dir` (which must not exist yet).
pub fn write_report_into(
    dir: &Path,
    paper: &PaperInfo,
    outcome: &Outcome,
    claims: &ClaimsFile,
    manifest: &Manifest,
    results: Option<&str>,
) -> Result<()> {
    fs::create_dir_all(dir.join("tables"))?;
    if let Some(r) = results {
        fs::write(dir.join("results.json"), format!("{r}\n"))?;
    }
    fs::create_dir_all(dir.join("figures"))?;
    for t in &outcome.tables {
        write_table(t, &dir.join("tables")).with_context(|| format!("table {}", t.name))?;
    }
    for f in &outcome.figures {
        plot::render(f, &dir.join("figures")).with_context(|| format!("figure {}", f.name))?;
    }
    write_json(&dir.join("claims.json"), claims)?;
    fs::write(dir.join("claims.tex"), super::latex::claims(&outcome.claims))?;
    write_json(&dir.join("manifest.json"), manifest)?;
    fs::write(dir.join("README.md"), readme(paper, outcome, claims, manifest))?;
    Ok(())
}

/// Write `path` atomically (temporary file, then rename). The temporary name is the writer's own:
/// runs writing side by side (the per-study tests) rename in turn.
pub fn write_atomic(path: &Path, text: &str) -> anyhow::Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", unique_suffix()));
    fs::write(&tmp, text)?;
    fs::rename(&tmp, path)?;
    Ok(())
}

/// A name part no other writer uses at the same time: process, thread and clock.
pub(crate) fn unique_suffix() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{}-{:?}-{nanos}", std::process::id(), std::thread::current().id())
}

/// Undo what an interrupted swap may have left: a missing report with a `.old-` copy beside it is
/// restored, stale `.tmp-` folders are removed.
pub fn recover(out: &Path, slug: &str) -> Result<()> {
    let Ok(entries) = fs::read_dir(out) else { return Ok(()) };
    let target = out.join(slug);
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.starts_with(&format!(".tmp-{slug}-")) {
            let _ = fs::remove_dir_all(e.path());
        } else if name.starts_with(&format!(".old-{slug}-")) {
            if !target.exists() {
                fs::rename(e.path(), &target)?;
            } else {
                let _ = fs::remove_dir_all(e.path());
            }
        }
    }
    Ok(())
}

/// Write the report to `<out>/<slug>` atomically: everything goes to a temporary folder first,
/// which replaces the old report by rename only once complete. A crash or Ctrl-C at any point
/// leaves either the old or the new report, never a mix.
pub fn write_report(
    out: &Path,
    paper: &PaperInfo,
    outcome: &Outcome,
    claims: &ClaimsFile,
    manifest: &Manifest,
    results: Option<&str>,
) -> Result<PathBuf> {
    fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    recover(out, &paper.slug)?;
    let suffix = unique_suffix();
    let tmp = out.join(format!(".tmp-{}-{suffix}", paper.slug));
    if let Err(e) = write_report_into(&tmp, paper, outcome, claims, manifest, results) {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e);
    }
    swap_into_place(out, &paper.slug, &tmp, &suffix)
}

fn swap_into_place(out: &Path, slug: &str, tmp: &Path, suffix: &str) -> Result<PathBuf> {
    let target = out.join(slug);
    let old = out.join(format!(".old-{slug}-{suffix}"));
    let had_old = target.exists();
    if had_old {
        fs::rename(&target, &old).with_context(|| format!("moving aside {}", target.display()))?;
    }
    if let Err(e) = fs::rename(tmp, &target) {
        if had_old {
            let _ = fs::rename(&old, &target);
        }
        let _ = fs::remove_dir_all(tmp);
        return Err(e).with_context(|| format!("renaming into {}", target.display()));
    }
    if had_old {
        let _ = fs::remove_dir_all(&old);
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{Figure, FigureKind, Series};

    fn sample() -> (PaperInfo, Outcome, ClaimsFile, Manifest) {
        let paper = PaperInfo {
            slug: "demo".into(),
            title: "T".into(),
            authors: "A".into(),
            arxiv: "0000.00000".into(),
            official_code: None,
        };
        let mut o = Outcome::default();
        o.table(
            Table::new("t1", "cap")
                .f64("x", vec![1.0, 2.0])
                .i64("k", vec![1, 2])
                .str("s", vec!["a".into(), "b".into()]),
        );
        o.figure(Figure::xy("f1", "F", "x", "y").series(Series::line("l", vec![0.0, 1.0], vec![1.0, 2.0])));
        o.claim(crate::report::ClaimSpec::new("C1", "x", "Thm 1", crate::report::Expect::at_most(2.0)).measured(1.0));
        let claims = ClaimsFile { study: "demo".into(), profile: "quick".into(), seed: 1, claims: o.claims.clone() };
        let manifest = Manifest {
            study: "demo".into(),
            paper: "T".into(),
            profile: "quick".into(),
            seed: 1,
            config: serde_json::json!({"a": 1}),
            git_commit: "abc".into(),
            git_dirty: false,
            device_requested: "auto".into(),
            device_used: "cpu".into(),
            device_note: String::new(),
            cpu_model: "cpu".into(),
            threads: 1,
            crate_versions: serde_json::json!({}),
            started_utc: String::new(),
            wall_seconds: 0.0,
            gradient_evals: 0,
            hvp_evals: 0,
            cells_run: 0,
            cells_cached: 0,
            seeds: vec![],
        };
        (paper, o, claims, manifest)
    }

    #[test]
    fn writes_the_whole_tree() {
        let out = tempfile::tempdir().unwrap();
        let (p, o, c, m) = sample();
        let dir = write_report(out.path(), &p, &o, &c, &m, Some("{}")).unwrap();
        for f in [
            "README.md",
            "claims.json",
            "manifest.json",
            "tables/t1.csv",
            "tables/t1.parquet",
            "tables/t1.tex",
            "claims.tex",
            "figures/f1.svg",
            "figures/f1.png",
            "figures/f1.pdf",
        ] {
            assert!(dir.join(f).exists(), "{f} missing");
        }
        let csv = fs::read_to_string(dir.join("tables/t1.csv")).unwrap();
        assert!(csv.starts_with("x,k,s\n1.0,1,a\n"), "{csv}");
        let back: ClaimsFile = serde_json::from_str(&fs::read_to_string(dir.join("claims.json")).unwrap()).unwrap();
        assert_eq!(back.claims.len(), 1);
        assert!(back.claims[0].passed);
        let v: serde_json::Value = serde_json::from_str(&fs::read_to_string(dir.join("claims.json")).unwrap()).unwrap();
        for k in ["study", "profile", "seed", "claims"] {
            assert!(v.get(k).is_some(), "claims.json lacks {k}");
        }
        for k in ["id", "statement", "source", "measured", "expected", "gated", "passed"] {
            assert!(v["claims"][0].get(k).is_some(), "claim lacks {k}");
        }
        let leftovers: Vec<_> = fs::read_dir(out.path())
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn failed_write_keeps_the_old_report() {
        let out = tempfile::tempdir().unwrap();
        let (p, o, c, m) = sample();
        write_report(out.path(), &p, &o, &c, &m, Some("{}")).unwrap();
        let before = fs::read_to_string(out.path().join("demo/README.md")).unwrap();
        // A table with ragged columns fails after the first files were written.
        let mut bad = o.clone();
        bad.tables.push(Table::new("bad", "").f64("a", vec![1.0]).f64("b", vec![]));
        bad.figures.push(Figure { kind: FigureKind::Xy(vec![]), ..o.figures[0].clone() });
        assert!(write_report(out.path(), &p, &bad, &c, &m, None).is_err());
        assert_eq!(fs::read_to_string(out.path().join("demo/README.md")).unwrap(), before);
        assert!(
            fs::read_dir(out.path()).unwrap().flatten().all(|e| !e.file_name().to_string_lossy().starts_with(".tmp"))
        );
    }

    #[test]
    fn recovers_an_interrupted_swap() {
        let out = tempfile::tempdir().unwrap();
        // Simulate a kill between "move old aside" and "move new in".
        fs::create_dir_all(out.path().join(".old-demo-1-2")).unwrap();
        fs::write(out.path().join(".old-demo-1-2/README.md"), "old").unwrap();
        fs::create_dir_all(out.path().join(".tmp-demo-1-2/tables")).unwrap();
        recover(out.path(), "demo").unwrap();
        assert_eq!(fs::read_to_string(out.path().join("demo/README.md")).unwrap(), "old");
        assert!(!out.path().join(".tmp-demo-1-2").exists());
    }
}
