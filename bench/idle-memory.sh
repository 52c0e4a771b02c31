#!/usr/bin/env bash
#! bench/idle-memory.sh: memory of an idle session container, per image.
#!
#! For each image, starts N containers (default 3) as Berth's agent would (a random
#! 32-character BERTH_SESSION_SECRET, the image's registered cores and memory as
#! --cpus/--memory with no swap beyond it, --shm-size 256m, --pids-limit 4096,
#! --cap-drop ALL, no-new-privileges; nothing published, nobody connected), waits
#! until they are idle (default 15 s), then reads for each container:
#!   - docker stats' memory usage (the cgroup's usage minus its inactive file cache);
#!   - the sum of its processes' RSS (`docker top`; shared pages counted once per
#!     process, so an overestimate) and, when /proc/<pid>/smaps_rollup is readable
#!     (root), the sum of their PSS (shared pages divided among the processes that
#!     map them, the other containers' too: with more containers it falls);
#!   - its processes.
#! and prints a Markdown table with the mean (and range) per image. The containers of
#! an image are removed before the next image starts, and always at exit (trap,
#! also on errors and Ctrl-C; they carry the label berth.bench=idle-memory).
#!
#! Run from anywhere, with Docker reachable and the images built (images/build.sh):
#!
#!     bench/idle-memory.sh                       # berth/desktop, desktop-deluxe, firefox :latest
#!     bench/idle-memory.sh -n 5 -w 20 berth/desktop:latest
#!     bench/idle-memory.sh berth/desktop:websockify berth/desktop:latest   # before/after
#!
#! Options: -n N containers per image (1-20), -w SECONDS of idle wait (5-300).
#! Images tagged :websockify (the session images before Berth spoke RFB itself) take the
#! same environment (they listen on 6901 instead of 5901, which does not matter here).
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '/^set -euo/d' -e 's/^#! \{0,1\}//'
  exit "${1:-0}"
}

runs=3
wait_s=15
while getopts 'n:w:h' opt; do
  case "$opt" in
    n) runs="$OPTARG" ;;
    w) wait_s="$OPTARG" ;;
    h) usage 0 ;;
    *) usage 2 >&2 ;;
  esac
done
shift $((OPTIND - 1))
[[ $runs =~ ^[0-9]+$ ]] && ((runs >= 1 && runs <= 20)) || { echo "idle-memory: -n must be 1-20" >&2; exit 2; }
[[ $wait_s =~ ^[0-9]+$ ]] && ((wait_s >= 5 && wait_s <= 300)) || { echo "idle-memory: -w must be 5-300" >&2; exit 2; }
(($#)) || set -- berth/desktop:latest berth/desktop-deluxe:latest berth/firefox:latest

readonly label="berth.bench=idle-memory"
docker info >/dev/null 2>&1 || { echo "idle-memory: docker daemon not reachable" >&2; exit 1; }
for image in "$@"; do
  docker image inspect "$image" >/dev/null 2>&1 || { echo "idle-memory: image $image not found" >&2; exit 1; }
done

containers=()
cleanup() {
  ((${#containers[@]})) && docker rm -f "${containers[@]}" >/dev/null 2>&1 || true
  containers=()
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { printf 'idle-memory: %s\n' "$*" >&2; }

# The limits the default images register (server/src/manager/images.rs); 1 core and
# 2 GiB for any other image.
limits() {
  case "$1" in
    berth/desktop-deluxe:*) echo "2 4g" ;;
    *) echo "1 2g" ;;
  esac
}

# "37.5MiB / 2GiB" -> 37.5 (MiB).
to_mib() {
  awk -v v="${1%% *}" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    f["B"] = 1 / 1048576; f["KiB"] = 1 / 1024; f["kB"] = 1000 / 1048576; f["MiB"] = 1
    f["MB"] = 1e6 / 1048576; f["GiB"] = 1024; f["GB"] = 1e9 / 1048576
    printf "%.1f", n * (u in f ? f[u] : 0)
  }'
}

# mean, min and max of the arguments, "m (a–b)" or "m" when all are equal.
stats() {
  printf '%s\n' "$@" | awk '{ s += $1; if (NR == 1 || $1 < lo) lo = $1; if (NR == 1 || $1 > hi) hi = $1 }
    END { if (lo == hi) printf "%.1f MiB", s / NR; else printf "%.1f MiB (%.1f–%.1f)", s / NR, lo, hi }'
}

rows=()
for image in "$@"; do
  read -r cpus mem < <(limits "$image")
  log "$image: starting $runs containers (--cpus $cpus --memory $mem)"
  for ((i = 0; i < runs; i++)); do
    secret="$(head -c 24 /dev/urandom | base64 | tr '+/' '-_')"
    containers+=("$(docker run -d --label "$label" \
      -e BERTH_SESSION_SECRET="$secret" \
      --cpus "$cpus" --memory "$mem" --memory-swap "$mem" --shm-size 256m \
      --pids-limit 4096 --cap-drop ALL --security-opt no-new-privileges "$image")")
  done
  log "$image: waiting ${wait_s}s for the sessions to settle"
  sleep "$wait_s"

  usage_mib=() rss_mib=() pss_mib=() nprocs=() names=""
  for c in "${containers[@]}"; do
    state="$(docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$c")"
    [[ $state == running* ]] || { log "$image: container ${c:0:12} is not running ($state):"; docker logs --tail 5 "$c" >&2; exit 1; }
    usage_mib+=("$(to_mib "$(docker stats --no-stream --format '{{.MemUsage}}' "$c")")")
    rss_kib=0 pss_kib=0 pss_ok=1 n=0
    while read -r pid rss comm; do
      n=$((n + 1))
      rss_kib=$((rss_kib + rss))
      pss="$(awk '/^Pss:/ { print $2 }' "/proc/$pid/smaps_rollup" 2>/dev/null || true)"
      if [[ -n $pss ]]; then pss_kib=$((pss_kib + pss)); else pss_ok=0; fi
      names+="$comm"$'\n'
    done < <(docker top "$c" -o pid,rss,comm | tail -n +2)
    rss_mib+=("$(awk -v k="$rss_kib" 'BEGIN { printf "%.1f", k / 1024 }')")
    ((pss_ok)) && pss_mib+=("$(awk -v k="$pss_kib" 'BEGIN { printf "%.1f", k / 1024 }')")
    nprocs+=("$n")
  done
  # Process names over all containers of the image, with their count per container.
  procs="$(sort <<<"${names%$'\n'}" | uniq -c | awk -v r="$runs" '{
      n = $1 / r; $1 = ""; sub(/^ /, "")
      printf "%s%s%s", (NR > 1 ? ", " : ""), $0, (n == 1 ? "" : sprintf(" ×%g", n)) }')"
  pss_col="—"
  ((${#pss_mib[@]} == runs)) && pss_col="$(stats "${pss_mib[@]}")"
  rows+=("| \`$image\` | $(stats "${usage_mib[@]}") | $(stats "${rss_mib[@]}") | $pss_col | $(printf '%s\n' "${nprocs[@]}" | sort -un | paste -sd/): $procs |")
  cleanup
done

echo
echo "memory per idle session ($runs containers per image, each read ${wait_s}s after the start, nobody connected)"
echo "| image | container memory (docker stats), mean (min–max) | RSS sum | PSS sum | processes |"
echo "|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
