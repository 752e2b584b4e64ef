#!/usr/bin/env bash
# Router vs direct benchmark on this machine. Router pinned to core 0 (one core), fake backend and load
# generator on core 1. Traffic goes to 127.0.0.1 only and every load step is bounded in time.
#   bench/run.sh [seconds-per-run]      (default 20)
#   JAVA=/path/to/java bench/run.sh     (the router's JVM; default java on the PATH)
# The router is warmed up for WARMUP seconds (default 60: on one core the JIT needs that long).
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-20}
WARMUP=${WARMUP:-60}
JAVA=${JAVA:-java}
CONC=${CONC:-64}
JAR=target/camel-llm-router.jar
ROUTER_PORT=19100; BACKEND_PORT=19101; SLOW_PORT=19102; SLOW_ROUTER_PORT=19103
OUT="$PWD/bench/results"; mkdir -p "$OUT"
[ -f "$JAR" ] || mvn -B -q -ntp package -DskipTests
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
# run the jar from an empty directory: it then uses the config and routes packaged in it, and edits to
# config/ or routes/ during a run cannot change what is measured
RUN=$(mktemp -d); cp "$JAR" "$RUN/"; JAR="$RUN/camel-llm-router.jar"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done; rm -rf "$RUN"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 1 300); do curl -s -o /dev/null "http://127.0.0.1:$1/health" && return 0; sleep 0.2; done; echo "port $1 not up" >&2; exit 1; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }

taskset -c 1 java -Xmx1g -cp "$JAR" io.github.camelllmrouter.demo.FakeBackendMain --port $BACKEND_PORT --name bench \
  --models bench --chunks 10 --chunk-delay-ms 0 > "$OUT/backend.log" 2>&1 & pids+=($!)
(cd "$RUN" && exec taskset -c 0 "$JAVA" -XX:ActiveProcessorCount=1 -Xms1g -Xmx1g -jar "$JAR" --port $ROUTER_PORT --host 127.0.0.1 \
  --static-backends http://127.0.0.1:$BACKEND_PORT --static-models bench --log-level warning > "$OUT/router.log" 2>&1) & ROUTER=$!; pids+=($ROUTER)
wait_port $BACKEND_PORT; wait_port $ROUTER_PORT

echo "machine: $(nproc) cores, $(awk -F: '/model name/{print $2;exit}' /proc/cpuinfo), router JVM: $("$JAVA" -version 2>&1 | head -1)"
echo "warm-up: ${WARMUP}s through the router"
taskset -c 1 wrk -t1 -c$CONC -d${WARMUP}s -s bench/chat.lua "http://127.0.0.1:$ROUTER_PORT/v1/chat/completions" > /dev/null

t0=$(cpu_ticks $ROUTER)
taskset -c 1 wrk -t1 -c$CONC -d${DUR}s --latency -s bench/chat.lua "http://127.0.0.1:$ROUTER_PORT/v1/chat/completions" | tee "$OUT/wrk-router.txt"
t1=$(cpu_ticks $ROUTER)
taskset -c 1 wrk -t1 -c$CONC -d${DUR}s --latency -s bench/chat.lua "http://127.0.0.1:$BACKEND_PORT/v1/chat/completions" | tee "$OUT/wrk-direct.txt"
reqs=$(awk '/requests in/{print $1}' "$OUT/wrk-router.txt")
hz=$(getconf CLK_TCK)
echo "router CPU: $(( (t1 - t0) * 1000000 / hz / reqs )) us per request ($(( t1 - t0 )) ticks at ${hz} Hz for $reqs requests)"
echo "router RSS after load: $(awk '/VmRSS/{print $2, $3}' /proc/$ROUTER/status), threads: $(awk '/Threads/{print $2}' /proc/$ROUTER/status)"

taskset -c 1 java bench/StreamProbe.java ttfc $ROUTER_PORT $BACKEND_PORT 1000

# 1000 streams open at once: a backend that takes 10 s per stream (20 chunks, 500 ms apart)
taskset -c 1 java -Xmx1g -cp "$JAR" io.github.camelllmrouter.demo.FakeBackendMain --port $SLOW_PORT --name slow \
  --models bench --chunks 20 --chunk-delay-ms 500 > "$OUT/slow-backend.log" 2>&1 & pids+=($!)
(cd "$RUN" && exec taskset -c 0 "$JAVA" -XX:ActiveProcessorCount=1 -Xms1g -Xmx1g -jar "$JAR" --port $SLOW_ROUTER_PORT --host 127.0.0.1 \
  --static-backends http://127.0.0.1:$SLOW_PORT --static-models bench --log-level warning > "$OUT/slow-router.log" 2>&1) & SLOW_ROUTER=$!; pids+=($SLOW_ROUTER)
wait_port $SLOW_PORT; wait_port $SLOW_ROUTER_PORT
( sleep 6; echo "router threads with the streams open: $(awk '/Threads/{print $2}' /proc/$SLOW_ROUTER/status), RSS $(awk '/VmRSS/{print $2, $3}' /proc/$SLOW_ROUTER/status)" ) & PEEK=$!
timeout 120 taskset -c 1 java bench/StreamProbe.java open $SLOW_ROUTER_PORT 1000
wait $PEEK
