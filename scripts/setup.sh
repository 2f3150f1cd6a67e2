#!/usr/bin/env bash
# Sets up everything the project needs, idempotently:
#   .venv/         the project virtualenv (pip install -e .[test], pinned TF)
#   .venv-legacy/  the legacy consumer (TF 2.15, tensorflow-hub 0.15) for the
#                  hub.Module interop tests, with the TF.js converter too
#   .venv-lite/    the TFLite support library (its protobuf pin conflicts with
#                  TensorFlow's), which writes Lite model metadata; it needs
#                  libusb-1.0, installed from Debian when missing
#   tensorflowjs   the TF.js converter, in .venv without its dependencies
#                  (requirements-tfjs.txt says why)
#   node_modules/  the TF.js runtime for the tests and benchmarks (npm ci of
#                  package-lock.json: tfjs-core, -converter, -backend-wasm,
#                  @tensorflow-models/mobilenet; no install scripts run)
#   bazel          Debian's bazel-bootstrap (skipped with SETUP_BAZEL=0)
#   nginx          Debian's nginx-light, a WebDAV remote cache for the Bazel
#                  tests (skipped with SETUP_BAZEL=0)
# Each venv is rebuilt only when its requirements change.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-python3}

stamp_of() { cat "$@" | sha256sum | cut -c1-16; }

make_venv() {  # make_venv DIR STAMP INSTALL_ARGS...
  local dir=$1 stamp=$2; shift 2
  if [[ -f $dir/.stamp && $(cat "$dir/.stamp") == "$stamp" ]]; then
    return
  fi
  echo "setup: creating $dir"
  rm -rf "$dir"
  "$PYTHON" -m venv "$dir"
  "$dir/bin/pip" install -q --disable-pip-version-check --upgrade pip
  "$dir/bin/pip" install -q --disable-pip-version-check "$@"
  echo "$stamp" > "$dir/.stamp"
}

install_tfjs_converter() {  # install_tfjs_converter VENV_DIR
  if ! "$1/bin/pip" show -q tensorflowjs >/dev/null 2>&1; then
    "$1/bin/pip" install -q --disable-pip-version-check --no-deps \
      -r "$ROOT/requirements-tfjs.txt"
  fi
}

make_venv "$ROOT/.venv" "$(stamp_of setup.py requirements-tfjs.txt)" \
  -e "$ROOT[test]"
install_tfjs_converter "$ROOT/.venv"
# The legacy venv also gets the converter: the tests run its TF Hub path
# there on our TF1 modules (hub.Module), as tfhub.dev converted them.
make_venv "$ROOT/.venv-legacy" \
  "$(stamp_of requirements-legacy.txt requirements-tfjs.txt)" \
  -r "$ROOT/requirements-legacy.txt"
install_tfjs_converter "$ROOT/.venv-legacy"
make_venv "$ROOT/.venv-lite" "$(stamp_of requirements-lite.txt)" \
  -r "$ROOT/requirements-lite.txt"

apt_install() {  # apt_install PACKAGE...
  local sudo=; [[ $(id -u) == 0 ]] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

if ! /sbin/ldconfig -p | grep -q 'libusb-1.0.so.0 '; then
  echo "setup: installing libusb-1.0-0 (Debian), which tflite-support loads"
  apt_install libusb-1.0-0
fi

lock_stamp=$(stamp_of package-lock.json)
if [[ ! -f node_modules/.stamp || $(cat node_modules/.stamp) != "$lock_stamp" ]]; then
  echo "setup: npm ci (TF.js runtime)"
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
  echo "$lock_stamp" > node_modules/.stamp
fi

if [[ ${SETUP_BAZEL:-1} == 1 ]] && ! command -v bazel >/dev/null; then
  echo "setup: installing bazel-bootstrap (Debian)"
  apt_install bazel-bootstrap
fi
# nginx with WebDAV PUT: the HTTP cache Bazel documents, which the Bazel
# remote cache test starts on loopback.
if [[ ${SETUP_BAZEL:-1} == 1 ]] && ! command -v nginx >/dev/null && \
    [[ ! -x /usr/sbin/nginx ]]; then
  echo "setup: installing nginx (Debian), the tests' Bazel remote cache"
  apt_install nginx-light
fi
# Headless Chromium: tests/test_serve.py opens the hub's pages in a real
# browser (screenshots, links, the index's filter).
if ! command -v chromium >/dev/null; then
  echo "setup: installing chromium (Debian), the pages' browser test"
  apt_install chromium
fi
echo "setup: ready (.venv, .venv-legacy, .venv-lite, node_modules$(command -v bazel >/dev/null && echo ', bazel'))"
