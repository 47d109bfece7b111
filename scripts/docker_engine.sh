#!/usr/bin/env bash
# A private Docker engine for the docker sandbox backend, its tests and scripts/build_images.sh.
#
#   scripts/docker_engine.sh start    install docker.io, debootstrap, docker-compose if missing, start the
#                                     engine if it is not answering (idempotent, ~2 s)
#   scripts/docker_engine.sh stop     stop the engine this script started
#   scripts/docker_engine.sh host     print the engine's address (for DOCKER_HOST)
#
# The engine is started with every network feature that touches the machine switched off:
# no iptables rules, no IP forwarding or masquerading, no default bridge. Containers can
# only be started with `--network none` (the sandboxes) or the host's network namespace
# (image builds never need it: they install from files). Its state lives in its own
# folders, apart from any system engine:
#   AUTOGRADER_DOCKER_DIR  (/var/lib/autograder-docker)   images, containers, the log
#   /run/autograder-docker                                 socket, pid file, exec root
set -euo pipefail

DIR="${AUTOGRADER_DOCKER_DIR:-/var/lib/autograder-docker}"
RUN=/run/autograder-docker
SOCKET="$RUN/docker.sock"
HOST="unix://$SOCKET"
PIDFILE="$RUN/dockerd.pid"
LOG="$DIR/dockerd.log"

say() { printf '==> %s\n' "$*"; }
die() {
    printf 'docker_engine: ERROR: %s\n' "$*" >&2
    exit 1
}

answering() { DOCKER_HOST="$HOST" docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

install_packages() {
    local missing=()
    command -v dockerd >/dev/null || missing+=(docker.io)
    command -v debootstrap >/dev/null || missing+=(debootstrap)
    # Debian's Compose 1.29: tests/test_compose.py runs docker-compose.yml with it.
    command -v docker-compose >/dev/null || missing+=(docker-compose)
    ((${#missing[@]} == 0)) && return
    [[ $(id -u) -eq 0 ]] || die "missing ${missing[*]}; run as root or install them"
    say "apt-get install ${missing[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# A pid file left by an engine that was killed (its pid gone, a zombie, or reused by another
# program) would stop dockerd from starting.
clear_stale_pidfile() {
    [[ -f "$PIDFILE" ]] || return 0
    local pid state
    pid=$(cat "$PIDFILE")
    state=$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null || echo gone)
    if [[ "$state" == gone || "$state" == Z ]] ||
        ! tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "dockerd.*$SOCKET"; then
        rm -f "$PIDFILE"
        return 0
    fi
    die "dockerd (pid $pid) is running but does not answer at $HOST (log: $LOG)"
}

start() {
    install_packages
    if answering; then
        say "docker engine: answering at $HOST"
        return
    fi
    [[ $(id -u) -eq 0 ]] || die "starting the docker engine needs root"
    mkdir -p "$DIR/data" "$RUN/exec"
    exec 9>"$RUN/start.lock"
    flock 9 # one start at a time; the winner's engine answers the others
    if answering; then
        say "docker engine: answering at $HOST"
        return
    fi
    chmod 0711 "$DIR"
    clear_stale_pidfile
    say "starting dockerd (no iptables, no forwarding, no bridge) at $HOST"
    # setsid: the engine outlives this script (make test runs pytest after it).
    setsid dockerd \
        --host "$HOST" \
        --data-root "$DIR/data" \
        --exec-root "$RUN/exec" \
        --pidfile "$PIDFILE" \
        --iptables=false \
        --ip6tables=false \
        --ip-forward=false \
        --ip-masq=false \
        --bridge=none \
        --userland-proxy=false \
        --no-new-privileges \
        --log-driver none \
        >>"$LOG" 2>&1 </dev/null 9>&- &
    local i
    for i in $(seq 1 100); do
        answering && {
            say "docker engine: ready after $((i / 10)).$((i % 10)) s"
            return
        }
        sleep 0.1
    done
    tail -n 20 "$LOG" >&2
    die "dockerd did not answer within 10 s (log: $LOG)"
}

stop() {
    [[ -f "$PIDFILE" ]] || return 0
    local pid
    pid=$(cat "$PIDFILE")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
}

case "${1:-start}" in
start) start ;;
stop) stop ;;
host) echo "$HOST" ;;
*) die "usage: $0 start|stop|host" ;;
esac
