//! No input crashes the CLI: every key of every registered study, set to hostile values (0, −1,
//! 10⁹, NaN, an empty list, a wrong type), is either refused before anything runs (exit 2, one
//! line) or accepted, with `--dry-run` printing the estimate. Never a panic (101), an abort (134) or
//! an out-of-memory kill (137). Then a sample of the accepted hostile values runs for real, to
//! show that validation and the estimate agree with what the run does.
use std::path::Path;
use std::process::{Command, Output};

fn repro(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_repro")).args(args).current_dir(cwd).output().expect("repro runs")
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

const HOSTILE: &[&str] = &["0", "-1", "1000000000", "NaN", "[]", "lots", "1e308"];

#[test]
fn every_key_of_every_study_refuses_or_accepts_hostile_values_without_crashing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("reports");
    let out = out.to_str().unwrap();
    let mut accepted: Vec<(String, String, String)> = vec![];
    let mut tried = 0;
    for s in repro::registry::all() {
        let cfg = s.config_json(common::Profile::Quick);
        for key in common::study::overrides::keys(&cfg) {
            for v in HOSTILE {
                let set = format!("{key}={v}");
                let o = repro(&["reproduce", s.slug(), "--dry-run", "--set", &set, "--out", out], dir.path());
                tried += 1;
                match o.status.code() {
                    Some(0) => accepted.push((s.slug().to_string(), key.clone(), v.to_string())),
                    Some(2) => {
                        let e = err(&o);
                        assert_eq!(e.trim().lines().count(), 1, "{} --set {set}: one line, got {e}", s.slug());
                        assert!(!e.contains("panicked"), "{} --set {set}: {e}", s.slug());
                    }
                    c => panic!("{} --set {set}: exit {c:?} (never a crash): {}", s.slug(), err(&o)),
                }
            }
        }
    }
    assert!(!Path::new(out).exists(), "a dry run wrote reports");
    eprintln!("{tried} hostile settings, {} accepted", accepted.len());

    // Accepted hostile values that shrink the work (0, -1, empty), one per study, run for real:
    // they must finish (exit 0, or 1 when a claim fails at that setting), never crash.
    let mut done = std::collections::BTreeSet::new();
    for (slug, key, v) in accepted.iter().filter(|(_, _, v)| ["0", "-1", "[]"].contains(&v.as_str())) {
        if !done.insert(slug.clone()) {
            continue;
        }
        let set = format!("{key}={v}");
        let o = repro(&["reproduce", slug, "--set", &set, "--out", out, "--no-cache", "--jobs", "2"], dir.path());
        let code = o.status.code();
        assert!(matches!(code, Some(0) | Some(1)), "{slug} --set {set}: exit {code:?}: {}", err(&o));
        assert!(!err(&o).contains("panicked"), "{slug} --set {set}: {}", err(&o));
        // Exit 1 only for a claim that fails at this setting, not for a run that stopped on an error.
        assert!(!err(&o).contains("run failed"), "{slug} --set {set}: accepted, then failed: {}", err(&o));
        eprintln!("{slug} --set {set}: ran, exit {code:?}");
    }
}
