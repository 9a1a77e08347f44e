#!/usr/bin/env bash
# Idle-machine benchmarks of issue 22 (docs/performance.md, docs/deployment.md).
# Run with nothing else on the machine:  nohup bash experiments/idle_bench.sh > idle_bench.log 2>&1 &
# Each step prints `uptime` before and after, so the log shows the load the numbers saw.
set -euo pipefail
KS=${KS:-kaq-sionna}
step() { echo; echo "=== $* ==="; uptime; local t0=$SECONDS; "$@"; echo "--- $((SECONDS - t0)) s"; uptime; }

# Link throughput and detector latency (the main tables).
step $KS bench link --batch-size 128 --repeats 3 --json results/bench/link.json
step $KS bench detectors --repeats 10 --json results/bench/detectors.json
# int8 after the restructuring (deployment.md section 6.3).
step $KS bench detectors --threads 1 --batch-sizes 16,8192 --repeats 5 \
    --models mmse-sic,eqnet-l/estimation/litert-int8,eqnet-l/quantization/litert-int8,pgdnet-kaq4/litert-int8,pgdnet-qatmse4/litert-int8,pgdnet-kaq4/litert-int8/network,admmnet-kaq4/litert-int8,admmnet-qatmse4/litert-int8,admmnet-kaq4/litert-int8/network \
    --json results/bench/detectors-int8-4x4.json
step $KS bench detectors --system 16x16-16qam --threads 1 --batch-sizes 16,8192 --repeats 5 \
    --models pgdnet-kaq4/litert-int8,pgdnet-qatmse4/litert-int8,pgdnet-kaq4/litert-int8/network,admmnet-kaq4/litert-int8,admmnet-qatmse4/litert-int8,admmnet-kaq4/litert-int8/network \
    --json results/bench/detectors-int8-16x16.json
# Where the quickstart's time goes, with its current detectors.
step $KS bench link scenarios/quickstart.toml --profile --json results/bench/profile-quickstart.json

# Quickstart wall time: graph mode (the old default) against the new defaults, the boxplus
# decoder, and a local Dask cluster of 2 workers. Variants are written to a temporary folder.
tmp=$(mktemp -d)
sed 's/^mode = "auto".*/mode = "graph"/' scenarios/quickstart.toml > "$tmp/quickstart_graph.toml"
sed 's/^channel = "rayleigh"/channel = "rayleigh"\ndecoder = "boxplus"/' scenarios/quickstart.toml > "$tmp/quickstart_boxplus.toml"
step $KS run "$tmp/quickstart_graph.toml" --out "$tmp/graph"
step $KS run scenarios/quickstart.toml --out results/quickstart --restart
step $KS run "$tmp/quickstart_boxplus.toml" --out "$tmp/boxplus"
step $KS run scenarios/quickstart.toml --out "$tmp/workers2" --workers 2
python experiments/same_counts.py "$tmp/graph/results.json" results/quickstart/results.json || true
python experiments/same_counts.py results/quickstart/results.json "$tmp/workers2/results.json" || true
cp "$tmp"/graph/results.json results/bench/quickstart-graph-results.json
cp "$tmp"/boxplus/results.json results/bench/quickstart-boxplus-results.json
echo "done"
