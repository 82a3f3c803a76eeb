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
