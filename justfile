# `just` wrappers around the cargo commands (install: `pip install rust-just` or `cargo install just`).

# Reproduce one or more studies: just reproduce deep-linear-dynamics --profile full
reproduce +args:
    cargo run --release -q -p repro -- reproduce {{args}}

# Every study's quick profile.
reproduce-all profile="quick":
    cargo run --release -q -p repro -- reproduce all --profile {{profile}}

# The test suite (the README's test command).
test:
    cargo test --release --workspace

# Re-read every claims.json; exit 1 if a gated claim failed.
# The property tests at n fresh random proptest seeds (CI pins one seed; this explores): just proptest-sweep 10
proptest-sweep n="10":
    #!/usr/bin/env bash
    set -euo pipefail
    for i in $(seq {{n}}); do
      seed=$(od -An -N8 -tu8 /dev/urandom | tr -d ' ')
      echo "PROPTEST_RNG_SEED=$seed"
      PROPTEST_RNG_SEED=$seed cargo test --release --workspace --lib -q 2>&1 | grep -E "panicked at|minimal failing" || true
    done

check *args:
    cargo run --release -q -p repro -- check {{args}}

# Criterion benches (HVP, GEMM, ...).
bench:
    cargo bench -p common

# The digits HVP in Rust and in JAX (CPU) side by side, alternated; prints the ratio.
compare-jax rounds="3":
    common/benches/compare/run.sh {{rounds}}

# Rewrite reports/README.md from the study folders.
report:
    cargo run --release -q -p repro -- index

# Slurm scripts for a study's full profile: a job array of n shards and a merge job after it (slurm/<study>/submit.sh).
slurm study n="8":
    cargo run --release -q -p repro -- slurm {{study}} --profile full --shards {{n}}

# The GPU check (parity tests + benchmarks) on a machine with CUDA.
gpu-check:
    scripts/gpu-check.sh

# Re-render reports from their saved results.json (no re-run): just render all
render +studies:
    cargo run --release -q -p repro -- render {{studies}}

# Start a new study from studies/_template (registered in the CLI): just new sam-sharpness
new slug:
    cargo run --release -q -p repro -- new {{slug}}

# Rewrite the claims tables of the study READMEs from the declarations.
readme:
    cargo run --release -q -p repro -- readme
