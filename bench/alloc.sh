#!/usr/bin/env bash
# What one request allocates in the router, which unlike CPU time does not move with this machine's noise: the
# young collector's count and eden from `jstat -gc`, over 10 s of `wrk -c32` after WARM seconds of it (30 by
# default), with the router started as bench/run.sh starts it (pinned to core 0, one processor, the README's JVM
# options). Prints req/s, CPU µs per request and KB allocated per request. 127.0.0.1 only, bounded in time.
#   bench/alloc.sh [JAR] [ROUTES_DIR]     (default target/camel-llm-router.jar and the routes packaged in it)
#   LUA=bench/stream-1k.lua bench/alloc.sh   (streams)    JAVA=/path/to/java bench/alloc.sh
set -euo pipefail
cd "$(dirname "$0")/.."
JAR=${1:-target/camel-llm-router.jar}; ROUTES=${2:-}; CONNS=${CONNS:-32}; LUA=${LUA:-bench/chat-1k.lua}; JAVA=${JAVA:-java}
[ -f "$JAR" ] || mvn -B -q -ntp package -DskipTests
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
RUN=$(mktemp -d); cp "$JAR" "$RUN/r.jar"; [ -n "$ROUTES" ] && cp -r "$ROUTES" "$RUN/routes"
. bench/pair.sh
start_pair 19401 19400 "$RUN/router.log"
rp=$(pgrep -f "r.jar --port 19400")
taskset -c 1 wrk -t1 -c$CONNS -d${WARM:-30}s -s "$LUA" http://127.0.0.1:19400/v1/chat/completions > /dev/null
g0=$(jstat -gc "$rp" | tail -1); t0=$(awk '{print $14+$15}' "/proc/$rp/stat")
out=$(taskset -c 1 wrk -t1 -c$CONNS -d10s -s "$LUA" http://127.0.0.1:19400/v1/chat/completions)
t1=$(awk '{print $14+$15}' "/proc/$rp/stat"); g1=$(jstat -gc "$rp" | tail -1)
n=$(echo "$out" | awk '/requests in/{print $1}'); bad=$(echo "$out" | awk '/Non-2xx/{print $NF}')
# KB allocated: eden's growth plus one eden per young collection (jstat -gc: EC is column 5, EU 6, YGC 13)
kb=$(echo "$g0 $g1" | awk '{ n = NF / 2; printf "%.1f", ($(n + 6) - $6) + ($(n + 13) - $13) * $(n + 5) }')
echo "$(echo "$out" | awk '/Requests\/sec/{print $2}') req/s, $(( (t1 - t0) * 10000 / n )) µs CPU/request," \
  "$(awk -v k="$kb" -v n="$n" 'BEGIN{printf "%.2f", k/n}') KB allocated/request, non-2xx ${bad:-0}"
