#!/usr/bin/env bash
# Build the project's images on a Docker engine without any registry, and without any
# network inside a build:
#
#   autograder-base     debootstrap --variant=minbase bookworm + python3 + python3-venv,
#                       imported with `docker import`
#   autograder-sandbox  base + /opt/venv from requirements/sandbox.lock (hash-checked)
#   autograder-worker   base + the service venv (requirements/main.lock + docker SDK) + /app
#   autograder-api      base + the service venv (no docker SDK) + /app
#   autograder-postgres base + Debian's postgresql-15 (for docker-compose.yml)
#   autograder-redis    base + Debian's redis-server (for docker-compose.yml)
#
#   scripts/build_images.sh [sandbox|worker|api|postgres|redis|compose|all ...]
#                                    (default: sandbox; compose: all but sandbox)
#
# Wheels are downloaded on the host (`pip download`, from the package index pip is set up
# with; the sandbox's with --require-hashes) and installed offline in the build
# (`--no-index`, the sandbox's with --require-hashes again); every build runs with
# `--network none`. Debian packages likewise: a throwaway container of the base, on the
# host's network, only downloads them with apt (which checks them against Debian's signed
# indexes), and the build installs those files with dpkg. Each image is tagged NAME:<hash of its inputs> (the Dockerfile, the
# lock, the base; for worker and api also the project's files) and is skipped when that tag
# exists, so a second run takes about a second. The id of each image is written to
# $AUTOGRADER_DOCKER_DIR/images/NAME.id; the sandbox's is what AUTOGRADER_SANDBOX_IMAGE
# must hold (the docker backend runs only that id). The last lines printed are
# AUTOGRADER_<NAME>_IMAGE=sha256:<id>, one per image asked for: a `docker-compose
# --env-file` (see docker-compose.yml).
#
# The engine: DOCKER_HOST if set, else the private one of scripts/docker_engine.sh
# (started if needed).
set -euo pipefail
umask 022

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DIR="${AUTOGRADER_DOCKER_DIR:-/var/lib/autograder-docker}"
MIRROR="${AUTOGRADER_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SANDBOX_PYTHON=/usr/bin/python3 # the Debian python (3.11) that matches the images'
export DOCKER_BUILDKIT=0          # the classic builder: Debian's docker.io has no BuildKit

say() { printf '==> %s\n' "$*"; }
die() {
    printf 'build_images: ERROR: %s\n' "$*" >&2
    exit 1
}

if [[ -z "${DOCKER_HOST:-}" ]]; then
    bash "$ROOT/scripts/docker_engine.sh" start
    DOCKER_HOST="$(bash "$ROOT/scripts/docker_engine.sh" host)"
fi
export DOCKER_HOST
mkdir -p "$DIR/images" "$DIR/wheels"
exec 9>"$DIR/build.lock"
flock 9 # one build at a time (several checkouts may run make setup together)

hash_of() { cat "$@" | sha256sum | cut -c1-16; }
has_tag() { docker image inspect "$1" >/dev/null 2>&1; }
# NAME.id holds the image's id; NAME:latest points at the image of this checkout.
# LAST_ID: the id of the image recorded last.
record() {
    docker tag "$1:$2" "$1:latest"
    LAST_ID=$(docker image inspect --format '{{.Id}}' "$1:$2")
    echo "$LAST_ID" >"$DIR/images/$1.id"
}

# ------------------------------------------------------------------ base

BASE_PACKAGES=python3,python3-venv
base_image() {
    local tag
    tag=$(echo "bookworm minbase $BASE_PACKAGES" | sha256sum | cut -c1-16)
    BASE="autograder-base:$tag"
    if has_tag "$BASE"; then
        record autograder-base "$tag"
        return
    fi
    command -v debootstrap >/dev/null || die "debootstrap is not installed"
    local rootfs="$DIR/rootfs-$$" start=$SECONDS
    rm -rf "$rootfs"
    say "debootstrap --variant=minbase bookworm (+ $BASE_PACKAGES) from $MIRROR"
    debootstrap --variant=minbase --include="$BASE_PACKAGES" bookworm "$rootfs" "$MIRROR" \
        >"$DIR/debootstrap.log" 2>&1 || {
        tail -n 20 "$DIR/debootstrap.log" >&2
        die "debootstrap failed (log: $DIR/debootstrap.log)"
    }
    # No apt caches or lists in the image.
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" -c . | docker import - "$BASE" >/dev/null
    rm -rf "$rootfs"
    record autograder-base "$tag"
    say "$BASE built in $((SECONDS - start)) s"
}

# ------------------------------------------------------------------ sandbox

sandbox_image() {
    local tag ctx start=$SECONDS
    tag=$(hash_of docker/Dockerfile.sandbox requirements/sandbox.lock \
        requirements/sandbox-numpy.lock <(echo "$BASE"))
    if has_tag "autograder-sandbox:$tag"; then
        record autograder-sandbox "$tag"
        say "autograder-sandbox:$tag: up to date ($(cat "$DIR/images/autograder-sandbox.id"))"
        return
    fi
    local wheels="$DIR/wheels/sandbox"
    mkdir -p "$wheels"
    say "pip download (hash-checked) -r requirements/sandbox.lock"
    "$SANDBOX_PYTHON" -m pip download --no-input -q --no-deps --only-binary :all: \
        --require-hashes -r requirements/sandbox.lock -d "$wheels"
    ctx="$DIR/ctx-sandbox-$$"
    rm -rf "$ctx"
    mkdir -p "$ctx/wheels"
    local name
    # Only the locked wheels, hard-linked (no copy of 3 GB).
    while read -r name; do
        cp -l "$wheels/$name" "$ctx/wheels/" 2>/dev/null || cp "$wheels/$name" "$ctx/wheels/"
    done < <(lock_wheels "$wheels")
    cp requirements/sandbox.lock "$ctx/wheels/sandbox.lock"
    cp requirements/sandbox-numpy.lock "$ctx/wheels/sandbox-numpy.lock"
    say "docker build autograder-sandbox:$tag (no network)"
    docker build -q --network none --force-rm --build-arg BASE="$BASE" \
        -f docker/Dockerfile.sandbox -t "autograder-sandbox:$tag" "$ctx" >/dev/null
    rm -rf "$ctx"
    docker image prune -f >/dev/null 2>&1 || true
    record autograder-sandbox "$tag"
    say "autograder-sandbox:$tag built in $((SECONDS - start)) s," \
        "$(docker image inspect --format '{{.Size}}' "autograder-sandbox:$tag" | numfmt --to=iec)"
}

# The wheel files in $1 that the lock names (by their hashes).
lock_wheels() {
    local wheels=$1 f h
    local -A want=()
    for h in $(grep -o 'sha256:[0-9a-f]*' requirements/sandbox.lock | cut -d: -f2); do
        want[$h]=1
    done
    for f in "$wheels"/*.whl; do
        h=$(sha256sum "$f" | cut -d' ' -f1)
        [[ -n "${want[$h]:-}" ]] && basename "$f"
    done
}

# ------------------------------------------------------------------ worker and api

SERVICE_FILES=(pyproject.toml alembic.ini requirements api autograder worker grading_specs
    reference_solutions starters datasets migrations)

service_image() {
    local name=$1 extra=$2 tag ctx start=$SECONDS
    tag=$(cd "$ROOT" && find "${SERVICE_FILES[@]}" -type f ! -name '*.pyc' -print0 | sort -z |
        xargs -0 sha256sum | cat - "docker/Dockerfile.$name" <(echo "$BASE") | sha256sum |
        cut -c1-16)
    if has_tag "autograder-$name:$tag"; then
        record "autograder-$name" "$tag"
        say "autograder-$name:$tag: up to date"
        return
    fi
    local wheels="$DIR/wheels/service"
    mkdir -p "$wheels"
    say "pip download the service's wheels ($name)"
    "$SANDBOX_PYTHON" -m pip download --no-input -q --only-binary :all: \
        -c requirements/main.lock -d "$wheels" "setuptools>=68" ".$extra"
    ctx="$DIR/ctx-$name-$$"
    rm -rf "$ctx"
    mkdir -p "$ctx/app"
    cp -al "$wheels" "$ctx/wheels" 2>/dev/null || cp -a "$wheels" "$ctx/wheels"
    tar -C "$ROOT" --exclude='__pycache__' --exclude='*.pyc' -c "${SERVICE_FILES[@]}" |
        tar -C "$ctx/app" -x
    say "docker build autograder-$name:$tag (no network)"
    docker build -q --network none --force-rm --build-arg BASE="$BASE" \
        -f "docker/Dockerfile.$name" -t "autograder-$name:$tag" "$ctx" >/dev/null
    rm -rf "$ctx"
    record "autograder-$name" "$tag"
    say "autograder-$name:$tag built in $((SECONDS - start)) s," \
        "$(docker image inspect --format '{{.Size}}' "autograder-$name:$tag" | numfmt --to=iec)"
}

# ------------------------------------------------------------------ postgres and redis

# debian_image NAME PACKAGES...: Dockerfile.NAME on the base with these Debian packages (and
# their dependencies that the base lacks), tagged by the hash of the Dockerfile, the files
# copied beside it (the postgres entrypoint), the packages and the base.
debian_image() {
    local name=$1 tag ctx start=$SECONDS
    shift
    tag=$(hash_of "docker/Dockerfile.$name" docker/postgres-entrypoint.sh <(echo "$BASE $*"))
    if has_tag "autograder-$name:$tag"; then
        record "autograder-$name" "$tag"
        say "autograder-$name:$tag: up to date"
        return
    fi
    ctx="$DIR/ctx-$name-$$"
    rm -rf "$ctx"
    mkdir -p "$ctx/debs"
    cp docker/postgres-entrypoint.sh "$ctx/"
    say "apt-get download $* (and dependencies) from the base's sources ($name)"
    docker run --rm --network host -v "$ctx/debs:/out" "$BASE" sh -c \
        'apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends \
         --download-only "$@" >/dev/null && cp /var/cache/apt/archives/*.deb /out/' sh "$@" ||
        die "downloading $* failed (is Debian's mirror reachable from this host?)"
    say "docker build autograder-$name:$tag (no network)"
    docker build -q --network none --force-rm --build-arg BASE="$BASE" \
        -f "docker/Dockerfile.$name" -t "autograder-$name:$tag" "$ctx" >/dev/null
    rm -rf "$ctx"
    record "autograder-$name" "$tag"
    say "autograder-$name:$tag built in $((SECONDS - start)) s," \
        "$(docker image inspect --format '{{.Size}}' "autograder-$name:$tag" | numfmt --to=iec)"
}

main() {
    local targets=("$@")
    ((${#targets[@]})) || targets=(sandbox)
    [[ " ${targets[*]} " == *" all "* ]] && targets=(sandbox worker api postgres redis)
    [[ " ${targets[*]} " == *" compose "* ]] && targets=(worker api postgres redis)
    LAST_ID=
    base_image
    local t ids=()
    for t in "${targets[@]}"; do
        case "$t" in
        sandbox) sandbox_image ;;
        worker) service_image worker "[docker]" ;;
        api) service_image api "" ;;
        postgres) debian_image postgres postgresql-15 ;;
        redis) debian_image redis redis-server ;;
        *) die "unknown image $t (sandbox, worker, api, postgres, redis, compose or all)" ;;
        esac
        # The id of the image just built or found (not the shared NAME.id file, which a
        # build of another checkout may change later).
        ids+=("AUTOGRADER_${t^^}_IMAGE=$LAST_ID")
    done
    [[ " ${targets[*]} " == *" sandbox "* ]] ||
        ids+=("AUTOGRADER_SANDBOX_IMAGE=$(cat "$DIR/images/autograder-sandbox.id" 2>/dev/null || echo '(not built)')")
    printf '%s\n' "${ids[@]}"
}

main "$@"
