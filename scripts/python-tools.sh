#!/usr/bin/env bash
# Provides the Python programs the MLflow test runs (test/mlflow) and prints them as `export NAME=value`
# lines:
#
#   eval "$(bash scripts/python-tools.sh)"
#
#   CRDSTACK_MLFLOW_ENV   a virtual environment holding what the default MLflow image holds: MLflow at the
#                         image's version, nothing else (scripts/toolchain/mlflow/requirements.txt)
#   CRDSTACK_S3_CLIENT    a folder for PYTHONPATH with boto3, which that image lacks and an S3 artifact
#                         store needs (scripts/toolchain/mlflow/s3-client.txt)
#   CRDSTACK_MOTO_ENV     a virtual environment with moto's S3 server (scripts/toolchain/moto/requirements.txt)
#   CRDSTACK_MLFLOW_CURRENT_ENV
#                         a virtual environment with a current MLflow, which has the Host check 3.1.1 lacks
#                         (scripts/toolchain/mlflow-current/requirements.txt)
#
# Each is installed once from PyPI (wheels only, every package pinned with its hashes) into the cache
# (CRDSTACK_CACHE, default ~/.cache/crdstack), keyed by the version, the Python version and the
# requirements file. Needs Python 3.11 or later with venv (CRDSTACK_PYTHON names another interpreter).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
requirements="$root/scripts/toolchain"
cache=${CRDSTACK_CACHE:-$HOME/.cache/crdstack}
python=${CRDSTACK_PYTHON:-python3}
mkdir -p "$cache"

log() { echo "python-tools: $*" >&2; }
die() { log "$*"; exit 1; }

command -v "$python" >/dev/null || die "the MLflow test needs Python 3.11 or later (python3, or CRDSTACK_PYTHON): none found"
"$python" -c 'import sys, venv; sys.exit(sys.version_info < (3, 11))' 2>/dev/null ||
  die "the MLflow test needs Python 3.11 or later with the venv module; $python is $("$python" --version 2>&1)"
python_version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

# The image the test stands for must be the program's default.
pinned() { sed -n "s/^$1==\([^ ]*\).*/\1/p" "$2"; }
mlflow_version=$(pinned mlflow "$requirements/mlflow/requirements.txt")
grep -q "ghcr.io/mlflow/mlflow:v$mlflow_version\"" "$root/model/config.ts" ||
  die "scripts/toolchain/mlflow/requirements.txt pins mlflow $mlflow_version, which is not the default image's version in model/config.ts: make them agree"

digest() { cat "$@" | sha256sum | cut -c1-12; }

# Installs into "$1" (a venv, or with --target a plain folder); a folder without its `.complete` mark is
# the remains of a failed install and starts over. Virtual environments cannot be moved once made.
install() {
  local what=$1 dir=$2; shift 2
  [ -e "$dir/.complete" ] && return 0
  local started=$SECONDS
  log "installing $what into $dir"
  rm -rf "$dir"
  "$@" >&2 || { rm -rf "$dir"; die "installing $what failed (output above)"; }
  touch "$dir/.complete"
  log "$what installed in $((SECONDS - started))s"
}
pip_install() { "$1/bin/python" -m pip install --disable-pip-version-check --no-input --quiet --only-binary=:all: --require-hashes --no-deps "${@:2}"; }
make_env() { "$python" -m venv "$1" && pip_install "$1" -r "$2"; }

mlflow_env="$cache/mlflow-$mlflow_version-py$python_version-$(digest "$requirements/mlflow/requirements.txt")"
install "MLflow $mlflow_version" "$mlflow_env" make_env "$mlflow_env" "$requirements/mlflow/requirements.txt"

s3_client="$cache/mlflow-s3-client-py$python_version-$(digest "$requirements/mlflow/requirements.txt" "$requirements/mlflow/s3-client.txt")"
install "boto3 $(pinned boto3 "$requirements/mlflow/s3-client.txt")" "$s3_client" \
  pip_install "$mlflow_env" --target "$s3_client" -r "$requirements/mlflow/s3-client.txt"

moto_version=$(pinned 'moto' "$requirements/moto/requirements.txt")
moto_env="$cache/moto-$moto_version-py$python_version-$(digest "$requirements/moto/requirements.txt")"
install "moto $moto_version" "$moto_env" make_env "$moto_env" "$requirements/moto/requirements.txt"

current_version=$(pinned mlflow "$requirements/mlflow-current/requirements.txt")
current_env="$cache/mlflow-$current_version-py$python_version-$(digest "$requirements/mlflow-current/requirements.txt")"
install "MLflow $current_version" "$current_env" make_env "$current_env" "$requirements/mlflow-current/requirements.txt"

log "MLflow $mlflow_version, boto3 layer, moto $moto_version, MLflow $current_version (Python $python_version)"
printf 'export %s=%q\n' CRDSTACK_MLFLOW_ENV "$mlflow_env" CRDSTACK_S3_CLIENT "$s3_client" CRDSTACK_MOTO_ENV "$moto_env" \
  CRDSTACK_MLFLOW_CURRENT_ENV "$current_env"
