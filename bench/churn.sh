#!/usr/bin/env bash
# Closed-loop load with connections opened and closed between runs, as wrk does (it closes its connections,
# requests in flight included, at the end of each run): ROUNDS runs alternating 32 connections and 1 connection,
# SECS seconds each, against two healthy backends of m-a (which falls back to m-b) whose keep-alive timeout
# (2 s) is shorter than the router's pool idle time, so pooled connections are closed under the router too.
# Prints each run's answers and non-2xx count, then what the fallback received and the router counted.
#   bench/churn.sh            (SECS=30 ROUNDS=4)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${SECS:-30}
ROUNDS=${ROUNDS:-4}
JAVA=${JAVA:-java}
JAR=target/camel-llm-router.jar
ROUTER_PORT=19200; A1=19201; A2=19202; B1=19203
OUT="$PWD/bench/results"; mkdir -p "$OUT"
[ -f "$JAR" ] || mvn -B -q -ntp package -DskipTests
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
RUN=$(mktemp -d); cp "$JAR" "$RUN/"; JAR="$RUN/camel-llm-router.jar"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done; rm -rf "$RUN"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 1 300); do curl -s -o /dev/null "http://127.0.0.1:$1/health" && return 0; sleep 0.2; done; echo "port $1 not up" >&2; exit 1; }

for b in "a1 $A1 m-a" "a2 $A2 m-a" "b1 $B1 m-b"; do
  set -- $b
  taskset -c 1 java -Xmx512m -cp "$JAR" io.github.camelllmrouter.demo.FakeBackendMain --port "$2" --name "$1" \
    --models "$3" --idle-timeout-ms 2000 --max-records 0 > "$OUT/churn-$1.log" 2>&1 & pids+=($!)
done
(cd "$RUN" && exec taskset -c 0 "$JAVA" -jar "$JAR" --port $ROUTER_PORT --host 127.0.0.1 \
  --static-backends "http://127.0.0.1:$A1,http://127.0.0.1:$A2,http://127.0.0.1:$B1" --static-models m-a,m-a,m-b \
  --static-fallback-models m-a:m-b > "$OUT/churn-router.log" 2>&1) & pids+=($!)
for p in $A1 $A2 $B1 $ROUTER_PORT; do wait_port $p; done

echo "machine: $(nproc) cores, router JVM: $("$JAVA" -version 2>&1 | head -1)"
echo "| run | connections | seconds | answers | non-2xx | socket errors |"
echo "|---|---:|---:|---:|---:|---|"
for i in $(seq 1 "$ROUNDS"); do
  c=$(( i % 2 == 1 ? 32 : 1 ))
  taskset -c 1 wrk -t1 -c$c -d${SECS}s -s bench/chat-m-a.lua "http://127.0.0.1:$ROUTER_PORT/v1/chat/completions" > "$OUT/churn-wrk-$i.txt"
  n=$(awk '/requests in/{print $1}' "$OUT/churn-wrk-$i.txt")
  bad=$(awk '/Non-2xx/{print $NF}' "$OUT/churn-wrk-$i.txt"); bad=${bad:-0}
  sock=$(grep -o 'Socket errors:.*' "$OUT/churn-wrk-$i.txt" || echo none)
  echo "| $i | $c | $SECS | $n | $bad | $sock |"
done
metrics=$(curl -s "http://127.0.0.1:$ROUTER_PORT/metrics")
echo
echo "fallback requests (llm_router_fallbacks_total): $(echo "$metrics" | awk '/^llm_router_fallbacks_total/{s+=$2} END{print s+0}')"
echo "requests the router recorded as client_closed: $(echo "$metrics" | awk '/^llm_router_requests_total/ && /client_closed/{s+=$2} END{print s+0}')"
echo "backend failures (llm_router_attempts_total, outcome not success): $(echo "$metrics" | awk '/^llm_router_attempts_total/ && !/outcome="success"/ && !/client_error/{s+=$2} END{print s+0}')"
echo "m-a breaker: $(echo "$metrics" | grep 'resilience4j_circuitbreaker_state{name="breaker-m-a"' | awk '$2==1.0{print $1}')"
echo "router log warnings: $(grep -c ' WARN ' "$OUT/churn-router.log" || true)"
