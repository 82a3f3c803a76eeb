# shellcheck shell=bash
# Shared helpers for scripts/*. Source it; do not execute it.
# Everything here is loopback-only and idempotent.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RUN_DIR="${REPO_ROOT}/.run"
HUB_CACHE_DIR="${HUB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/fineract-hub}"
VENV_DIR="${REPO_ROOT}/.venv"

log()  { printf '[%s] %s\n' "$(basename "$0")" "$*" >&2; }
warn() { printf '[%s] WARNING: %s\n' "$(basename "$0")" "$*" >&2; }
die()  { printf '[%s] ERROR: %s\n' "$(basename "$0")" "$*" >&2; exit 1; }

# Seconds since epoch with fractions (for timings).
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# port_open HOST PORT -> 0 when something accepts TCP connections there.
port_open() {
  (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

# wait_port HOST PORT TIMEOUT_SECONDS -> 0 when open in time, 1 otherwise.
wait_port() {
  local host=$1 port=$2 timeout=$3 start
  start=$(date +%s)
  until port_open "$host" "$port"; do
    if (( $(date +%s) - start >= timeout )); then
      return 1
    fi
    sleep 0.5
  done
}

# pid_alive PIDFILE -> 0 when the pid in PIDFILE is a live process.
pid_alive() {
  [[ -s "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null
}

# A Python interpreter: the repo venv when present, else the system one.
host_python() {
  if [[ -x "${VENV_DIR}/bin/python" ]]; then
    echo "${VENV_DIR}/bin/python"
  else
    command -v python3
  fi
}

# The Avro schema folder: env HUB_AVRO_SCHEMA_DIR, else ../shared beside the repo.
avro_schema_dir() {
  local dir="${HUB_AVRO_SCHEMA_DIR:-${REPO_ROOT}/../shared/fineract-avro-schemas}"
  [[ -f "${dir}/MessageV1.avsc" ]] \
    || die "Fineract Avro schemas not found at ${dir} (set HUB_AVRO_SCHEMA_DIR)"
  (cd "$dir" && pwd)
}

# Maven, batch mode, no colour, quiet transfer logs.
mvn_batch() {
  mvn -B -ntp -Dstyle.color=never "$@"
}

# Writes .run/dev.env (mode 600): the development environment for scripts/run and scripts/env.
# Secrets are generated once and kept; the other lines are rewritten on every call.
DEV_ENV="${RUN_DIR}/dev.env"
ensure_dev_env() {
  mkdir -p "$RUN_DIR"
  local action_secret="" encryption_key="" admin_key="" schema_dir
  if [[ -f "$DEV_ENV" ]]; then
    action_secret=$(sed -n "s/^HUB_ACTION_SECRET='\(.*\)'$/\1/p" "$DEV_ENV")
    encryption_key=$(sed -n "s/^HUB_ENCRYPTION_KEY='\(.*\)'$/\1/p" "$DEV_ENV")
    admin_key=$(sed -n "s/^HUB_API_KEYS='admin:\(.*\)'$/\1/p" "$DEV_ENV")
  fi
  [[ -n "$admin_key" ]] || admin_key=$(head -c 24 /dev/urandom | base64 | tr -d '\n=' | tr '+/' '-_')
  [[ -n "$action_secret" ]] || action_secret=$(head -c 32 /dev/urandom | base64 | tr -d '\n=' | tr '+/' '-_')
  [[ -n "$encryption_key" ]] || encryption_key=$(head -c 32 /dev/urandom | base64 | tr -d '\n')
  schema_dir=$(avro_schema_dir)
  local tmp="${DEV_ENV}.tmp"
  (
    umask 077
    cat >"$tmp" <<ENV
# fineract-hub development environment, written by scripts/run / scripts/env.
# Secrets below were generated once on this machine; delete this file to get new ones.
HUB_AVRO_SCHEMA_DIR='${schema_dir}'
HUB_ACTION_SECRET='${action_secret}'
HUB_ENCRYPTION_KEY='${encryption_key}'
HUB_API_KEYS='admin:${admin_key}'
HUB_SSRF_ALLOWLIST='127.0.0.0/8'
HUB_KAFKA_BOOTSTRAP='${HUB_KAFKA_BOOTSTRAP:-127.0.0.1:19092}'
HUB_DATABASE_URL='postgresql://fineract_hub:fineract_hub@127.0.0.1:5432/fineract_hub?sslmode=disable'
HUB_LOG_FORMAT='text'
ENV
  )
  chmod 600 "$tmp"
  mv -f "$tmp" "$DEV_ENV"
}
