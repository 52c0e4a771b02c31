# shellcheck shell=bash
# Shared set-up helpers for scripts/run and scripts/test.
#
# Sourced (never executed) by scripts that use `set -euo pipefail`. Every
# berth_ensure_* function is idempotent: it checks first and only does work
# that is missing, and it re-uses local services that are already running.
#
# Local state (database cluster, redis dir, logs) lives in $BERTH_ROOT/.berth,
# which is git-ignored.

BERTH_ROOT="$(CDPATH='' cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)"
BERTH_STATE="$BERTH_ROOT/.berth"
export BERTH_ROOT BERTH_STATE

# Debian packages needed to build, run and test Berth.
BERTH_PACKAGES=(
  postgresql redis-server docker.io debootstrap chromium chromium-driver
  pkg-config ca-certificates curl gcc libc6-dev procps python3-venv
  iptables iproute2
)

# Rustup installs cargo here; non-login shells (CI) may not have it on PATH.
if [[ -d "${CARGO_HOME:-$HOME/.cargo}/bin" && ":$PATH:" != *":${CARGO_HOME:-$HOME/.cargo}/bin:"* ]]; then
  PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
  export PATH
fi

# CI builds once from scratch: incremental compilation only costs disk there.
if [[ ${CI:-} == true ]]; then
  export CARGO_INCREMENTAL=0
fi

berth_log() { printf '==> %s\n' "$*"; }
berth_err() { printf 'error: %s\n' "$*" >&2; }

# berth_mask_url URL: URL with its password replaced by ****, for messages.
berth_mask_url() { sed -E 's#^([a-z]+://[^:/@]*:)[^@]*@#\1****@#' <<<"$1"; }

# berth_secret FILE: print the secret kept in FILE (36 hex digits), generated on first use and
# readable by its owner only; later runs reuse it.
berth_secret() {
  local file=$1
  if [[ ! -s $file ]]; then
    mkdir -p "$(dirname "$file")"
    (umask 077 && head -c 18 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$file")
  fi
  chmod 600 "$file"
  cat "$file"
}

# Run a command as root (directly if we already are root).
berth_sudo() {
  if [[ $EUID -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    berth_err "need root for: $*  (run as root or install sudo)"
    return 1
  fi
}

# Run a command as the `postgres` system user (PostgreSQL refuses root).
berth_as_postgres() {
  if [[ $EUID -eq 0 ]]; then
    runuser -u postgres -- "$@"
  else
    sudo -u postgres -- "$@"
  fi
}

# ---------------------------------------------------------------------------
# 1. Debian packages + cargo
# ---------------------------------------------------------------------------
berth_ensure_packages() {
  local pkg missing=()
  for pkg in "${BERTH_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$pkg")
    fi
  done

  if ((${#missing[@]} == 0)); then
    berth_log "packages: all ${#BERTH_PACKAGES[@]} Debian packages installed"
  else
    berth_log "packages: installing ${missing[*]}"
    # Lock timeout: wait for another apt/dpkg run instead of failing at once.
    berth_sudo apt-get -o DPkg::Lock::Timeout=600 update
    berth_sudo env DEBIAN_FRONTEND=noninteractive \
      apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}"
  fi

  if ! command -v cargo >/dev/null 2>&1; then
    berth_err "cargo not found. Install the Rust toolchain with rustup, then re-run:"
    berth_err "  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y"
    berth_err "  . \"\$HOME/.cargo/env\""
    return 1
  fi
  berth_log "cargo: $(cargo --version)"
}

# ---------------------------------------------------------------------------
# 2. wasm32 target + wasm-bindgen CLI matching Cargo.lock
# ---------------------------------------------------------------------------

# Print the wasm-bindgen version pinned in Cargo.lock.
berth_wasm_bindgen_version() {
  local lock="$BERTH_ROOT/Cargo.lock"
  if [[ ! -f $lock ]]; then
    (cd "$BERTH_ROOT" && cargo generate-lockfile) >&2
  fi
  awk '
    /^\[\[package\]\]/        { in_pkg = 0 }
    /^name = "wasm-bindgen"$/ { in_pkg = 1 }
    in_pkg && /^version = /   { gsub(/"/, "", $3); print $3; exit }
  ' "$lock"
}

berth_ensure_rust_tools() {
  local target=wasm32-unknown-unknown want have
  if command -v rustup >/dev/null 2>&1; then
    # Run from the repo so a rust-toolchain file (if any) is honoured.
    if (cd "$BERTH_ROOT" && rustup target list --installed) | grep -qx "$target"; then
      berth_log "rust: target $target installed"
    else
      berth_log "rust: adding target $target"
      (cd "$BERTH_ROOT" && rustup target add "$target")
    fi
  elif [[ -d "$(rustc --print sysroot)/lib/rustlib/$target" ]]; then
    berth_log "rust: target $target present (no rustup)"
  else
    berth_err "Rust target $target missing and rustup not available; install Rust via rustup"
    return 1
  fi

  want="$(berth_wasm_bindgen_version)"
  if [[ -z $want ]]; then
    berth_err "could not find the wasm-bindgen version in Cargo.lock"
    return 1
  fi
  have="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)"
  if [[ $have == "$want" ]]; then
    berth_log "rust: wasm-bindgen $want installed"
  else
    berth_log "rust: installing wasm-bindgen-cli $want (found: ${have:-none})"
    cargo install wasm-bindgen-cli --version "$want"
  fi
}

# ---------------------------------------------------------------------------
# 3. PostgreSQL: private cluster in .berth/postgres (unless DATABASE_URL set)
# ---------------------------------------------------------------------------

# Newest installed PostgreSQL server binaries, e.g. /usr/lib/postgresql/15/bin.
berth_pg_bin() {
  local dir
  dir="$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null | sort -V | tail -n 1)"
  if [[ -z $dir || ! -x $dir/pg_ctl ]]; then
    berth_err "PostgreSQL server binaries not found under /usr/lib/postgresql"
    return 1
  fi
  printf '%s\n' "$dir"
}

# The postgres user must be able to reach the data dir: give every ancestor
# directory that it cannot traverse the o+x bit (search only, no listing).
berth_pg_make_traversable() {
  local dir=$1 dirs=() i
  while [[ $dir != / ]]; do
    dir="$(dirname "$dir")"
    dirs+=("$dir")
  done
  # Outermost first, so only directories that really block get changed.
  for ((i = ${#dirs[@]} - 1; i >= 0; i--)); do
    dir=${dirs[i]}
    if ! berth_as_postgres test -x "$dir"; then
      berth_log "postgres: making $dir traversable (chmod o+x) for the postgres user"
      berth_sudo chmod o+x "$dir"
    fi
  done
}

# berth_pg TOOL ARGS...: run a PostgreSQL server tool as the postgres user,
# from / so it never trips over an unreadable working directory.
berth_pg() {
  (cd / && berth_as_postgres "$BERTH_PG_BIN/$1" "${@:2}")
}

berth_ensure_postgres() {
  if [[ -n ${DATABASE_URL:-} ]]; then
    berth_log "postgres: using DATABASE_URL from the environment"
    # The tests create databases: with BERTH_TEST_DATABASE_URL unset, DATABASE_URL's role must
    # be allowed to.
    export DATABASE_URL BERTH_TEST_DATABASE_URL="${BERTH_TEST_DATABASE_URL:-$DATABASE_URL}"
    return 0
  fi

  local port=${BERTH_PG_PORT:-55432}
  local base="$BERTH_STATE/postgres"
  local data="$base/data" sock="$base/run" log="$base/postgres.log"
  local bin running_port i
  bin="$(berth_pg_bin)"
  export BERTH_PG_BIN="$bin"

  # Unix socket paths are limited to ~107 bytes; fall back to /tmp if needed.
  if ((${#sock} > 80)); then
    sock="/tmp/berth-pg-$(printf '%s' "$BERTH_ROOT" | md5sum | cut -c1-12)"
  fi

  mkdir -p "$BERTH_STATE"
  berth_pg_make_traversable "$base"
  berth_sudo install -d -m 0700 -o postgres -g postgres "$base" "$sock"

  if [[ ! -f $data/PG_VERSION ]]; then
    berth_log "postgres: initialising cluster in $data"
    berth_pg initdb -D "$data" -U postgres -E UTF8 --locale=C.UTF-8 \
      --auth-local=peer --auth-host=scram-sha-256 >"$BERTH_STATE/initdb.log"
    # Our settings live in berth.conf, rewritten before every start.
    printf "\ninclude_if_exists = 'berth.conf'\n" |
      berth_as_postgres tee -a "$data/postgresql.conf" >/dev/null
  fi

  # Already running? Re-use it, unless it listens on a different port.
  if berth_pg pg_ctl -D "$data" status >/dev/null 2>&1; then
    running_port="$(sed -n 4p "$data/postmaster.pid" 2>/dev/null || true)"
    if [[ $running_port == "$port" ]]; then
      berth_log "postgres: cluster already running on 127.0.0.1:$port"
    else
      berth_log "postgres: cluster running on port $running_port, restarting on $port"
      berth_pg pg_ctl -D "$data" -m fast -w stop >/dev/null
    fi
  fi

  if ! berth_pg pg_ctl -D "$data" status >/dev/null 2>&1; then
    if (: <>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      berth_err "port $port is used by another process; set BERTH_PG_PORT to a free port"
      return 1
    fi
    berth_log "postgres: starting cluster on 127.0.0.1:$port (log: $log)"
    berth_as_postgres tee "$data/berth.conf" >/dev/null <<EOF
# Written by scripts/lib.sh on every start.
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$sock'
max_connections = 200
EOF
    if ! berth_pg pg_ctl -D "$data" -l "$log" -w -t 60 start >/dev/null; then
      berth_err "PostgreSQL failed to start; last lines of $log:"
      tail -n 30 "$log" >&2 || true
      return 1
    fi
  fi

  # A cluster found running may still be starting up (or recovering).
  for ((i = 0; i < 30; i++)); do
    "$bin/pg_isready" -q -h "$sock" -p "$port" && break
    sleep 1
  done

  # Two roles, each with the least it needs:
  # - berth, the server's: logs in and owns database berth, nothing more (no superuser, no
  #   CREATEDB or CREATEROLE), with a generated password kept in .berth/postgres-password.
  # - berth_test, the test suite's: #[sqlx::test] creates a throw-away database per test, so it
  #   needs CREATEDB; it owns database berth_test (where sqlx keeps its bookkeeping) and is no
  #   superuser either. Its password is in .berth/postgres-test-password.
  # ALTER ROLE runs every time, which also takes an older install's superuser `berth` (password
  # 'berth') down to this. Hex passwords need no quoting; they reach psql on stdin, not argv.
  local server_password test_password
  server_password="$(berth_secret "$BERTH_STATE/postgres-password")"
  test_password="$(berth_secret "$BERTH_STATE/postgres-test-password")"
  berth_pg psql -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$port" -U postgres -d postgres >/dev/null <<SQL
SELECT 'CREATE ROLE berth' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'berth')\gexec
ALTER ROLE berth WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
  PASSWORD '$server_password';
SELECT 'CREATE ROLE berth_test' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'berth_test')\gexec
ALTER ROLE berth_test WITH LOGIN NOSUPERUSER CREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
  PASSWORD '$test_password';
SELECT 'CREATE DATABASE berth OWNER berth' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'berth')\gexec
SELECT 'CREATE DATABASE berth_test OWNER berth_test' WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'berth_test')\gexec
-- Only the server's role reaches the server's data.
REVOKE CONNECT, TEMPORARY ON DATABASE berth FROM PUBLIC;
-- Throw-away test databases made by an older install's superuser berth (a failed test leaves
-- its own, and sqlx drops it by name before the test runs again): the test role must own them.
SELECT format('ALTER DATABASE %I OWNER TO berth_test', datname) FROM pg_database
 WHERE datname LIKE '\_sqlx\_test\_%' AND pg_get_userbyid(datdba) <> 'berth_test'\gexec
SQL

  # For berth_recreate_database: the cluster's superuser, over the local socket only.
  BERTH_PG_SOCKET=$sock BERTH_PG_LISTEN_PORT=$port
  export DATABASE_URL="postgres://berth:$server_password@127.0.0.1:$port/berth"
  export BERTH_TEST_DATABASE_URL="postgres://berth_test:$test_password@127.0.0.1:$port/berth_test"
  if ! "$bin/psql" -X -qAt "$DATABASE_URL" -c 'select 1' >/dev/null; then
    berth_err "cannot connect to PostgreSQL as berth ($(berth_mask_url "$DATABASE_URL"))"
    return 1
  fi
  berth_log "postgres: ready at $(berth_mask_url "$DATABASE_URL") (tests: role berth_test)"
}

# berth_recreate_database NAME: drops database NAME (ending its connections) and creates it
# empty, owned by the server's role; its URL is DATABASE_URL's with NAME as the database.
berth_recreate_database() {
  local name=$1
  local drop="DROP DATABASE IF EXISTS $name WITH (FORCE)"
  if [[ -n ${BERTH_PG_SOCKET:-} ]]; then
    berth_pg psql -X -q -v ON_ERROR_STOP=1 -h "$BERTH_PG_SOCKET" -p "$BERTH_PG_LISTEN_PORT" \
      -U postgres -d postgres -c 'SET client_min_messages = warning' \
      -c "$drop" -c "CREATE DATABASE $name OWNER berth"
  else
    # DATABASE_URL from the environment: its role must be allowed to create databases.
    PGOPTIONS='-c client_min_messages=warning' psql -X -q -v ON_ERROR_STOP=1 "$DATABASE_URL" \
      -c "$drop" -c "CREATE DATABASE $name"
  fi
}

# ---------------------------------------------------------------------------
# 4. Redis (unless REDIS_URL set)
# ---------------------------------------------------------------------------
berth_ensure_redis() {
  if [[ -n ${REDIS_URL:-} ]]; then
    berth_log "redis: using REDIS_URL from the environment"
    export REDIS_URL
    return 0
  fi

  local port=${BERTH_REDIS_PORT:-56379} i password
  local dir="$BERTH_STATE/redis" log="$BERTH_STATE/redis.log"
  local conf="$BERTH_STATE/redis/redis.conf"
  # A generated password (requirepass), kept in .berth/redis-password and reused.
  password="$(berth_secret "$BERTH_STATE/redis-password")"
  export REDIS_URL="redis://:$password@127.0.0.1:$port"
  mkdir -p "$dir"
  # The settings, password included, in a file only its owner reads: not on a command line,
  # where `ps` would show it. No persistence: sessions and caches only.
  (umask 077 && cat >"$conf" <<EOF)
# Written by scripts/lib.sh on every run.
bind 127.0.0.1
port $port
dir "$dir"
logfile "$log"
pidfile "$dir/redis.pid"
daemonize yes
save ""
appendonly no
requirepass $password
EOF
  chmod 600 "$conf"

  # An older run's Redis without a password: give it this one now (no restart, so whoever uses
  # it keeps going; new connections need the password). Checked first: a Redis without a
  # password answers PONG whatever password a client offers.
  if [[ "$(berth_redis_ping "$port" "")" == PONG ]]; then
    berth_log "redis: the running Redis on port $port has no password; setting it"
    printf 'CONFIG SET requirepass %s\n' "$password" | redis-cli -h 127.0.0.1 -p "$port" >/dev/null
  fi
  if [[ "$(berth_redis_ping "$port" "$password")" == PONG ]]; then
    berth_log "redis: already running at $(berth_mask_url "$REDIS_URL")"
    return 0
  fi
  if (: <>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    berth_err "port $port is used by a Redis (or another process) that does not take the password"
    berth_err "in $BERTH_STATE/redis-password; stop it, or set BERTH_REDIS_PORT to a free port"
    return 1
  fi

  berth_log "redis: starting on 127.0.0.1:$port (log: $log)"
  redis-server "$conf"
  for ((i = 0; i < 50; i++)); do
    if [[ "$(berth_redis_ping "$port" "$password")" == PONG ]]; then
      berth_log "redis: ready at $(berth_mask_url "$REDIS_URL")"
      return 0
    fi
    sleep 0.2
  done
  berth_err "redis did not come up; last lines of $log:"
  tail -n 30 "$log" >&2 || true
  return 1
}

# berth_redis_ping PORT PASSWORD: Redis's answer to PING (PONG, or an error such as NOAUTH).
# The password goes through the environment (REDISCLI_AUTH), not the command line.
berth_redis_ping() {
  local port=$1 password=$2
  if [[ -n $password ]]; then
    REDISCLI_AUTH=$password redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null || true
  else
    env -u REDISCLI_AUTH redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null || true
  fi
}

# ---------------------------------------------------------------------------
# 5. Docker daemon
# ---------------------------------------------------------------------------
berth_ensure_docker() {
  if [[ -n ${BERTH_SKIP_DOCKER:-} ]]; then
    berth_log "docker: skipped (BERTH_SKIP_DOCKER set)"
    return 0
  fi
  if docker info >/dev/null 2>&1; then
    berth_log "docker: daemon reachable"
    return 0
  fi

  local log="$BERTH_STATE/dockerd.log" i
  if pgrep -x dockerd >/dev/null 2>&1; then
    berth_log "docker: dockerd is running but not answering yet; waiting"
  else
    berth_log "docker: starting dockerd (log: $log)"
    mkdir -p "$BERTH_STATE"
    # Detached from our terminal and pipes so it outlives this script.
    berth_sudo setsid nohup dockerd </dev/null >>"$log" 2>&1 &
  fi
  for ((i = 0; i < 60; i++)); do
    if docker info >/dev/null 2>&1; then
      berth_log "docker: daemon ready"
      return 0
    fi
    sleep 1
  done
  berth_err "Docker daemon did not become reachable within 60 s."
  berth_err "Check $log; if dockerd runs but you are not root, add yourself to the 'docker' group."
  tail -n 20 "$log" >&2 2>/dev/null || true
  return 1
}

# ---------------------------------------------------------------------------
# 6. Build: WASM front end (wasm-bindgen) + server binary
# ---------------------------------------------------------------------------
# Third-party web assets (package.json: the noVNC RFB client), from the npm registry with
# the lock file's exact versions. Skipped while node_modules matches the lock.
berth_ensure_web_assets() {
  local installed="$BERTH_ROOT/node_modules/.package-lock.json"
  if [[ -f $installed ]] && cmp -s <(sed -n '/"node_modules\//,$p' "$installed") \
    <(sed -n '/"node_modules\//,$p' "$BERTH_ROOT/package-lock.json"); then
    berth_log "web assets: node_modules matches package-lock.json"
    return 0
  fi
  if ! command -v npm >/dev/null 2>&1; then
    berth_log "web assets: installing npm"
    berth_sudo apt-get -o DPkg::Lock::Timeout=600 update
    berth_sudo env DEBIAN_FRONTEND=noninteractive \
      apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends npm
  fi
  berth_log "web assets: npm ci (package-lock.json)"
  (cd "$BERTH_ROOT" && npm ci --ignore-scripts --no-audit --no-fund)
}

# The web assets' files as the site serves them: /novnc/ (noVNC's ES modules and licence).
berth_copy_web_assets() {
  local site=$1 novnc="$BERTH_ROOT/node_modules/@novnc/novnc"
  rm -rf "$site/novnc"
  mkdir -p "$site/novnc"
  cp -r "$novnc/core" "$novnc/vendor" "$novnc/LICENSE.txt" "$site/novnc/"
}

berth_build() {
  local mode=${1:-dev} wasm_profile_args=() server_args=() wasm_dir
  case $mode in
    dev) wasm_dir=debug ;;
    release)
      wasm_profile_args=(--profile wasm-release)
      server_args=(--release)
      wasm_dir="wasm-release"
      ;;
    *)
      berth_err "berth_build: unknown mode '$mode' (dev|release)"
      return 1
      ;;
  esac

  export LEPTOS_OUTPUT_NAME=berth LEPTOS_SITE_ROOT=target/site LEPTOS_SITE_PKG_DIR=pkg SQLX_OFFLINE=true
  local site="$BERTH_ROOT/$LEPTOS_SITE_ROOT" pkg="$BERTH_ROOT/$LEPTOS_SITE_ROOT/$LEPTOS_SITE_PKG_DIR"
  # Cargo's output directory: CARGO_TARGET_DIR when set (a second checkout sharing no
  # build output with this one), else target/ of the checkout.
  local cargo_target="${CARGO_TARGET_DIR:-$BERTH_ROOT/target}"
  local wasm="$cargo_target/wasm32-unknown-unknown/$wasm_dir/frontend.wasm"
  local stamp="$pkg/.berth-source" src

  berth_log "build ($mode): frontend -> wasm32"
  (cd "$BERTH_ROOT" && cargo build -p frontend --lib --target wasm32-unknown-unknown "${wasm_profile_args[@]}")

  # Re-run wasm-bindgen only when the input wasm (or the tool) changed.
  src="$wasm $(stat -c '%Y %s' "$wasm") $(wasm-bindgen --version)"
  if [[ -f $stamp && "$(cat "$stamp")" == "$src" && -f $pkg/berth.js ]]; then
    berth_log "build ($mode): wasm-bindgen output up to date"
  else
    berth_log "build ($mode): wasm-bindgen -> $pkg"
    mkdir -p "$pkg"
    wasm-bindgen --target web --no-typescript --out-dir "$pkg" --out-name berth "$wasm"
    # Leptos requests berth.wasm when LEPTOS_OUTPUT_NAME is set at compile
    # time and berth_bg.wasm otherwise; serve both names.
    cp -f "$pkg/berth_bg.wasm" "$pkg/berth.wasm"
    printf '%s' "$src" >"$stamp"
  fi

  if [[ ! -f $BERTH_ROOT/style/berth.css ]]; then
    berth_err "style/berth.css is missing"
    return 1
  fi
  cp -f "$BERTH_ROOT/style/berth.css" "$pkg/berth.css"
  if [[ -d $BERTH_ROOT/public ]]; then
    cp -rf "$BERTH_ROOT/public/." "$site/"
  fi
  berth_ensure_web_assets
  berth_copy_web_assets "$site"

  berth_log "build ($mode): server"
  (cd "$BERTH_ROOT" && cargo build -p server --bin berth "${server_args[@]}")
  if [[ $mode == release ]]; then
    BERTH_BIN="$cargo_target/release/berth"
  else
    BERTH_BIN="$cargo_target/debug/berth"
  fi
  export BERTH_BIN
  berth_log "build ($mode): BERTH_BIN=$BERTH_BIN"
}

# Session images (desktop, desktop-deluxe, firefox): built offline from a
# Debian base; images/build.sh skips the ones already up to date.
berth_build_images() {
  berth_log "images: building the session images (skips those up to date)"
  "$BERTH_ROOT/images/build.sh" --all
}

# ---------------------------------------------------------------------------
# 7. Helpers for starting processes
# ---------------------------------------------------------------------------

# berth_wait_http URL [seconds] [pid]: poll URL until it answers 200. If a pid
# is given, give up early when that process has exited.
berth_wait_http() {
  local url=$1 timeout=${2:-60} pid=${3:-} code
  local deadline=$((SECONDS + timeout))
  berth_log "waiting for $url (up to ${timeout}s)"
  while ((SECONDS < deadline)); do
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$url" || true)"
    if [[ $code == 200 ]]; then
      return 0
    fi
    if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
      berth_err "process $pid exited while waiting for $url"
      return 1
    fi
    sleep 1
  done
  berth_err "$url did not answer 200 within ${timeout}s (last status: ${code:-none})"
  return 1
}

# Print a TCP port on 127.0.0.1 that nothing is listening on (below the
# kernel's ephemeral range so outgoing connections don't grab it).
berth_free_port() {
  local port i
  for ((i = 0; i < 100; i++)); do
    port=$((20000 + (RANDOM * 32768 + RANDOM) % 12000))
    if ! (: <>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      printf '%s\n' "$port"
      return 0
    fi
  done
  berth_err "no free TCP port found"
  return 1
}

# ---------------------------------------------------------------------------
# Code gates (scripts/test runs them before the tests; CI through it)
# ---------------------------------------------------------------------------

# A scratch database berth_sqlx next to DATABASE_URL's, with every migration
# applied: what the sqlx macros check the queries against. Prints its URL.
berth_sqlx_database() {
  local base="${DATABASE_URL%%\?*}"
  base="${base%/*}"
  berth_recreate_database berth_sqlx >&2 || return 1
  local migration
  for migration in "$BERTH_ROOT"/migrations/*.sql; do
    PGOPTIONS='-c client_min_messages=warning' \
      psql -X -q -v ON_ERROR_STOP=1 "$base/berth_sqlx" -f "$migration" >/dev/null || return 1
  done
  printf '%s\n' "$base/berth_sqlx"
}

# rustfmt and clippy come with rustup's default profile; a minimal one lacks them.
berth_ensure_lint_tools() {
  if command -v rustup >/dev/null 2>&1; then
    local component
    for component in rustfmt clippy; do
      if ! (cd "$BERTH_ROOT" && rustup component list --installed) | grep -q "^$component"; then
        berth_log "rust: adding component $component"
        (cd "$BERTH_ROOT" && rustup component add "$component") || return 1
      fi
    done
  fi
}

# The gates every change passes: formatting, clippy without warnings on every
# target of the server side, and .sqlx/ (the committed query data of the sqlx
# macros) exactly what the queries and migrations give. Clippy's build runs the
# macros against a fresh database and writes their query data to a scratch
# directory, compared with .sqlx/ afterwards: one compilation for both checks.
berth_check_code() {
  berth_ensure_lint_tools || return 1
  berth_log "gates: cargo fmt --all --check"
  if ! (cd "$BERTH_ROOT" && cargo fmt --all --check); then
    berth_err "formatting differs: run 'cargo fmt --all' and commit"
    return 1
  fi
  local sqlx_url fresh
  sqlx_url="$(berth_sqlx_database)" || return 1
  fresh="$(mktemp -d)"
  berth_log "gates: cargo clippy --all-targets -- -D warnings (queries checked against the migrations)"
  # Touching the crates with queries makes their macros run even when nothing else changed.
  touch "$BERTH_ROOT/app/src/lib.rs" "$BERTH_ROOT/server/src/lib.rs" "$BERTH_ROOT/store/src/lib.rs"
  if ! (cd "$BERTH_ROOT" && SQLX_OFFLINE=false SQLX_OFFLINE_DIR="$fresh" DATABASE_URL="$sqlx_url" \
    cargo clippy -p app -p server -p store -p berth-model -p bench -p end2end --all-targets --features app/ssr -- -D warnings); then
    berth_err "clippy found problems (above)"
    rm -rf "$fresh"
    return 1
  fi
  berth_log "gates: .sqlx/ matches the queries (cargo sqlx prepare --check)"
  if ! diff -r -q "$BERTH_ROOT/.sqlx" "$fresh"; then
    berth_err ".sqlx/ is out of date: run ./scripts/sqlx-prepare and commit .sqlx/"
    rm -rf "$fresh"
    return 1
  fi
  rm -rf "$fresh"
}
