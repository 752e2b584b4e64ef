#!/usr/bin/env bash
# Throughput with inbound API keys and rate limits on, next to keys off, in one interleaved run: three routers
# from the same jar (keys off; keys with limits counted in the router; keys with limits shared in Redis), each
# pinned to core 0 with one processor and loaded in turn; the fake backend, redis-server and wrk share core 1.
# The key's limits are set high enough that nothing is refused: what is measured is their cost.
#   bench/keys.sh [seconds-per-round] [rounds]     (default 8 s, 3 rounds, after 45 s of warm-up each: with one
#   processor the JIT compiler shares the core, and a router with more code on its path needs longer to be compiled)
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-8}; ROUNDS=${2:-3}; WARMUP=${WARMUP:-45}
JAVA=${JAVA:-java}
ROUTER_OPTS=${ROUTER_OPTS-"-Xms32m -Xmx256m"}   # the JVM options of the README's run command
JAR=target/camel-llm-router.jar
BACKEND_PORT=19201; OFF_PORT=19210; LOCAL_PORT=19211; REDIS_ROUTER_PORT=19212; REDIS_PORT=19220
KEY=sk-bench-key-0001
OUT="$PWD/bench/results"; mkdir -p "$OUT"
[ -f "$JAR" ] || mvn -B -q -ntp package -DskipTests
command -v wrk >/dev/null && command -v redis-server >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk redis-server; }
RUN=$(mktemp -d); cp "$JAR" "$RUN/"; JAR="$RUN/camel-llm-router.jar"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done; rm -rf "$RUN"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 1 300); do curl -s -o /dev/null "http://127.0.0.1:$1/health" && return 0; sleep 0.2; done; echo "port $1 not up" >&2; exit 1; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }

cat > "$RUN/keys.yaml" <<YAML
keys:
  - name: bench
    sha256: $(printf %s "$KEY" | sha256sum | cut -d' ' -f1)
    models: ["bench*"]
    limits: { requests_per_minute: 1000000000, tokens_per_minute: 60000000000, max_concurrent_requests: 10000 }
model_limits:
  bench: { requests_per_minute: 1000000000 }
YAML
taskset -c 1 redis-server --port $REDIS_PORT --bind 127.0.0.1 --save "" --appendonly no > "$OUT/redis.log" 2>&1 & pids+=($!)
taskset -c 1 java -Xmx1g -cp "$JAR" io.github.camelllmrouter.demo.FakeBackendMain --port $BACKEND_PORT --name bench \
  --models bench > "$OUT/keys-backend.log" 2>&1 & pids+=($!)
declare -A PID
router() { # name, port, extra flags...
  local name=$1 port=$2; shift 2
  (cd "$RUN" && exec taskset -c 0 "$JAVA" -XX:ActiveProcessorCount=1 $ROUTER_OPTS -jar "$JAR" --port "$port" --host 127.0.0.1 \
    --static-backends http://127.0.0.1:$BACKEND_PORT --static-models bench --log-level warning "$@" > "$OUT/keys-router-$port.log" 2>&1) &
  pids+=($!); PID[$name]=$!
}
router off $OFF_PORT
router keys $LOCAL_PORT --api-keys-file keys.yaml
router redis $REDIS_ROUTER_PORT --api-keys-file keys.yaml --rate-limit-redis-url redis://127.0.0.1:$REDIS_PORT
declare -A URL=([off]="http://127.0.0.1:$OFF_PORT" [keys]="http://127.0.0.1:$LOCAL_PORT" [redis]="http://127.0.0.1:$REDIS_ROUTER_PORT")
wait_port $BACKEND_PORT; for t in off keys redis; do wait_port "${URL[$t]##*:}"; done
TARGETS="off keys redis"
echo "router JVM: $("$JAVA" -version 2>&1 | head -1), options: -XX:ActiveProcessorCount=1 $ROUTER_OPTS; $(redis-server --version | cut -d' ' -f1-3)"
for t in $TARGETS; do
  taskset -c 1 wrk -t1 -c32 -d${WARMUP}s -s bench/chat-1k.lua -H "Authorization: Bearer $KEY" "${URL[$t]}/v1/chat/completions" > /dev/null
done
declare -A RPS CPU BAD P50
for r in $(seq 1 "$ROUNDS"); do
  for t in $TARGETS; do
    c0=$(cpu_ticks "${PID[$t]}")
    taskset -c 1 wrk -t1 -c32 -d${DUR}s --latency -s bench/chat-1k.lua -H "Authorization: Bearer $KEY" "${URL[$t]}/v1/chat/completions" > "$OUT/keys-$t-$r.txt"
    c1=$(cpu_ticks "${PID[$t]}")
    n=$(awk '/requests in/{print $1}' "$OUT/keys-$t-$r.txt")
    RPS[$t]+="$(awk '/Requests\/sec/{print $2}' "$OUT/keys-$t-$r.txt") "
    CPU[$t]+="$(( (c1 - c0) * 1000000 / $(getconf CLK_TCK) / n )) "
    BAD[$t]=$(( ${BAD[$t]:-0} + $(awk '/Non-2xx/{print $NF}' "$OUT/keys-$t-$r.txt" | grep . || echo 0) ))
    taskset -c 1 wrk -t1 -c1 -d$(( DUR / 2 ))s --latency -s bench/chat-1k.lua -H "Authorization: Bearer $KEY" "${URL[$t]}/v1/chat/completions" > "$OUT/keys-$t-1-$r.txt"
    P50[$t]+="$(awk '/ 50%/{v=$2; if (v ~ /us$/) print v/1000; else if (v ~ /ms$/) print v+0; else print v*1000}' "$OUT/keys-$t-1-$r.txt") "
  done
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
off=$(echo "${RPS[off]}" | median)
echo
echo "medians of $ROUNDS interleaved rounds of ${DUR}s (off, keys, redis), 32 connections; p50 at 1 connection"
echo "| router | req/s | vs keys off | non-2xx | CPU µs/req | p50 at 1 conn |"
echo "|---|---:|---:|---:|---:|---:|"
for t in $TARGETS; do
  rps=$(echo "${RPS[$t]}" | median)
  printf "| %s | %s | %s | %s | %s | %s ms |\n" "$t" "$rps" "$(awk -v a=$rps -v b=$off 'BEGIN{printf "%.2f", a/b}')" "${BAD[$t]}" \
    "$(echo "${CPU[$t]}" | median)" "$(echo "${P50[$t]}" | median)"
done
