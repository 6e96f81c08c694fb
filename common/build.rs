//! Records the locked versions of the key dependencies for manifest.json.
fn main() {
    let lock = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let text = std::fs::read_to_string(&lock).unwrap_or_default();
    let wanted =
        ["ndarray", "faer", "polars", "plotters", "rayon", "cudarc", "serde_json", "rand_chacha", "matrixmultiply"];
    let mut found = vec![];
    let mut name = String::new();
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = n.trim_matches('"').to_string();
        } else if let Some(v) = line.strip_prefix("version = ")
            && wanted.contains(&name.as_str())
        {
            found.push(format!("{}={}", name, v.trim_matches('"')));
        }
    }
    println!("cargo:rustc-env=REPRO_DEP_VERSIONS={}", found.join(","));
}
