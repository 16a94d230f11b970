#!/usr/bin/env bash
# The scale-out bench (bench/cluster.ts) on a throwaway PostgreSQL and Redis, found, started and
# stopped exactly as for the cluster tests (scripts/test-cluster.sh):
#   npm run bench:cluster
#   BENCH_RATE=60 BENCH_SECONDS=20 BENCH_CONVERSATIONS=100 npm run bench:cluster
set -euo pipefail
cd "$(dirname "$0")/.."
exec bash scripts/test-cluster.sh --exec npx tsx bench/cluster.ts "$@"
