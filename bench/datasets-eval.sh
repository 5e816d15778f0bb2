#!/bin/bash
# popo eval over every row of every file in ../shared/datasets, one model, timed per file (issue 9's full run;
# test/cli/datasets-eval.test.ts runs a CI-sized cut). Needs `npm run build`. Prints one line per file: name,
# rows, seconds, exit code, and the eval's JSON (examples scored, overlong rows).
#   bash bench/datasets-eval.sh --builtin tiny-1m --overlong truncate_left
#   bash bench/datasets-eval.sh --model <hf-dir> --prompt-template chat
set -u -o pipefail
cd "$(dirname "$0")/.."
echo "start $(date -u +%FT%TZ) load $(cut -d' ' -f1 /proc/loadavg); model args: $*"
total0=$(date +%s%3N)
for f in ../shared/datasets/*.jsonl; do
  rows=$(grep -c . "$f")
  t0=$(date +%s%3N)
  out=$(node dist/src/cli/main.js eval "$@" --data "$f" --max-new-tokens 32 2>/dev/null | tail -1)
  rc=$?
  t1=$(date +%s%3N)
  printf '%s\t%s rows\t%d.%01d s\trc %s\t%s\n' "$(basename "$f")" "$rows" $(((t1 - t0) / 1000)) $(((t1 - t0) % 1000 / 100)) "$rc" "$out"
done
total1=$(date +%s%3N)
printf 'total %d.%01d s, end %s load %s\n' $(((total1 - total0) / 1000)) $(((total1 - total0) % 1000 / 100)) "$(date -u +%FT%TZ)" "$(cut -d' ' -f1 /proc/loadavg)"
