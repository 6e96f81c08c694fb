//! `repro`: list, reproduce and check the studies.
//!
//! Exit codes: 0 all gated claims passed; 1 a run finished but a claim failed (the report is still
//! written) or a run crashed; 2 bad input (unknown study, bad `--set`, missing data file,
//! `--device cuda` without a GPU).
// mimalloc keeps freed pages for reuse; with glibc's malloc the MLP passes' multi-MB buffers go
// back to the OS and page-fault in again (~20% of an HVP on the digits benchmark).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use anyhow::Result;
use clap::{Parser, Subcommand};
use common::device::DeviceChoice;
use common::error::is_bad_input;
use common::gpu::probe;
use common::progress::Mode;
use common::report::Gate;
use common::report::baseline;
use common::report::spec::{README_BEGIN, README_END, splice_readme};
use common::study::Profile;
use common::study::overrides::{keys, parse_assignment};
use common::study::runner::{
    DEFAULT_SEED, RunOpts, default_cache_dir, render, resolve_config, resolve_with_estimate, run_study,
};
use common::{BadInput, DynStudy};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "repro",
    version,
    about = "Reproduce deep-learning optimization papers: numbers, tables, figures, gated claims"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run studies and write reports/<study>/ (use `all` for every study).
    Reproduce {
        /// Study slugs, or `all`.
        #[arg(required = true)]
        studies: Vec<String>,
        /// quick (CI scale) or full (the paper's setting).
        #[arg(long, default_value = "quick")]
        profile: String,
        /// Root seed; every part of a study derives its own seed from it.
        #[arg(long, default_value_t = DEFAULT_SEED)]
        seed: u64,
        /// auto, cpu or cuda.
        #[arg(long, default_value = "auto")]
        device: String,
        /// Override a config field, type-checked: --set key=value (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Output folder.
        #[arg(long, default_value = "reports")]
        out: PathBuf,
        /// Threads for sweep cells (default: all cores).
        #[arg(long)]
        jobs: Option<usize>,
        /// Re-run sweep cells even when cached.
        #[arg(long)]
        force: bool,
        /// Do not read or write the cell cache.
        #[arg(long)]
        no_cache: bool,
        /// Validate every configuration and print its estimate; run nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Re-render reports from their saved results.json (no re-run): README, tables, figures, claims.
    Render {
        /// Study slugs, or `all`.
        #[arg(required = true)]
        studies: Vec<String>,
        #[arg(long, default_value = "reports")]
        out: PathBuf,
    },
    /// List the studies: slug, paper, number of claims (--keys: the settable config keys;
    /// --claims: every declared claim).
    List {
        #[arg(long)]
        keys: bool,
        #[arg(long)]
        claims: bool,
    },
    /// Rewrite the claims table of every studies/<slug>/README.md from the declarations
    /// (--check: change nothing, exit 1 if one is stale).
    Readme {
        #[arg(long)]
        check: bool,
    },
    /// Start a new study from studies/_template: studies/<slug>/, registered in the CLI.
    New {
        /// The slug (lowercase words joined by `-`).
        slug: String,
    },
    /// Re-read every claims.json under --out, print a table; exit 1 if a gated claim failed or
    /// (with --baseline) drifted beyond its tolerance from the baseline.
    Check {
        #[arg(long, default_value = "reports")]
        out: PathBuf,
        /// A folder of earlier reports (e.g. the committed ones) to compare measured values with.
        #[arg(long)]
        baseline: Option<PathBuf>,
    },
    /// Print a study's resolved configuration as JSON.
    Config {
        study: String,
        #[arg(long, default_value = "quick")]
        profile: String,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
    },
    /// Rewrite reports/README.md (the index) from the study folders.
    Index {
        #[arg(long, default_value = "reports")]
        out: PathBuf,
    },
}

fn select(names: &[String]) -> Result<Vec<Box<dyn DynStudy>>, BadInput> {
    let all = repro::registry::all();
    let accepted = || all.iter().map(|s| s.slug()).collect::<Vec<_>>().join(", ");
    if names.iter().any(|n| n == "all") {
        return Ok(repro::registry::all());
    }
    names
        .iter()
        .map(|n| {
            repro::registry::find(n)
                .ok_or_else(|| BadInput::new(format!("unknown study `{n}`; accepted: all, {}", accepted())))
        })
        .collect()
}

fn parse_sets(sets: &[String]) -> Result<Vec<(String, String)>, BadInput> {
    sets.iter().map(|s| parse_assignment(s)).collect()
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.cmd {
        Cmd::Reproduce { studies, profile, seed, device, sets, out, jobs, force, no_cache, dry_run } => {
            let profile: Profile = profile.parse()?;
            let device: DeviceChoice = device.parse()?;
            let sets = parse_sets(&sets)?;
            let selected = select(&studies)?;
            if jobs == Some(0) {
                return Err(BadInput::new("--jobs 0: accepted a number of threads >= 1").into());
            }
            // Validate every input before any study runs.
            let mut estimates = vec![];
            for s in &selected {
                estimates.push(resolve_with_estimate(s.as_ref(), profile, &sets)?.1);
            }
            if dry_run {
                for (s, e) in selected.iter().zip(&estimates) {
                    println!("{}: configuration valid ({}); needs {}", s.slug(), profile.as_str(), e.describe());
                }
                return Ok(ExitCode::SUCCESS);
            }
            let probed = probe(device)?;
            let opts = RunOpts {
                profile,
                seed,
                device,
                sets,
                cache_dir: (!no_cache).then(|| default_cache_dir(&out)),
                out,
                jobs: jobs.unwrap_or_else(rayon::current_num_threads),
                force,
                progress: Mode::detect(),
            };
            let mut failed = 0;
            for s in &selected {
                eprintln!("== {} ({}, seed {seed}, {})", s.slug(), profile.as_str(), probed.note);
                match run_study(s.as_ref(), &opts, &probed) {
                    Ok(sum) => {
                        eprintln!(
                            "   {}: {}/{} gated claims passed ({} not gated) in {:.1} s -> {}",
                            sum.slug,
                            sum.passed,
                            sum.gated,
                            sum.ungated,
                            sum.wall_seconds,
                            sum.dir.display()
                        );
                        if !sum.all_passed() {
                            failed += 1;
                        }
                    }
                    Err(e) if is_bad_input(&e) => return Err(e),
                    Err(e) => {
                        eprintln!("   {}: run failed: {e:#}", s.slug());
                        failed += 1;
                    }
                }
            }
            Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Cmd::Render { studies, out } => {
            let selected = select(&studies)?;
            for s in &selected {
                let sum = render(s.as_ref(), &out)?;
                eprintln!("   {}: {}/{} gated claims passed -> {}", sum.slug, sum.passed, sum.gated, sum.dir.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Readme { check } => {
            let mut stale = 0;
            for s in repro::registry::all() {
                let path = PathBuf::from("studies").join(s.slug()).join("README.md");
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| BadInput::new(format!("{}: {e} (run from the repository root)", path.display())))?;
                let Some(new) = splice_readme(&text, s.claims()) else {
                    return Err(BadInput::new(format!(
                        "{} lacks the claims markers `{README_BEGIN}` ... `{README_END}`",
                        path.display()
                    ))
                    .into());
                };
                if new != text {
                    stale += 1;
                    if check {
                        println!("stale: {}", path.display());
                    } else {
                        std::fs::write(&path, new)?;
                        println!("rewrote the claims table of {}", path.display());
                    }
                }
            }
            // The repository README's table of studies, from the committed reports.
            let studies = repro::registry::all();
            let slugs: Vec<(&str, &str)> = studies.iter().map(|s| (s.slug(), s.paper().title)).collect();
            let table = common::report::index::studies_table(std::path::Path::new("reports"), &slugs)?;
            let text = std::fs::read_to_string("README.md")
                .map_err(|e| BadInput::new(format!("README.md: {e} (run from the repository root)")))?;
            let Some(new) = common::report::index::splice_studies_table(&text, &table) else {
                return Err(BadInput::new(format!(
                    "README.md lacks the studies markers `{}` ... `{}`",
                    common::report::index::STUDIES_BEGIN,
                    common::report::index::STUDIES_END
                ))
                .into());
            };
            if new != text {
                stale += 1;
                if check {
                    println!("stale: README.md (the table of studies)");
                } else {
                    std::fs::write("README.md", new)?;
                    println!("rewrote the table of studies of README.md");
                }
            }
            Ok(if check && stale > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
        }
        Cmd::New { slug } => {
            repro::scaffold::new_study(std::path::Path::new("."), &slug)?;
            println!(
                "created studies/{slug}/ (registered in repro/src/registry.rs and repro/Cargo.toml); next: fill in \
                 src/lib.rs and README.md, then `cargo test --release -p repro --test studies {}`",
                slug.replace('-', "_")
            );
            Ok(ExitCode::SUCCESS)
        }
        Cmd::List { keys: show_keys, claims: show_claims } => {
            for s in repro::registry::all() {
                let p = s.paper();
                let n = s.claims().len();
                println!("{:<34} {:>3} claims  {} (arXiv:{})", s.slug(), n, p.title, p.arxiv);
                if show_keys {
                    println!("    keys: {}", keys(&s.config_json(Profile::Quick)).join(", "));
                }
                if show_claims {
                    for c in s.claims() {
                        let gate = match c.gate {
                            Gate::Gated => c.expect.describe(),
                            Gate::NotGated(_) => format!("{} (not gated)", c.expect.describe()),
                        };
                        println!("    {:<14} {:<24} {}  [{}]", c.id, gate, c.statement, c.source);
                    }
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Check { out, baseline: base } => {
            if let Some(b) = &base
                && !b.is_dir()
            {
                return Err(BadInput::new(format!("baseline folder {} does not exist", b.display())).into());
            }
            if !out.is_dir() {
                return Err(BadInput::new(format!("reports folder {} does not exist", out.display())).into());
            }
            let rows = baseline::check(&out, base.as_deref())?;
            print!("{}", baseline::render(&rows));
            // Every study of the baseline must have been reproduced.
            let missing = base.as_deref().map(|b| baseline::missing(&out, b)).transpose()?.unwrap_or_default();
            for m in &missing {
                println!("{m}: in the baseline, but no report under {}", out.display());
            }
            let failed = rows.iter().filter(|r| r.gated && !r.passed).count();
            let drifted = rows.iter().filter(|r| !r.stable).count();
            let studies: std::collections::BTreeSet<_> = rows.iter().map(|r| r.study.as_str()).collect();
            println!(
                "{} studies, {} claims ({} gated): {} gated failed, {} drifted",
                studies.len(),
                rows.len(),
                rows.iter().filter(|r| r.gated).count(),
                failed,
                drifted
            );
            Ok(if failed + drifted + missing.len() == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Cmd::Config { study, profile, sets } => {
            let s = select(&[study])?.remove(0);
            let cfg = resolve_config(s.as_ref(), profile.parse()?, &parse_sets(&sets)?)?;
            println!("{}", serde_json::to_string_pretty(&cfg)?);
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Index { out } => {
            common::report::index::write_index(&out)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) if is_bad_input(&e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
