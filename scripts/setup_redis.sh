#!/usr/bin/env bash
# Install redis-server (Debian package) for integration tests and local use, if it is missing.
# Idempotent; callable from any cwd. Needs root (or redis-server already on PATH).
# The distro service is never started here: scripts/start_redis.sh runs our own loopback instance.
set -euo pipefail

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
t0=$(date +%s)

if command -v redis-server >/dev/null 2>&1; then
  log "redis-server already installed: $(redis-server --version | head -n1)"
  exit 0
fi
[ "$(id -u)" -eq 0 ] || { log "ERROR: redis-server is missing and installing it needs root (apt-get install redis-server)"; exit 1; }
command -v apt-get >/dev/null 2>&1 || { log "ERROR: redis-server is missing and apt-get is not available"; exit 1; }

export DEBIAN_FRONTEND=noninteractive
# Keep the package's postinst from starting the distro service on 6379 (it would collide with ours):
# a temporary policy-rc.d, unless the machine already has one (Docker-style images do).
cleanup_policy=0
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  cleanup_policy=1
fi
trap 'if [ "$cleanup_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi' EXIT

install() { apt-get install -y --no-install-recommends redis-server; }
if ! apt-cache show redis-server >/dev/null 2>&1; then
  log "package lists do not know redis-server: apt-get update"
  apt-get update
fi
if ! install; then
  # stale lists (404 on a superseded .deb): refresh once and retry
  log "apt-get install failed: apt-get update and retry"
  apt-get update
  install
fi
command -v redis-server >/dev/null 2>&1 || { log "ERROR: redis-server still not on PATH"; exit 1; }
log "installed $(redis-server --version | head -n1) in $(( $(date +%s) - t0 ))s"
