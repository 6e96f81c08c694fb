//! The CLI end to end: exit codes on bad input, and a real study written, listed and checked.
use std::path::Path;
use std::process::{Command, Output};

/// A registered study that runs in a few seconds.
const FAST_STUDY: &str = "deep-linear-dynamics";

fn repro(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_repro")).args(args).current_dir(cwd).output().expect("repro runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

#[test]
fn bad_input_exits_2_with_a_one_line_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("reports");
    let out = out.to_str().unwrap();
    let bad_plan = dir.path().join("plan.json");
    std::fs::write(&bad_plan, "{").unwrap();
    let bad_plan = bad_plan.to_str().unwrap();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["reproduce", "no-such-study", "--out", out], "unknown study `no-such-study`"),
        (vec!["reproduce", FAST_STUDY, "--set", "no_such_key=1", "--out", out], "unknown --set key `no_such_key`"),
        (vec!["reproduce", FAST_STUDY, "--set", "novalue", "--out", out], "--set expects key=value"),
        (vec!["reproduce", FAST_STUDY, "--profile", "huge", "--out", out], "unknown profile `huge`"),
        // Well-typed but outside what the study accepts (its `Study::validate`).
        (vec!["reproduce", FAST_STUDY, "--set", "three_layer.width=0", "--out", out], "bad configuration"),
        (vec!["reproduce", FAST_STUDY, "--device", "tpu", "--out", out], "unknown device `tpu`"),
        (vec!["reproduce", FAST_STUDY, "--device", "cuda", "--out", out], "--device cuda asked for"),
        (vec!["check", "--out", "/definitely/not/here"], "does not exist"),
        (vec!["check", "--out", out, "--baseline", "/definitely/not/here"], "does not exist"),
        (vec!["reproduce", FAST_STUDY, "--shard", "0/2", "--out", out], "accepted is i/N"),
        (vec!["reproduce", FAST_STUDY, "--shard", "1/2", "--no-cache", "--out", out], "--shard with --no-cache"),
        // The temporary folder is no git checkout: shards are matched by the code version.
        (vec!["reproduce", FAST_STUDY, "--shard", "1/2", "--out", out], "--shard needs git"),
        (vec!["merge", "/definitely/not/here"], "is not a folder"),
        (vec!["merge", "."], "no shard.json"),
        (vec!["plan", FAST_STUDY, "--samples", "0"], "--samples 0"),
        (vec!["plan", FAST_STUDY, "--limit", "0"], "--limit 0"),
        (vec!["plan", FAST_STUDY, "--shards", "0"], "shard counts"),
        (vec!["plan", FAST_STUDY, "--save", bad_plan], "not a plan file"),
        (vec!["slurm", FAST_STUDY, "--shards", "0"], "--shards 0"),
        (vec!["slurm", FAST_STUDY, "--sbatch", "partition=x"], "--sbatch `partition=x`"),
        (vec!["slurm", FAST_STUDY, "--plan-limit", "0"], "needs --time-limit"),
        (vec!["slurm", FAST_STUDY, "--time-limit", "0"], "--time-limit 0"),
    ];
    for (args, want) in cases {
        let o = repro(&args, dir.path());
        // `--device cuda` is only an error where no GPU is usable (always, on CI).
        if args.contains(&"cuda") && common::gpu::cuda_unavailable_reason().is_none() {
            continue;
        }
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        let e = stderr(&o);
        assert!(e.contains(want), "{args:?}: expected `{want}` in {e}");
        assert_eq!(e.trim().lines().count(), 1, "{args:?}: one-line message, got {e}");
    }
    // A mistyped value for an existing key: find a numeric key of the study and give it a word.
    let cfg = repro(&["config", FAST_STUDY], dir.path());
    assert_eq!(cfg.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&cfg.stdout).unwrap();
    let key = common::study::overrides::keys(&v)
        .into_iter()
        .find(|k| v.pointer(&format!("/{}", k.replace('.', "/"))).is_some_and(|x| x.is_number()))
        .expect("the study has a numeric setting");
    let o = repro(&["reproduce", FAST_STUDY, "--set", &format!("{key}=lots"), "--out", out], dir.path());
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("bad value"), "{}", stderr(&o));
    assert!(!Path::new(out).join(FAST_STUDY).exists(), "bad input must not write a report");

    // Nothing runs before a validation error: with two studies, the second one's bad value stops
    // the command before the first one starts.
    let o = repro(&["reproduce", FAST_STUDY, "no-such-study", "--out", out], dir.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(!Path::new(out).join(FAST_STUDY).exists(), "a study ran before the input was refused");
    let o = repro(&["reproduce", "all", "--set", "no_such_key=1", "--out", out], dir.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(!Path::new(out).exists(), "a study ran before the input was refused");
    let o = repro(&["render", FAST_STUDY, "--out", out], dir.path());
    assert_eq!(o.status.code(), Some(2), "render without a report: {}", stderr(&o));
    assert!(stderr(&o).contains("cannot render"), "{}", stderr(&o));
    let o = repro(&["reproduce", FAST_STUDY, "--jobs", "0", "--out", out], dir.path());
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = repro(&["new", "Bad_Slug"], dir.path());
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
}

#[test]
fn dry_run_list_and_readme_check() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let o = repro(&["reproduce", "all", "--dry-run"], &root);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    assert_eq!(
        text.lines().filter(|l| l.contains("configuration valid")).count(),
        repro::registry::all().len(),
        "{text}"
    );
    let o = repro(&["list", "--claims", "--keys"], &root);
    assert_eq!(o.status.code(), Some(0));
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    for s in repro::registry::all() {
        assert!(text.contains(s.slug()), "{text}");
        for c in s.claims() {
            assert!(text.contains(c.statement), "{}: {} not listed", s.slug(), c.id);
        }
    }
    let o = repro(&["readme", "--check"], &root);
    assert_eq!(o.status.code(), Some(0), "stale study READMEs: {}", String::from_utf8_lossy(&o.stdout));
}

#[test]
fn a_full_run_writes_beside_the_quick_baseline_not_over_it() {
    // The full profile with every key set to the quick profile's value: a full-profile run that
    // takes a second. Without --out it goes to reports/full/<slug>/, never to reports/<slug>/.
    let study = "eal-sketching";
    let dir = tempfile::tempdir().unwrap();
    let o = repro(&["config", study], dir.path());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let quick: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let sets = common::study::conformance::sets_of(&quick);
    let mut args = vec!["reproduce".to_string(), study.into(), "--profile".into(), "full".into(), "--no-cache".into()];
    for (k, v) in &sets {
        args.extend(["--set".to_string(), format!("{k}={v}")]);
    }
    let o = repro(&args.iter().map(String::as_str).collect::<Vec<_>>(), dir.path());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let full = dir.path().join("reports").join("full").join(study);
    let claims = std::fs::read_to_string(full.join("claims.json")).expect("reports/full/<slug>/claims.json");
    assert!(claims.contains("\"profile\": \"full\""), "{claims}");
    assert!(!dir.path().join("reports").join(study).exists(), "the quick report's folder is untouched");
    assert!(dir.path().join("reports").join("full").join("README.md").is_file(), "reports/full has its index");
}

#[test]
fn a_study_writes_its_whole_report_and_checks_clean() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("reports");
    let o = repro(&["reproduce", FAST_STUDY, "--out", out.to_str().unwrap(), "--no-cache"], dir.path());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let r = out.join(FAST_STUDY);
    for f in ["README.md", "claims.json", "manifest.json", "results.json"] {
        assert!(r.join(f).is_file(), "{f} missing");
    }
    for (sub, exts) in [("tables", ["csv", "parquet"]), ("figures", ["svg", "png"])] {
        let names: Vec<String> = std::fs::read_dir(r.join(sub))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .collect();
        for ext in exts {
            assert!(names.iter().any(|n| n.ends_with(ext)), "no .{ext} in {sub}: {names:?}");
        }
    }
    assert!(out.join("README.md").is_file(), "index missing");
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(r.join("manifest.json")).unwrap()).unwrap();
    for k in [
        "git_commit",
        "git_dirty",
        "profile",
        "config",
        "seed",
        "device_used",
        "cpu_model",
        "threads",
        "crate_versions",
        "wall_seconds",
        "gradient_evals",
        "hvp_evals",
    ] {
        assert!(m.get(k).is_some(), "manifest lacks {k}");
    }
    let c = repro(&["check", "--out", out.to_str().unwrap(), "--baseline", out.to_str().unwrap()], dir.path());
    assert_eq!(c.status.code(), Some(0), "{}", String::from_utf8_lossy(&c.stdout));
    // Re-rendered from results.json: the same README byte for byte.
    let readme = std::fs::read(r.join("README.md")).unwrap();
    let o = repro(&["render", FAST_STUDY, "--out", out.to_str().unwrap()], dir.path());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(std::fs::read(r.join("README.md")).unwrap(), readme);
    // A baseline with a study the run did not produce is a failed check.
    let base = dir.path().join("base");
    std::fs::create_dir_all(base.join("other-study")).unwrap();
    std::fs::copy(r.join("claims.json"), base.join("other-study/claims.json")).unwrap();
    let c = repro(&["check", "--out", out.to_str().unwrap(), "--baseline", base.to_str().unwrap()], dir.path());
    assert_eq!(c.status.code(), Some(1), "{}", String::from_utf8_lossy(&c.stdout));

    // Killed midway: the earlier report stays whole.
    let before = std::fs::read_to_string(r.join("claims.json")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_repro"))
        .args(["reproduce", FAST_STUDY, "--out", out.to_str().unwrap(), "--no-cache"])
        .current_dir(dir.path())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(std::fs::read_to_string(r.join("claims.json")).unwrap(), before);
    assert!(r.join("README.md").is_file() && r.join("manifest.json").is_file());
}

/// A fake `libcuda.so` built from `src`, in its own folder (for `LD_LIBRARY_PATH`).
fn stub_libcuda(root: &Path, name: &str, src: &str) -> Option<std::path::PathBuf> {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("stub.c"), src).unwrap();
    let ok = Command::new("gcc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(dir.join("libcuda.so"))
        .arg(dir.join("stub.c"))
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    ok.then_some(dir)
}

/// Broken GPU stacks (a stub `libcuda` without the driver API, a driver older than the bindings,
/// a driver that sees no device) are a clean CPU fallback for `auto` (reason in the manifest) and
/// a one-line exit 2 for `cuda`: never a panic.
#[test]
fn broken_cuda_stacks_fall_back_cleanly() {
    if common::gpu::cuda_unavailable_reason().is_none() {
        eprintln!("skipped: this machine has a working GPU");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let stubs = [
        ("empty", "void repro_stub(void) {}\n", "failed to load"),
        ("old", "int cuDriverGetVersion(int *v) { *v = 12020; return 0; }\n", "older than this build's bindings"),
        (
            "nodev",
            "int cuDriverGetVersion(int *v) { *v = 13000; return 0; }\n\
             int cuInit(unsigned f) { (void)f; return 100; }\n\
             int cuDeviceGetCount(int *c) { *c = 0; return 100; }\n",
            "CUDA_ERROR_NO_DEVICE",
        ),
    ];
    for (name, src, want) in stubs {
        let Some(lib) = stub_libcuda(dir.path(), name, src) else {
            eprintln!("skipped: no gcc to build a stub libcuda");
            return;
        };
        let out = dir.path().join(format!("reports-{name}"));
        let run = |device: &str| {
            Command::new(env!("CARGO_BIN_EXE_repro"))
                .args(["reproduce", FAST_STUDY, "--device", device, "--out", out.to_str().unwrap()])
                .env("LD_LIBRARY_PATH", &lib)
                .current_dir(dir.path())
                .output()
                .unwrap()
        };
        let o = run("cuda");
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{name}: {e}");
        assert!(e.contains("--device cuda asked for") && e.contains(want), "{name}: {e}");
        assert!(!e.contains("panicked"), "{name}: {e}");
        assert_eq!(e.trim().lines().count(), 1, "{name}: one line, got {e}");
        if name == "empty" {
            let o = run("auto");
            assert_eq!(o.status.code(), Some(0), "{name} auto: {}", stderr(&o));
            assert!(!stderr(&o).contains("panicked"), "{}", stderr(&o));
            let m: serde_json::Value =
                serde_json::from_slice(&std::fs::read(out.join(FAST_STUDY).join("manifest.json")).unwrap()).unwrap();
            assert_eq!(m["device_used"], "cpu");
            assert!(m["device_note"].as_str().unwrap().contains(want), "{}", m["device_note"]);
        }
    }
}

/// `--shard i/N` on N machines, then `merge`, gives the unsharded report: the same claims, results
/// and tables, byte for byte (studies with one sweep, with several, and with a handful of cells).
#[test]
fn three_shards_merge_to_the_unsharded_report() {
    // Shards match cells by the code version, which needs the repository (git) as the working dir.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf();
    let dir = tempfile::tempdir().unwrap();
    let p = |s: &str| dir.path().join(s).to_str().unwrap().to_string();
    for study in ["bilevel-unbounded-smooth-borep", "boundary-tilting-adv", FAST_STUDY] {
        let o = repro(&["reproduce", study, "--out", &p("whole"), "--no-cache"], &root);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        for i in 1..=3 {
            let shard = format!("{i}/3");
            let o = repro(&["reproduce", study, "--shard", &shard, "--out", &p(&format!("machine{i}"))], &root);
            assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
            assert!(stderr(&o).contains(&format!("shard {i}/3")), "{}", stderr(&o));
            assert!(!dir.path().join(format!("machine{i}")).join(study).exists(), "a shard writes no report");
        }
        // Two parts are not a split of three.
        let o = repro(&["merge", &p("machine1"), &p("machine3"), "--out", &p("merged")], &root);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains("shard(s) 2/3 missing"), "{}", stderr(&o));
        let o = repro(&["merge", &p("machine1"), &p("machine2"), &p("machine3"), "--out", &p("merged")], &root);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let (a, b) = (dir.path().join("whole").join(study), dir.path().join("merged").join(study));
        for f in ["claims.json", "results.json"] {
            assert_eq!(std::fs::read(a.join(f)).unwrap(), std::fs::read(b.join(f)).unwrap(), "{study}: {f} differs");
        }
        for e in std::fs::read_dir(a.join("tables")).unwrap().flatten() {
            let name = e.file_name();
            if name.to_string_lossy().ends_with(".csv") {
                let other = std::fs::read(b.join("tables").join(&name)).unwrap();
                assert_eq!(std::fs::read(e.path()).unwrap(), other, "{study}: {name:?} differs");
            }
        }
        let m: serde_json::Value = serde_json::from_slice(&std::fs::read(b.join("manifest.json")).unwrap()).unwrap();
        assert!(m["cells_cached"].as_u64().unwrap() > 0, "{study}: the merge computed every cell again: {m}");
    }
    let o = repro(&["reproduce", FAST_STUDY, "--shard", "4/3", "--out", &p("x")], &root);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("accepted is i/N"), "{}", stderr(&o));
    let o = repro(&["merge", &p("nowhere")], &root);
    assert_eq!(o.status.code(), Some(2));
}

/// `--seeds`: one report per seed and one aggregate (claims over every seed, tables with a seed
/// column), which `render` rebuilds from the seeds' results.
#[test]
fn several_seeds_make_one_aggregated_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("reports");
    let study = "boundary-tilting-adv";
    let o = repro(&["reproduce", study, "--seeds", "3..=5", "--no-cache", "--out", out.to_str().unwrap()], dir.path());
    assert!(o.status.code().is_some_and(|c| c <= 1), "{}", stderr(&o));
    for s in [3, 4, 5] {
        assert!(out.join(format!("seeds/{s}/{study}/claims.json")).is_file(), "seed {s} report missing");
    }
    let agg = out.join(study);
    let claims = std::fs::read_to_string(agg.join("claims.json")).unwrap();
    assert!(claims.contains("seeds (gated on every seed)"), "{claims}");
    let rows = std::fs::read_to_string(agg.join("tables/seed_claims.csv")).unwrap();
    let n_claims = serde_json::from_str::<serde_json::Value>(&claims).unwrap()["claims"].as_array().unwrap().len();
    assert_eq!(rows.lines().count(), 1 + 3 * n_claims, "{rows}");
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(agg.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["seeds"], serde_json::json!([3, 4, 5]));
    let before = std::fs::read(agg.join("README.md")).unwrap();
    let o = repro(&["render", study, "--out", out.to_str().unwrap()], dir.path());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(std::fs::read(agg.join("README.md")).unwrap(), before);
    let o = repro(&["reproduce", study, "--seeds", "9..=1", "--out", out.to_str().unwrap()], dir.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("accepted are lists and ranges"), "{}", stderr(&o));
}
