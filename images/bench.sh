#!/usr/bin/env bash
# Measures session readiness: `docker run` -> first framebuffer update received
# through port 6901 (check-ready.py), RUNS times per image; prints the median.
#
#   images/bench.sh [-n RUNS] [NAME...]      (default: 5 runs, all images)
#
# Containers run as Berth would start them: published on 127.0.0.1 only, with
# a random secret, --cpus 1 --memory 2g. Each is removed after its run.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
runs=5
if [[ ${1:-} == -n ]]; then runs="$2"; shift 2; fi
(($#)) || set -- desktop desktop-deluxe firefox

cid=""
cleanup() { [[ -z $cid ]] || docker rm -f "$cid" >/dev/null 2>&1 || true; }
trap cleanup EXIT

for name in "$@"; do
  image="berth/$name:latest"
  times=()
  for ((i = 1; i <= runs; i++)); do
    secret="$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')"
    t0="$(date +%s.%N)"
    cid="$(docker run -d -p 127.0.0.1::6901 -e BERTH_SESSION_SECRET="$secret" \
      --cpus 1 --memory 2g "$image")"
    port="$(docker port "$cid" 6901/tcp | head -n1)"
    t="$("$here/check-ready.py" "$port" "$secret" --since "$t0" --timeout 30 -q)"
    times+=("$t")
    docker rm -f "$cid" >/dev/null
    cid=""
  done
  median="$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}')"
  printf '%-16s median %.3f s   runs: %s\n' "$name" "$median" "${times[*]}"
done
