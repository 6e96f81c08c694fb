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
    DEFAULT_SEED, RunOpts, aggregate_seeds, code_version, default_cache_dir, find_shards, merge, parse_seeds,
    plan_probe, render, resolve_config, resolve_with_estimate, run_seeds, run_shard, run_study, seed_dir,
};
use common::study::shard::Shard;
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
        #[arg(long, default_value_t = DEFAULT_SEED, conflicts_with = "seeds")]
        seed: u64,
        /// Several root seeds (1,2,3 or 1..=8): one report per seed under <out>/seeds/<seed>/ and
        /// one aggregated report (a claim passes only at every seed; mean, 95% interval, spread).
        #[arg(long)]
        seeds: Option<String>,
        /// auto, cpu or cuda.
        #[arg(long, default_value = "auto")]
        device: String,
        /// Override a config field, type-checked: --set key=value (repeatable).
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Output folder (default: `reports` for the quick profile, `reports/full` for the full
        /// one, so a full run never replaces the quick regression baseline).
        #[arg(long)]
        out: Option<PathBuf>,
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
        /// Run part i of N of each study's sweep cells (e.g. 2/8), writing the cells to
        /// <out>/shards/<study>/<i>-of-<N>/; `repro merge` makes the report.
        #[arg(long)]
        shard: Option<String>,
    },
    /// Merge the shards found under the folders given (`reproduce --shard` outputs) into reports:
    /// the cells of all N parts are gathered and the study is finished from them.
    Merge {
        /// Folders holding shard outputs (searched for shard.json).
        #[arg(required = true)]
        dirs: Vec<PathBuf>,
        /// Output folder of the merged reports.
        #[arg(long, default_value = "reports")]
        out: PathBuf,
        /// Threads for the cells left to the merge.
        #[arg(long)]
        jobs: Option<usize>,
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
    /// Cost before you run: sample each study's first sweep (its setup, then a few cells) and
    /// estimate the run, per machine and per shard.
    Plan {
        /// Study slugs, or `all`.
        #[arg(required = true)]
        studies: Vec<String>,
        #[arg(long, default_value = "full")]
        profile: String,
        #[arg(long, default_value_t = DEFAULT_SEED)]
        seed: u64,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Cells of the first sweep to run (spread over it).
        #[arg(long, default_value_t = 3)]
        samples: usize,
        /// Seconds the sample may take per study; the probe is stopped there.
        #[arg(long, default_value_t = 60.0)]
        limit: f64,
        /// Threads per machine of the estimate (default: this machine's).
        #[arg(long)]
        jobs: Option<usize>,
        /// Shard counts to estimate per-shard time for (comma-separated).
        #[arg(long, value_delimiter = ',', default_value = "4,16")]
        shards: Vec<usize>,
        /// Also record the estimates in this JSON file (entries of other studies in it are kept),
        /// e.g. reports/full/plan.json, which the table of studies reads.
        #[arg(long)]
        save: Option<PathBuf>,
    },
    /// Write Slurm batch scripts for a study: a job array of shards (one task per shard) and a
    /// merge job that runs after every task succeeded; resources from `plan`'s sample.
    Slurm {
        study: String,
        #[arg(long, default_value = "full")]
        profile: String,
        #[arg(long, default_value_t = DEFAULT_SEED, conflicts_with = "seeds")]
        seed: u64,
        /// Several seeds (1,2,3 or 1..=8): one array task per shard and seed; the merge aggregates.
        #[arg(long)]
        seeds: Option<String>,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        /// Number of shards (array tasks).
        #[arg(long, default_value_t = 8)]
        shards: usize,
        /// CPU cores per task (also the threads of each shard).
        #[arg(long, default_value_t = 2)]
        cpus: usize,
        /// Where the shards write (shared by the tasks and the merge job).
        #[arg(long, default_value = "slurm-out")]
        work: PathBuf,
        /// Where the merge job writes the report.
        #[arg(long, default_value = "reports")]
        out: PathBuf,
        /// Folder of the scripts.
        #[arg(long, default_value = "slurm")]
        dir: PathBuf,
        /// Seconds `plan` may take to sample the study (0: skip it and ask for --time-limit).
        #[arg(long, default_value_t = 60.0)]
        plan_limit: f64,
        /// The Slurm time limit of each task in minutes (default: from the plan, 3x plus 10 min).
        #[arg(long)]
        time_limit: Option<u64>,
        /// Extra `#SBATCH` lines (e.g. --sbatch=--partition=debug), repeatable.
        #[arg(long = "sbatch", value_name = "OPTION", allow_hyphen_values = true)]
        sbatch: Vec<String>,
    },
    /// (internal) The probe of `plan`, run in a child process: events as JSON lines on stdout.
    #[command(hide = true)]
    PlanProbe {
        study: String,
        #[arg(long)]
        profile: String,
        #[arg(long)]
        seed: u64,
        #[arg(long = "set", value_name = "KEY=VALUE")]
        sets: Vec<String>,
        #[arg(long)]
        samples: usize,
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
        Cmd::Reproduce { studies, profile, seed, seeds, device, sets, out, jobs, force, no_cache, dry_run, shard } => {
            let profile: Profile = profile.parse()?;
            let device: DeviceChoice = device.parse()?;
            let sets = parse_sets(&sets)?;
            let selected = select(&studies)?;
            if jobs == Some(0) {
                return Err(BadInput::new("--jobs 0: accepted a number of threads >= 1").into());
            }
            let shard: Option<Shard> = shard.as_deref().map(str::parse).transpose()?;
            let seeds: Vec<u64> = match &seeds {
                Some(s) => parse_seeds(s)?,
                None => vec![seed],
            };
            let several = seeds.len() > 1;
            if shard.is_some() && no_cache {
                return Err(BadInput::new(
                    "--shard with --no-cache: a shard hands its cells to the merge; accepted is \
                     --shard without --no-cache",
                )
                .into());
            }
            if shard.is_some() && code_version().is_none() {
                return Err(BadInput::new(
                    "--shard needs git: the cells of the shards are matched by the code version (commit and changes); \
                     accepted is a run inside the repository's git checkout",
                )
                .into());
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
            let out = out.unwrap_or_else(|| default_out(profile));
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
                shard,
            };
            if let Some(sh) = shard {
                for s in &selected {
                    for &seed in &seeds {
                        eprintln!("== {} ({}, seed {seed}, shard {sh}, {})", s.slug(), profile.as_str(), probed.note);
                        let (dir, m) = run_shard(s.as_ref(), &RunOpts { seed, ..opts.clone() }, &probed)?;
                        let at = match &m.split_grid {
                            Some(g) => format!("split at sweep `{g}`"),
                            None => "ran to the end (no cell of other shards reached)".into(),
                        };
                        eprintln!(
                            "   {}: shard {sh}: {} cells computed, {} cached, {at}, in {:.1} s -> {}",
                            m.study,
                            m.cells_run,
                            m.cells_cached,
                            m.wall_seconds,
                            dir.display()
                        );
                    }
                }
                return Ok(ExitCode::SUCCESS);
            }
            let mut failed = 0;
            for s in &selected {
                if several {
                    eprintln!("== {} ({}, {} seeds, {})", s.slug(), profile.as_str(), seeds.len(), probed.note);
                } else {
                    eprintln!("== {} ({}, seed {}, {})", s.slug(), profile.as_str(), seeds[0], probed.note);
                }
                let run = if several {
                    run_seeds(s.as_ref(), &opts, &seeds, &probed)
                } else {
                    run_study(s.as_ref(), &RunOpts { seed: seeds[0], ..opts.clone() }, &probed)
                };
                match run {
                    Ok(sum) => {
                        eprintln!("{}", sum.line());
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
        Cmd::Merge { dirs, out, jobs } => {
            if jobs == Some(0) {
                return Err(BadInput::new("--jobs 0: accepted a number of threads >= 1").into());
            }
            let found = find_shards(&dirs)?;
            // study -> seed -> parts
            type Parts = Vec<(PathBuf, common::study::shard::ShardManifest)>;
            let mut groups: Vec<(String, Vec<(u64, Parts)>)> = vec![];
            for (d, m) in found {
                let g = match groups.iter_mut().position(|(k, _)| *k == m.study) {
                    Some(i) => &mut groups[i].1,
                    None => {
                        groups.push((m.study.clone(), vec![]));
                        &mut groups.last_mut().expect("just pushed").1
                    }
                };
                match g.iter_mut().find(|(s, _)| *s == m.seed) {
                    Some((_, parts)) => parts.push((d, m)),
                    None => g.push((m.seed, vec![(d, m)])),
                }
            }
            if groups.is_empty() {
                return Err(BadInput::new(
                    "merge: no shard.json under the folders given; accepted are the \
                     <out>/shards/... folders that `reproduce --shard` writes",
                )
                .into());
            }
            let mut failed = 0;
            for (slug, by_seed) in &groups {
                let study = select(std::slice::from_ref(slug))?.remove(0);
                let several = by_seed.len() > 1;
                let seeds: Vec<u64> = by_seed.iter().map(|(s, _)| *s).collect();
                for (seed, parts) in by_seed {
                    let m = &parts[0].1;
                    let probed = probe(m.device.parse()?)?;
                    let dest = if several { seed_dir(&out, *seed) } else { out.clone() };
                    let opts = RunOpts {
                        jobs: jobs.unwrap_or_else(rayon::current_num_threads),
                        cache_dir: Some(default_cache_dir(&out)),
                        out: dest,
                        progress: Mode::detect(),
                        ..RunOpts::default()
                    };
                    eprintln!("== merge {slug} ({}, seed {seed}, {} shards)", m.profile, m.shard.count);
                    let sum = merge(study.as_ref(), parts, &opts, &probed)?;
                    eprintln!("{}", sum.line());
                    if !several && !sum.all_passed() {
                        failed += 1;
                    }
                }
                if several {
                    let sum = aggregate_seeds(study.as_ref(), &out, &seeds)?;
                    eprintln!(
                        "   {slug}: {} seeds: {}/{} gated claims passed at every seed -> {}",
                        seeds.len(),
                        sum.passed,
                        sum.gated,
                        sum.dir.display()
                    );
                    if !sum.all_passed() {
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
        Cmd::Plan { studies, profile, seed, sets, samples, limit, jobs, shards, save } => {
            let profile_p: Profile = profile.parse()?;
            let parsed = parse_sets(&sets)?;
            let selected = select(&studies)?;
            if !(1..=1000).contains(&samples) {
                return Err(BadInput::new(format!("--samples {samples}: accepted is 1..=1000")).into());
            }
            if !(limit.is_finite() && (1.0..=86_400.0).contains(&limit)) {
                return Err(BadInput::new(format!("--limit {limit}: accepted are 1 to 86400 seconds")).into());
            }
            if jobs == Some(0) || shards.iter().any(|&s| s == 0 || s > common::study::shard::MAX_SHARDS) {
                return Err(BadInput::new(format!(
                    "--jobs / --shards: accepted are threads >= 1 and shard counts 1..={}",
                    common::study::shard::MAX_SHARDS
                ))
                .into());
            }
            for s in &selected {
                resolve_config(s.as_ref(), profile_p, &parsed)?;
            }
            let jobs = jobs.unwrap_or_else(rayon::current_num_threads);
            let mut saved = match &save {
                Some(path) => common::study::plan::PlanFile::read(path)?,
                None => Default::default(),
            };
            let mut failed = 0;
            for s in &selected {
                // A study whose probe fails (e.g. data it needs is missing) is reported, and the
                // others are still planned; the command then exits 1.
                let (events, timed_out) = match probe_child(s.slug(), &profile, seed, &sets, samples, limit) {
                    Ok(x) => x,
                    Err(e) => {
                        println!("{} ({}, seed {seed}):\n  not planned: {e:#}", s.slug(), profile_p.as_str());
                        failed += 1;
                        if let Some(path) = &save {
                            saved.put(common::study::plan::PlanEntry::failed(
                                s.slug(),
                                profile_p,
                                seed,
                                jobs,
                                limit,
                                format!("{e:#}"),
                            ));
                            saved.write(path)?;
                        }
                        continue;
                    }
                };
                let plan = common::study::plan::Plan::from_events(&events, timed_out, limit);
                println!("{} ({}, seed {seed}):", s.slug(), profile_p.as_str());
                let lines = plan.describe(jobs, &shards);
                for line in &lines {
                    println!("  {line}");
                }
                if let Some(path) = &save {
                    saved.put(common::study::plan::PlanEntry::new(s.slug(), profile_p, seed, jobs, limit, plan, lines));
                    saved.write(path)?;
                }
                let quick = PathBuf::from("reports").join(s.slug()).join("manifest.json");
                if let Some(w) = std::fs::read_to_string(&quick)
                    .ok()
                    .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                    .filter(|m| m["profile"] == "quick")
                    .and_then(|m| m["wall_seconds"].as_f64())
                {
                    println!("  for scale: the committed quick report took {w:.1} s in all");
                }
            }
            Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Cmd::Slurm {
            study,
            profile,
            seed,
            seeds,
            sets,
            shards,
            cpus,
            work,
            out,
            dir,
            plan_limit,
            time_limit,
            sbatch,
        } => {
            let profile_p: Profile = profile.parse()?;
            let parsed = parse_sets(&sets)?;
            let s = select(&[study])?.remove(0);
            let (_, est) = resolve_with_estimate(s.as_ref(), profile_p, &parsed)?;
            let seeds = match &seeds {
                Some(x) => parse_seeds(x)?,
                None => vec![seed],
            };
            if seeds.len() * shards > 100_000 {
                return Err(BadInput::new("--seeds x --shards: accepted are at most 100000 array tasks").into());
            }
            if !(1..=common::study::shard::MAX_SHARDS).contains(&shards) || !(1..=1024).contains(&cpus) {
                return Err(BadInput::new(format!(
                    "--shards {shards} / --cpus {cpus}: accepted are 1..={} shards and 1..=1024 cores",
                    common::study::shard::MAX_SHARDS
                ))
                .into());
            }
            if !(plan_limit.is_finite() && (0.0..=86_400.0).contains(&plan_limit)) {
                return Err(BadInput::new(format!("--plan-limit {plan_limit}: accepted are 0 to 86400 seconds")).into());
            }
            if let Some(bad) = sbatch.iter().find(|o| !o.starts_with("--") || o.contains('\n')) {
                return Err(BadInput::new(format!(
                    "--sbatch `{bad}`: accepted are single-line sbatch options like --partition=debug"
                ))
                .into());
            }
            let minutes = match time_limit {
                Some(0) => return Err(BadInput::new("--time-limit 0: accepted are minutes >= 1").into()),
                Some(m) => m,
                None => {
                    if plan_limit == 0.0 {
                        return Err(BadInput::new("--plan-limit 0 needs --time-limit <minutes>").into());
                    }
                    let (events, timed_out) = probe_child(s.slug(), &profile, seed, &sets, 3, plan_limit)?;
                    let plan = common::study::plan::Plan::from_events(&events, timed_out, plan_limit);
                    for line in plan.describe(cpus, &[shards]) {
                        eprintln!("  plan: {line}");
                    }
                    match plan.seconds(cpus, shards) {
                        Some(sec) => (3.0 * sec / 60.0).ceil() as u64 + 10,
                        None => {
                            return Err(BadInput::new(format!(
                                "plan could not sample {} within {plan_limit} s; give --time-limit <minutes>",
                                s.slug()
                            ))
                            .into());
                        }
                    }
                }
            };
            let mem_mb = ((est.bytes * 1.5 / 1e6).ceil() as u64).max(1024);
            let exe = std::env::current_exe()?;
            let root = std::env::current_dir()?;
            let abs = |p: &PathBuf| if p.is_absolute() { p.clone() } else { root.join(p) };
            let script = common::study::slurm::Scripts {
                study: s.slug().into(),
                profile: profile_p.as_str().into(),
                seeds,
                sets: sets.clone(),
                shards,
                cpus,
                minutes,
                mem_mb,
                exe: exe.to_string_lossy().into(),
                root: root.to_string_lossy().into(),
                work: abs(&work).to_string_lossy().into(),
                out: abs(&out).to_string_lossy().into(),
                extra: sbatch,
            };
            let dir = abs(&dir).join(s.slug());
            let files = script.write(&dir)?;
            for f in &files {
                println!("wrote {}", f.display());
            }
            println!("submit with: bash {}", dir.join("submit.sh").display());
            Ok(ExitCode::SUCCESS)
        }
        Cmd::PlanProbe { study, profile, seed, sets, samples } => {
            let s = select(&[study])?.remove(0);
            let opts = RunOpts {
                profile: profile.parse()?,
                seed,
                sets: parse_sets(&sets)?,
                device: DeviceChoice::Cpu,
                jobs: 1,
                ..RunOpts::default()
            };
            let probed = probe(DeviceChoice::Cpu)?;
            let sink = std::sync::Arc::new(|e: common::study::plan::Event| {
                use std::io::Write;
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{}", serde_json::to_string(&e).unwrap_or_default());
                let _ = out.flush();
            });
            plan_probe(s.as_ref(), &opts, &probed, samples, sink)?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Index { out } => {
            common::report::index::write_index(&out)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Run `plan-probe` in a child process, stopped after `limit` seconds: its events, and whether it
/// was stopped.
/// Where `reproduce` writes without `--out`: `reports` (quick), `reports/full` (full).
fn default_out(profile: Profile) -> PathBuf {
    match profile {
        Profile::Quick => PathBuf::from("reports"),
        Profile::Full => PathBuf::from("reports").join("full"),
    }
}

fn probe_child(
    slug: &str,
    profile: &str,
    seed: u64,
    sets: &[String],
    samples: usize,
    limit: f64,
) -> Result<(Vec<common::study::plan::Event>, bool)> {
    use std::io::BufRead;
    let mut cmd = std::process::Command::new(std::env::current_exe()?);
    cmd.args([
        "plan-probe",
        slug,
        "--profile",
        profile,
        "--seed",
        &seed.to_string(),
        "--samples",
        &samples.to_string(),
    ]);
    for s in sets {
        cmd.args(["--set", s]);
    }
    let mut child = cmd.stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn()?;
    let stdout = child.stdout.take().expect("piped");
    let lines = std::thread::spawn(move || {
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .filter_map(|l| serde_json::from_str::<common::study::plan::Event>(&l).ok())
            .collect::<Vec<_>>()
    });
    // Read stderr as it comes, so that a chatty probe never blocks on a full pipe.
    let mut stderr = child.stderr.take().expect("piped");
    let errors = std::thread::spawn(move || {
        use std::io::Read;
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let t = std::time::Instant::now();
    let mut timed_out = false;
    let status = loop {
        if let Some(st) = child.try_wait()? {
            break Some(st);
        }
        if t.elapsed().as_secs_f64() > limit {
            let _ = child.kill();
            let _ = child.wait();
            timed_out = true;
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let events = lines.join().unwrap_or_default();
    let err = errors.join().unwrap_or_default();
    if let Some(st) = status
        && !st.success()
    {
        anyhow::bail!("plan {slug}: the probe failed: {}", err.trim());
    }
    Ok((events, timed_out))
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
