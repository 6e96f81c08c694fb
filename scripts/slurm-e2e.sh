#!/usr/bin/env bash
# `repro slurm` end to end on a real (single-node) Slurm cluster: for each of two studies, one job
# array of 3 shards x 2 seeds of the quick profile and a merge job that waits on it (afterok). Each
# seed's merged report must equal the unsharded run at that seed, and the aggregated report the
# unsharded `--seeds` run: claims, results and tables, byte for byte.
# Starts the cluster with scripts/slurm-local.sh (root; installs the Debian packages if missing).
# REPRO_BIN (default target/release/repro), SLURM_E2E_STUDIES and SLURM_E2E_SEEDS override.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${REPRO_BIN:-target/release/repro}")
[ -x "$bin" ] || { echo "slurm-e2e.sh: $bin missing: build it first (cargo build --release -p repro)" >&2; exit 2; }
scripts/slurm-local.sh
work=$(mktemp -d /tmp/repro-slurm.XXXXXX)
studies=${SLURM_E2E_STUDIES:-"bilevel-unbounded-smooth-borep deep-linear-dynamics"}
seeds=${SLURM_E2E_SEEDS:-"20240601 7"}
t0=$SECONDS

runs=()
seeds_csv=$(echo $seeds | tr ' ' ',')
for st in $studies; do
    w="$work/$st"
    "$bin" slurm "$st" --profile quick --seeds "$seeds_csv" --shards 3 --cpus 1 --plan-limit 30 \
        --work "$w/work" --out "$w/merged" --dir "$w/scripts" >/dev/null
    ids=$(bash "$w/scripts/$st/submit.sh")
    echo "submitted $st (3 shards x seeds $seeds_csv): array and merge jobs $ids"
    runs+=("$st $ids")
done

job_state() { scontrol show job "$1" -o 2>/dev/null | grep -o 'JobState=[A-Z_]*' | head -n 1 | cut -d= -f2; }
show_logs() {
    for f in "$work"/*/work/logs/*; do echo "--- $f"; tail -n 20 "$f"; done >&2
}
for r in "${runs[@]}"; do
    read -r st array merge <<<"$r"
    while :; do
        state=$(job_state "$merge")
        reason=$(scontrol show job "$merge" -o 2>/dev/null | grep -o 'Reason=[A-Za-z_]*' | cut -d= -f2 || true)
        case "$state" in
            COMPLETED) break ;;
            PENDING | RUNNING | CONFIGURING | COMPLETING)
                if [ "$reason" = DependencyNeverSatisfied ]; then
                    echo "slurm-e2e.sh: a shard of $st failed; the merge never ran" >&2
                    show_logs
                    exit 1
                fi
                ;;
            *)
                echo "slurm-e2e.sh: merge job $merge of $st ended $state" >&2
                show_logs
                exit 1
                ;;
        esac
        if [ $((SECONDS - t0)) -gt 1200 ]; then
            echo "slurm-e2e.sh: timed out waiting for $st" >&2
            show_logs
            exit 1
        fi
        sleep 2
    done
    echo "merged $st (array job $array done, merge job $merge done) after $((SECONDS - t0)) s"
done

fail=0
same() { # same <whole report> <merged report> <what>
    for f in claims.json $(cd "$1" && ls results.json tables/*.csv 2>/dev/null); do
        if ! cmp -s "$1/$f" "$2/$f"; then
            echo "slurm-e2e.sh: $3: $f of the merged report differs from the unsharded run's" >&2
            fail=1
        fi
    done
}
for r in "${runs[@]}"; do
    read -r st _ _ <<<"$r"
    w="$work/$st"
    "$bin" reproduce "$st" --profile quick --seeds "$seeds_csv" --no-cache --out "$w/whole" 2>/dev/null || true
    for seed in $seeds; do
        same "$w/whole/seeds/$seed/$st" "$w/merged/seeds/$seed/$st" "$st seed $seed"
        cached=$(grep -o '"cells_cached": [0-9]*' "$w/merged/seeds/$seed/$st/manifest.json" | grep -o '[0-9]*$')
        echo "$st seed $seed: merged report equals the unsharded run ($cached cells from the shards)"
    done
    same "$w/whole/$st" "$w/merged/$st" "$st, seeds $seeds_csv aggregated"
    echo "$st: the aggregate over seeds $seeds_csv equals the unsharded --seeds run"
done
[ "$fail" = 0 ] || exit 1
echo "slurm-e2e.sh: passed in $((SECONDS - t0)) s ($work)"
