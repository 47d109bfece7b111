#!/usr/bin/env bash
# Set up everything the autograder needs on a Debian 12 machine, idempotently:
#   - system packages, only those missing: bubblewrap, redis-server, util-linux (setpriv,
#     runuser), python3-venv, and postgresql-15 when its binaries are not there;
#     Debian's chromium (+ a CJK font, the pages are bilingual) for the browser tests in
#     tests/browser, which drive /usr/bin/chromium through Playwright: no browser is ever
#     downloaded (`playwright install` is never run);
#   - .venv          the service (API, worker, CLI, tests), Python 3.11, pinned by
#                    requirements/main.lock;
#   - .venv-sandbox  the Python that runs student code, made from Debian's /usr/bin/python3
#                    so the unprivileged sandbox uids can read it (a pyenv under /root,
#                    mode 0700, is out of their reach); requirements/sandbox.txt.
#   - .venv-sandbox-numpy  the same without torch, for numpy-only homework
#                    (requirements/sandbox-numpy.txt): a box must not have what its
#                    homework forbids.
# Each venv keeps a stamp of the inputs it was installed from; a second run with nothing
# changed only checks and takes about a second.
set -euo pipefail
umask 022

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

VENV="$ROOT/.venv"
SANDBOX_VENV="$ROOT/.venv-sandbox"
NUMPY_VENV="$ROOT/.venv-sandbox-numpy"
SANDBOX_PYTHON=/usr/bin/python3
PG_BIN=/usr/lib/postgresql/15/bin
CHROMIUM=/usr/bin/chromium
NOBODY=65534
STAMP_NAME=.autograder-setup-stamp

say() { printf '==> %s\n' "$*"; }
die() {
    printf 'setup: ERROR: %s\n' "$*" >&2
    exit 1
}

# ------------------------------------------------------------------ system packages

missing_packages() {
    command -v bwrap >/dev/null || echo bubblewrap
    ldconfig -p | grep -q 'libseccomp\.so\.2 ' || echo libseccomp2 # the boxes' seccomp filter
    command -v redis-server >/dev/null || echo redis-server
    { command -v setpriv && command -v runuser; } >/dev/null || echo util-linux
    [[ -x "$PG_BIN/initdb" ]] || echo postgresql-15
    [[ -x "$SANDBOX_PYTHON" ]] || echo python3
    "$SANDBOX_PYTHON" -c 'import ensurepip' 2>/dev/null || echo python3-venv
    [[ -x "$CHROMIUM" ]] || echo chromium
    has_cjk_font || echo fonts-wqy-microhei
    command -v systemd-analyze >/dev/null || echo systemd # verifies systemd/*.service in tests
    command -v npm >/dev/null || echo npm # installs axe-core for the accessibility tests
}

# Without a CJK font the Chinese half of every page renders as boxes in screenshots.
has_cjk_font() {
    [[ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]] && return 0
    command -v fc-list >/dev/null && [[ -n "$(fc-list :lang=zh family 2>/dev/null)" ]]
}

install_system_packages() {
    local missing
    mapfile -t missing < <(missing_packages)
    if ((${#missing[@]} == 0)); then
        say "system packages: all present"
        return
    fi
    [[ $(id -u) -eq 0 ]] || die "missing system packages (${missing[*]}); run as root or install them"
    say "apt-get update"
    apt-get update -q
    say "apt-get install ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# ------------------------------------------------------------------ venv helpers

sha_of() { cat "$@" | sha256sum | cut -d' ' -f1; }

# A venv is usable when its python runs 3.11 and its scripts point at this checkout
# (a moved checkout leaves shebangs with the old path).
venv_ok() {
    local venv=$1
    [[ -x "$venv/bin/python" ]] || return 1
    "$venv/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null || return 1
    [[ -f "$venv/bin/pip" ]] && head -n1 "$venv/bin/pip" | grep -qF "#!$venv/bin/python"
}

make_venv() {
    local python=$1 venv=$2
    say "creating $venv from $python ($("$python" --version 2>&1))"
    rm -rf "$venv"
    "$python" -m venv "$venv"
}

stamp_matches() { [[ -f "$1/$STAMP_NAME" && "$(cat "$1/$STAMP_NAME")" == "$2" ]]; }

# ------------------------------------------------------------------ the service venv

service_python() {
    if command -v python3 >/dev/null &&
        python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
        python3 -c 'import sys; print(sys.executable)'
    elif [[ -x /usr/bin/python3.11 ]]; then
        echo /usr/bin/python3.11
    else
        die "no Python 3.11 found (neither python3 nor /usr/bin/python3.11)"
    fi
}

# The editable install must resolve to this checkout (checked from /, so the current
# directory on sys.path cannot hide a stale install).
service_install_ok() {
    local found
    found="$(cd / && "$VENV/bin/python" -c 'import autograder; print(autograder.__file__)' 2>/dev/null)" || return 1
    [[ "$found" == "$ROOT/autograder/__init__.py" && -x "$VENV/bin/autograder" && -x "$VENV/bin/ruff" &&
        -x "$VENV/bin/mypy" && -x "$VENV/bin/lint-imports" ]]
}

setup_service_venv() {
    venv_ok "$VENV" || make_venv "$(service_python)" "$VENV"
    local want
    want="$ROOT $(sha_of pyproject.toml requirements/main.lock)"
    if stamp_matches "$VENV" "$want" && service_install_ok; then
        say ".venv: up to date"
        return
    fi
    say ".venv: pip install -e '.[test,docker]' -c requirements/main.lock"
    "$VENV/bin/python" -m pip install --no-input -q -e '.[test,docker]' -c requirements/main.lock
    service_install_ok || die ".venv: autograder does not import from $ROOT after pip install"
    echo "$want" >"$VENV/$STAMP_NAME"
}

# ------------------------------------------------------------------ the sandbox venv

as_nobody() { (cd / && setpriv --reuid "$NOBODY" --regid "$NOBODY" --clear-groups "$@"); }

# Every directory from / down to $1 must be traversable by the sandbox uids.
check_traversable() {
    local dir="" part parts
    IFS=/ read -ra parts <<<"$1"
    for part in "${parts[@]}"; do
        [[ -n "$part" ]] || continue
        dir="$dir/$part"
        [[ -d "$dir" ]] || break
        if ! as_nobody /usr/bin/test -x "$dir"; then
            die "uid $NOBODY cannot enter $dir (mode $(stat -c '%A %U:%G' "$dir")). The sandbox \
runs student code as unprivileged uids, which must reach $SANDBOX_VENV. Put the checkout \
in a world-traversable place (e.g. /srv or /opt) or run: chmod o+x $dir"
        fi
    done
}

# Full check: import what student code imports, as the unprivileged uid (5-7 s).
verify_sandbox_imports() {
    say ".venv-sandbox: checking that uid $NOBODY can import numpy, torch, torchvision"
    as_nobody "$SANDBOX_VENV/bin/python" -c 'import numpy, torch, torchvision' ||
        die "uid $NOBODY cannot import numpy/torch/torchvision from $SANDBOX_VENV (see the \
error above). Try: chmod -R a+rX $SANDBOX_VENV, or remove it and rerun make setup"
}

# Quick check for later runs: the interpreter starts, numpy imports and torch is readable.
quick_check_sandbox() {
    as_nobody "$SANDBOX_VENV/bin/python" -c '
import importlib.util, numpy
for name in ("torch", "torchvision", "safetensors"):
    spec = importlib.util.find_spec(name)
    assert spec and spec.origin, name
    open(spec.origin, "rb").close()
' 2>/dev/null
}

setup_sandbox_venv() {
    local can_switch_uid=1
    [[ $(id -u) -eq 0 ]] || can_switch_uid=0
    ((can_switch_uid)) && check_traversable "$SANDBOX_VENV"
    venv_ok "$SANDBOX_VENV" || make_venv "$SANDBOX_PYTHON" "$SANDBOX_VENV"
    local want
    want="$ROOT $("$SANDBOX_PYTHON" --version 2>&1) $(sha_of requirements/sandbox.txt)"
    if stamp_matches "$SANDBOX_VENV" "$want"; then
        if ((!can_switch_uid)); then
            say ".venv-sandbox: up to date (not root: uid $NOBODY check skipped)"
        elif quick_check_sandbox; then
            say ".venv-sandbox: up to date, readable by uid $NOBODY"
        else
            verify_sandbox_imports
        fi
        return
    fi
    say ".venv-sandbox: pip install -r requirements/sandbox.txt" \
        "(torch + torchvision: 2-3 minutes and about 5.5 GB the first time)"
    "$SANDBOX_VENV/bin/python" -m pip install --no-input -q -r requirements/sandbox.txt
    chmod -R a+rX "$SANDBOX_VENV"
    if ((can_switch_uid)); then
        verify_sandbox_imports
    else
        say "not root: skipping the uid $NOBODY check"
    fi
    echo "$want" >"$SANDBOX_VENV/$STAMP_NAME"
}

# The docker sandbox backend's engine (private, no host networking changes) and its image,
# built once per Dockerfile + lock (scripts/docker_engine.sh, scripts/build_images.sh).
# Only for `make test` (AUTOGRADER_SETUP_DOCKER=1) or a service configured with
# AUTOGRADER_SANDBOX=docker: `make run` with the embedded defaults needs neither, and the
# first image build takes minutes.
setup_docker() {
    local wanted="${AUTOGRADER_SETUP_DOCKER:-}"
    if [[ -z "$wanted" && "${AUTOGRADER_SANDBOX:-bwrap}" == docker ]]; then
        wanted=1
    fi
    if [[ "$wanted" != 1 ]]; then
        say "docker: not needed here (AUTOGRADER_SETUP_DOCKER=1 sets it up)"
        return
    fi
    bash "$ROOT/scripts/docker_engine.sh" start
    bash "$ROOT/scripts/build_images.sh" sandbox
}

# The cgroup-v2 virtual machine of tests/test_cgroup_v2.py (scripts/cgroup2_vm.sh): QEMU
# and a static busybox, then one boot that fetches and unpacks Debian's kernel (once, about
# 70 MB, cached in /var/cache/autograder-vm). Only for `make test` (AUTOGRADER_SETUP_VM=1).
setup_vm() {
    if [[ "${AUTOGRADER_SETUP_VM:-}" != 1 ]]; then
        return
    fi
    local missing=()
    command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
    dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed' \
        || missing+=(busybox-static)
    if ((${#missing[@]})); then
        [[ $(id -u) -eq 0 ]] || die "missing system packages (${missing[*]}); run as root"
        say "apt-get install ${missing[*]} (the cgroup v2 test VM)"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    fi
    say "cgroup v2 test VM: $(bash "$ROOT/scripts/cgroup2_vm.sh" -- uname -r) boots"
}

# The numpy-only sandbox environment: numpy and safetensors, and certainly no torch.
setup_numpy_sandbox_venv() {
    local want
    want="$ROOT $("$SANDBOX_PYTHON" --version 2>&1) $(sha_of requirements/sandbox-numpy.txt)"
    venv_ok "$NUMPY_VENV" || make_venv "$SANDBOX_PYTHON" "$NUMPY_VENV"
    if ! stamp_matches "$NUMPY_VENV" "$want"; then
        say ".venv-sandbox-numpy: pip install -r requirements/sandbox-numpy.txt"
        "$NUMPY_VENV/bin/python" -m pip install --no-input -q -r requirements/sandbox-numpy.txt
        chmod -R a+rX "$NUMPY_VENV"
        echo "$want" >"$NUMPY_VENV/$STAMP_NAME"
    fi
    local check='import numpy, safetensors, importlib.util as u; assert u.find_spec("torch") is None'
    if [[ $(id -u) -eq 0 ]]; then
        as_nobody "$NUMPY_VENV/bin/python" -c "$check" ||
            die "uid $NOBODY cannot use $NUMPY_VENV, or it holds torch: remove it and rerun"
    fi
    say ".venv-sandbox-numpy: up to date (numpy, safetensors; no torch)"
}

# Fashion-MNIST (datasets/fashion-mnist.yaml) comes as Debian's dataset-fashion-mnist package
# (MIT, Zalando SE): downloaded once with `apt-get download` (the package registry only) and
# extracted with `dpkg-deb -x` into .autograder/debian/dataset-fashion-mnist, the manifest's
# source.local, from which `serve` (or `autograder data fetch fashion-mnist`) prepares it.
# Idempotent: an extracted copy or a .deb already there is used as it is, offline. A .deb
# elsewhere can be named with AUTOGRADER_FASHION_MNIST_DEB. Never fatal: without it only
# fashion-cnn cannot be graded, and `autograder data status` says how to fix that.
setup_fashion_mnist() {
    local pkg=dataset-fashion-mnist
    local dir="$ROOT/.autograder/debian"
    local out="$dir/$pkg"
    if [[ -f "$out/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz" ]]; then
        say "$pkg: extracted in $out"
        return
    fi
    mkdir -p "$dir"
    local deb="${AUTOGRADER_FASHION_MNIST_DEB:-}"
    if [[ -z "$deb" ]]; then
        deb=$(find "$dir" -maxdepth 1 -name "${pkg}_*.deb" | sort | tail -n 1)
    fi
    if [[ -z "$deb" ]]; then
        say "apt-get download $pkg (about 31 MB, once)"
        if ! (cd "$dir" && apt-get download -q "$pkg"); then
            say "WARNING: could not download $pkg (no package index or registry?): fashion-cnn" \
                "cannot be graded until its files are in $out (see datasets/fashion-mnist.yaml)"
            return
        fi
        deb=$(find "$dir" -maxdepth 1 -name "${pkg}_*.deb" | sort | tail -n 1)
        [[ -n "$deb" ]] || { say "WARNING: apt-get download $pkg left no .deb in $dir"; return; }
    fi
    rm -rf "$out.part"
    dpkg-deb -x "$deb" "$out.part"
    rm -rf "$out"
    mv "$out.part" "$out"
    say "$pkg: extracted $(basename "$deb") in $out"
}

# axe-core (npm), pinned, for tests/browser/test_accessibility.py: Playwright runs it inside
# each page. Installed under .autograder/npm with the machine's npm; never served to users.
AXE_VERSION=4.14.1
setup_axe_core() {
    local dir="$ROOT/.autograder/npm"
    local pkg="$dir/node_modules/axe-core/package.json"
    if [[ -f "$pkg" ]] && grep -q "\"version\": \"$AXE_VERSION\"" "$pkg"; then
        say "axe-core: $AXE_VERSION present"
        return
    fi
    command -v npm >/dev/null || die "npm is missing (apt-get install npm): the accessibility tests need axe-core"
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-audit --no-fund --no-save "axe-core@$AXE_VERSION" >/dev/null
    say "axe-core: installed $AXE_VERSION in $dir"
}

main() {
    local start=$SECONDS
    install_system_packages
    setup_service_venv
    setup_sandbox_venv
    setup_numpy_sandbox_venv
    setup_fashion_mnist
    setup_axe_core
    setup_docker
    setup_vm
    say "setup done in $((SECONDS - start)) s"
}

main "$@"
