#!/usr/bin/env bash
# A stand-in for the official python:3.11-slim-bookworm base, for machines that reach Debian's and
# Python's package registries but no image registry: Debian bookworm bootstrapped with debootstrap
# (Python 3.11, venv, CA certificates), trimmed as Debian's slim images are, imported into the engine.
#
#   docker/base.sh IMAGE [DOCKER]      e.g. docker/base.sh sparkcourse-base:bookworm docker
#
# The root file system is kept as a tarball in the cache (~/.cache/sparkcourse), named by RECIPE
# below, so a later run (or CI on the same machine) imports it in seconds instead of bootstrapping
# for a minute or more. This machine's extra CA certificates go into the base, so that builds
# on it reach the registries through its TLS-inspecting egress, as the host itself does.
# Needs root (debootstrap, chroot) and Debian's debootstrap package.
set -euo pipefail

image="${1:?usage: docker/base.sh IMAGE [DOCKER]}"
docker="${2:-docker}"
# Bump when what goes into the root file system changes: it names the cached tarball and labels the image.
version=1
cache="${SPARKCOURSE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sparkcourse}"
tarball="$cache/base-bookworm-v$version.tar"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if $docker image inspect "$image" >/dev/null 2>&1 \
  && [ "$($docker image inspect --format '{{index .Config.Labels "sparkcourse.base"}}' "$image")" = "$version" ]; then
  echo "base image $image is up to date ($version)"
  exit 0
fi

if [ ! -f "$tarball" ]; then
  command -v debootstrap >/dev/null || { echo "debootstrap is missing: apt-get install debootstrap" >&2; exit 1; }
  mkdir -p "$cache"
  rootfs="$(mktemp -d "$cache/rootfs.XXXXXX")"
  trap 'rm -rf "$rootfs"' EXIT
  echo "bootstrapping Debian bookworm into $rootfs (about a minute)"
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 \
    || { tail -20 "$rootfs.log" >&2; exit 1; }
  rm -f "$rootfs.log"
  # The same suites as Debian's own images: point releases and security updates.
  cat >"$rootfs/etc/apt/sources.list" <<SOURCES
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb ${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security} bookworm-security main
SOURCES
  # As in debian:bookworm-slim: no documentation, manual pages or translations in later installs.
  cat >"$rootfs/etc/dpkg/dpkg.cfg.d/slim" <<'SLIM'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
SLIM
  find "$rootfs/usr/share/doc" -mindepth 2 ! -name copyright -delete 2>/dev/null || true
  rm -rf "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/var/cache/apt/*.bin \
    "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
  # This machine's extra certificate authorities, installed the Debian way so that later
  # update-ca-certificates runs (ca-certificates-java, pulled in by the JRE) keep them.
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
    chroot "$rootfs" update-ca-certificates >/dev/null 2>&1
  fi
  tar --create --file="$tarball.tmp" --numeric-owner -C "$rootfs" .
  mv "$tarball.tmp" "$tarball"
  rm -rf "$rootfs"
  trap - EXIT
fi

echo "importing $tarball as $image"
$docker import --change 'CMD ["python3"]' --change 'ENV LANG=C.UTF-8' \
  --change "LABEL sparkcourse.base=$version" "$tarball" "$image" >/dev/null
