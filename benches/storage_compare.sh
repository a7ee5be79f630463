#!/usr/bin/env bash
# storage-bench beside Optuna's RDB storage, alternating, in one run: knob on PostgreSQL,
# Optuna on the same PostgreSQL, and knob's journal, for 1 and 4 processes, ROUNDS times.
# Prints storage-bench's JSON lines (one per run).
#
#   bash benches/storage_compare.sh postgres://postgres:postgres@127.0.0.1/knob_bench [ROUNDS] [TRIALS]
#
# Needs `cargo build --release -p knob-benches --features postgres --bin storage-bench`
# and a Python with `optuna psycopg2-binary` as $PYTHON (default: python3).
set -euo pipefail
URL=${1:?a PostgreSQL URL}
ROUNDS=${2:-5}
TRIALS=${3:-400}
PYTHON=${PYTHON:-python3}
HERE=$(cd "$(dirname "$0")" && pwd)
BENCH="$HERE/../target/release/storage-bench"
JOURNAL_DIR=$(mktemp -d)
trap 'rm -rf "$JOURNAL_DIR"' EXIT
for round in $(seq "$ROUNDS"); do
  for procs in 1 4; do
    "$BENCH" --storage "$URL" --procs "$procs" --trials "$TRIALS"
    "$PYTHON" "$HERE/optuna_storage_peer.py" --storage "$URL" --procs "$procs" --trials "$TRIALS"
    "$BENCH" --storage "$JOURNAL_DIR/r$round-p$procs.jsonl" --procs "$procs" --trials "$TRIALS"
  done
done
