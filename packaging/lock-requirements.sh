#!/bin/sh
# Refresh the image's locks from pyproject.toml, with a sha256 hash for every file:
#
#   packaging/requirements.lock        the runtime dependencies ([project] dependencies, the `web`
#                                      extra (the HTTP API and dashboard) and all they pull in),
#                                      installed into the image's venv
#   packaging/build-requirements.lock  what builds candlewick's wheel ([build-system] requires),
#                                      used in the build stage only
#
# Both are resolved for the image's platform, not this machine's: CPython 3.11 (the Dockerfile's
# python:3.11 base) on x86-64 Linux with glibc 2.36 (Debian bookworm; the DS218+ is x86-64).
# Needs uv (`pip install uv`). Run from anywhere:
#
#   packaging/lock-requirements.sh              after editing pyproject.toml: keeps every pin that
#                                               still fits, resolves only what changed
#   packaging/lock-requirements.sh --upgrade    moves every package to the newest release
#   packaging/lock-requirements.sh --upgrade-package httpx    moves one
#
# tests/packaging/test_lock.py fails while a lock no longer matches pyproject.toml.
set -eu

cd "$(dirname "$0")/.."
uv=${UV:-uv}
command -v "$uv" > /dev/null || { echo "uv not found: pip install uv (or set UV=/path/to/uv)" >&2; exit 2; }

target="--python-version 3.11 --python-platform x86_64-manylinux_2_36"
# shellcheck disable=SC2086  # $target is two options on purpose
"$uv" pip compile --quiet --generate-hashes $target --extra web \
    --custom-compile-command "packaging/lock-requirements.sh" \
    --output-file packaging/requirements.lock "$@" pyproject.toml

python3 -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"]))' |
    "$uv" pip compile --quiet --generate-hashes $target \
        --custom-compile-command "packaging/lock-requirements.sh" \
        --output-file packaging/build-requirements.lock "$@" -
