#!/usr/bin/env bash
# Sets up everything the project needs, idempotently:
#   .venv/         the project virtualenv (pip install -e .[test], pinned TF)
#   .venv-legacy/  the legacy consumer (TF 2.15, tensorflow-hub 0.15) for the
#                  hub.Module interop tests
#   .venv-lite/    the TFLite support library (its protobuf pin conflicts with
#                  TensorFlow's), which writes Lite model metadata; it needs
#                  libusb-1.0, installed from Debian when missing
#   bazel          Debian's bazel-bootstrap (skipped with SETUP_BAZEL=0)
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

make_venv "$ROOT/.venv" "$(stamp_of setup.py)" -e "$ROOT[test]"
make_venv "$ROOT/.venv-legacy" "$(stamp_of requirements-legacy.txt)" \
  -r "$ROOT/requirements-legacy.txt"
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

if [[ ${SETUP_BAZEL:-1} == 1 ]] && ! command -v bazel >/dev/null; then
  echo "setup: installing bazel-bootstrap (Debian)"
  apt_install bazel-bootstrap
fi
echo "setup: ready (.venv, .venv-legacy, .venv-lite$(command -v bazel >/dev/null && echo ', bazel'))"
