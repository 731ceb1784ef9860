#!/usr/bin/env bash
# Write the image's build context to stdout as a tar: exactly the "!" entries of
# docker/Dockerfile.dockerignore (the allow-list), less its "**/" exclusions, read from the
# repository root. `make docker-build` pipes it into `docker build -`, so no builder, legacy or
# BuildKit, is ever sent anything else (the legacy builder ignores Dockerfile-specific ignore files).
# Owners and times are fixed, so the same files give the same tar (and the builder's cache hits).
set -euo pipefail
cd "$(dirname "$0")/.."
ignore=docker/Dockerfile.dockerignore
mapfile -t include < <(sed -n 's/^!//p' "$ignore")
mapfile -t exclude < <(sed -n 's#^\*\*/#--exclude=#p' "$ignore")
exec tar --create --file=- --owner=0 --group=0 --numeric-owner --mtime=2026-01-01 --sort=name \
  "${exclude[@]}" -- "${include[@]}"
