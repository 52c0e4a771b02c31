#!/usr/bin/env bash
# Build the Berth session images.
#
#   images/build.sh [--force] [--no-cache] [NAME...|--all]
#
# NAME is one of: desktop desktop-deluxe firefox (default: --all).
# Parents are built first (desktop before desktop-deluxe). An image whose
# build context (images/common + images/NAME) and parent image are unchanged
# is skipped: the hash is stored in the image label "berth.context-hash".
#
# Environment:
#   BERTH_DEBIAN_BASE    Debian base image to build on (default: debian:bookworm-slim
#                        if present locally, else berth/debian-base:bookworm,
#                        created offline with debootstrap when missing)
#   BERTH_DEBIAN_MIRROR  Debian mirror for debootstrap (default: the one in
#                        this machine's /etc/apt/sources.list(.d))
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
readonly here
readonly all_images=(desktop desktop-deluxe firefox)
readonly label=berth.context-hash
readonly debootstrap_tag=berth/debian-base:bookworm

# Parent of each image; "@debian" stands for the Debian base image.
parent_of() {
  case "$1" in
    desktop | firefox) echo "@debian" ;;
    desktop-deluxe) echo desktop ;;
    *) return 1 ;;
  esac
}

log() {
  if [[ -t 2 ]]; then printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; else printf '==> %s\n' "$*" >&2; fi
}
die() { printf 'build.sh: %s\n' "$*" >&2; exit 1; }

usage() {
  sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

# The legacy builder is used when the buildx plugin is missing (Debian's docker.io).
if ! docker buildx version >/dev/null 2>&1; then
  export DOCKER_BUILDKIT=0
fi

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }
image_id() { docker image inspect -f '{{.Id}}' "$1"; }

# First Debian mirror URI configured on this machine matching $1 (debian|debian-security).
host_mirror() {
  local want="$1" files=() f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] && files+=("$f")
  done
  ((${#files[@]})) || return 0
  # deb822 "URIs:" lines and one-line "deb URI suite ..." entries.
  awk -v want="$want" '
    /^[[:space:]]*#/ { next }
    $1 == "URIs:" || $1 == "deb" {
      for (i = 2; i <= NF; i++) {
        u = $i; sub(/\/$/, "", u)
        if (u ~ "^https?://" && u ~ ("/" want "$")) { print u; exit }
      }
    }' "${files[@]}"
}

# Create berth/debian-base:bookworm from debootstrap (offline from any image registry).
build_debootstrap_base() {
  local mirror security rootfs
  mirror="${BERTH_DEBIAN_MIRROR:-$(host_mirror debian)}"
  mirror="${mirror:-http://deb.debian.org/debian}"
  security="$(host_mirror debian-security)"
  security="${security:-http://deb.debian.org/debian-security}"
  command -v debootstrap >/dev/null || die "debootstrap is not installed"
  [[ $(id -u) == 0 ]] || die "debootstrap needs root"

  rootfs="$(mktemp -d /var/tmp/berth-rootfs.XXXXXX)"
  # Clean up the (root-owned) rootfs whatever happens.
  trap 'rm -rf --one-file-system "$rootfs"' EXIT

  log "debootstrap --variant=minbase bookworm from $mirror (takes a few minutes)"
  local t0=$SECONDS
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror"

  # Same slimming as the official debian:*-slim images, plus apt sources.
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
# Keep images small: no docs, man pages or info (copyright files are kept).
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
EOF
  cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  echo 'Acquire::GzipIndexes "true"; Acquire::CompressionTypes::Order:: "gz";' \
    >"$rootfs/etc/apt/apt.conf.d/docker-gzip-indexes"
  rm -f "$rootfs/etc/apt/sources.list"
  cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  # Host-specific or bulky leftovers.
  find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  rm -rf "$rootfs"/usr/share/{man,info,groff,lintian,linda}/* \
    "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin \
    "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/log/* "$rootfs"/tmp/*
  : >"$rootfs/etc/resolv.conf"
  : >"$rootfs/etc/hostname"

  log "docker import -> $debootstrap_tag"
  tar -C "$rootfs" --numeric-owner -c . |
    docker import \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'CMD ["bash"]' \
      --message "debootstrap --variant=minbase bookworm $mirror" \
      - "$debootstrap_tag" >/dev/null
  rm -rf --one-file-system "$rootfs"
  trap - EXIT
  log "base image $debootstrap_tag ready in $((SECONDS - t0))s"
}

# Set debian_base to the Debian base image reference, creating it if needed.
ensure_debian_base() {
  if [[ -n ${BERTH_DEBIAN_BASE:-} ]]; then
    image_exists "$BERTH_DEBIAN_BASE" || die "BERTH_DEBIAN_BASE=$BERTH_DEBIAN_BASE not found locally"
    debian_base="$BERTH_DEBIAN_BASE"
  elif image_exists debian:bookworm-slim; then
    debian_base=debian:bookworm-slim
  else
    image_exists "$debootstrap_tag" || build_debootstrap_base
    debian_base="$debootstrap_tag"
  fi
}

# Hash of the build context directory $1 (paths, modes, contents) plus extra strings.
context_hash() {
  local dir="$1"
  shift
  {
    printf '%s\n' "$@"
    (cd "$dir" && find . \( -type f -o -type l \) -printf '%m %p %l\n' | LC_ALL=C sort)
    (cd "$dir" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
  } | sha256sum | cut -c1-32
}

force=0
no_cache=()
wanted=()
while (($#)); do
  case "$1" in
    --all) wanted+=("${all_images[@]}") ;;
    --force) force=1 ;;
    --no-cache) no_cache=(--no-cache) ;;
    -h | --help) usage 0 ;;
    -*) usage 2 >&2 ;;
    *) parent_of "$1" >/dev/null || die "unknown image '$1' (known: ${all_images[*]})"
       wanted+=("$1") ;;
  esac
  shift
done
((${#wanted[@]})) || wanted=("${all_images[@]}")

# Expand with parents and order by dependency (all_images is already ordered).
declare -A need=()
for name in "${wanted[@]}"; do
  while [[ $name != "@debian" ]]; do
    need[$name]=1
    name="$(parent_of "$name")"
  done
done
plan=()
for name in "${all_images[@]}"; do
  [[ -n ${need[$name]:-} ]] && plan+=("$name")
done

docker info >/dev/null 2>&1 || die "docker daemon not reachable"

log "[base] checking Debian base image"
ensure_debian_base
log "[base] using $debian_base ($(image_id "$debian_base" | cut -c8-19))"

ctx_root="$(mktemp -d /tmp/berth-ctx.XXXXXX)"
trap 'rm -rf "$ctx_root"' EXIT

total_t0=$SECONDS
step=0
for name in "${plan[@]}"; do
  step=$((step + 1))
  tag="berth/$name:latest"
  parent="$(parent_of "$name")"
  if [[ $parent == "@debian" ]]; then parent_ref="$debian_base"; else parent_ref="berth/$parent:latest"; fi
  parent_id="$(image_id "$parent_ref")"

  # Build context = images/common + images/NAME (Dockerfile at its root).
  ctx="$ctx_root/$name"
  mkdir -p "$ctx"
  cp -a "$here/common" "$ctx/common"
  cp -a "$here/$name/." "$ctx/"
  hash="$(context_hash "$ctx" "base=$parent_ref" "parent=$parent_id")"

  current=""
  image_exists "$tag" && current="$(docker image inspect -f "{{index .Config.Labels \"$label\"}}" "$tag")"
  if ((!force)) && [[ $current == "$hash" ]]; then
    log "[$step/${#plan[@]}] $tag is up to date ($label=$hash), skipped"
    continue
  fi

  log "[$step/${#plan[@]}] building $tag FROM $parent_ref ($label=$hash)"
  t0=$SECONDS
  docker build "${no_cache[@]}" \
    --build-arg "BASE=$parent_ref" \
    --label "$label=$hash" \
    -t "$tag" "$ctx"
  size="$(docker image inspect -f '{{.Size}}' "$tag")"
  log "[$step/${#plan[@]}] $tag built in $((SECONDS - t0))s, $((size / 1000000)) MB"
done
log "done in $((SECONDS - total_t0))s: ${plan[*]/#/berth/}"
