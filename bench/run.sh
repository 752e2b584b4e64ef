#!/usr/bin/env bash
# One run, side by side on this 2-core machine: the backend called directly, nginx as a plain reverse proxy to
# it, and the router. nginx (one worker) and the router (-XX:ActiveProcessorCount=1) are each pinned to core 0
# alone; the fake backend and the load generator share core 1. Traffic goes to 127.0.0.1 only and every load step
# is bounded in time.
#   bench/run.sh [seconds-per-round]   (default 8: WARMUP seconds of warm-up each, 45 by default, then 3 interleaved rounds)
#   JAVA=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java bench/run.sh
#   STREAMS=10000 bench/run.sh          (streams held open at once at the end; see docs/benchmarks.md)
#   STREAMS_HTTP2=false bench/run.sh    (those streams over HTTP/1.1 to the backend: two files each, so 10,000 do not
#                                        fit in this machine's 20,000; HTTP/2, the default here, needs one)
#   PARTS=streams bench/run.sh          (only the streams; PARTS=load only the load and the probes)
# The router is started as the README starts it (its JVM options, ROUTER_OPTS), plus the pinning.
set -euo pipefail
cd "$(dirname "$0")/.."
DUR=${1:-8}
WARMUP=${WARMUP:-45}   # with one processor the JIT shares the core: 15 s left the router still compiling
ROUNDS=${ROUNDS:-3}
STREAMS=${STREAMS:-10000}
STREAMS_HTTP2=${STREAMS_HTTP2:-true}
PARTS=${PARTS:-"load streams"}
JAVA=${JAVA:-java}
ROUTER_OPTS=${ROUTER_OPTS-"-Xms32m -Xmx256m"}   # the JVM options of the README's run command
JAR=target/camel-llm-router.jar
ROUTER_PORT=19100; BACKEND_PORT=19101; SLOW_PORT=19102; SLOW_ROUTER_PORT=19103; NGINX_PORT=19104
OUT="$PWD/bench/results"; mkdir -p "$OUT"
[ -f "$JAR" ] || mvn -B -q -ntp package -DskipTests
command -v wrk >/dev/null && command -v nginx >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk nginx-light; }
# run the jar from an empty directory: it then uses the config and routes packaged in it
RUN=$(mktemp -d); cp "$JAR" "$RUN/"; JAR="$RUN/camel-llm-router.jar"

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done; rm -rf "$RUN"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 1 300); do curl -s -o /dev/null "http://127.0.0.1:$1/health" && return 0; sleep 0.2; done; echo "port $1 not up" >&2; exit 1; }
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) print v/1000; else if (v ~ /ms$/) print v+0; else if (v ~ /s$/) print v*1000; else print v }'; }

taskset -c 1 java -Xmx1g -cp "$JAR" io.github.camelllmrouter.demo.FakeBackendMain --port $BACKEND_PORT --name bench \
  --models bench --chunks 10 --chunk-delay-ms 0 > "$OUT/backend.log" 2>&1 & pids+=($!)
mkdir -p "$RUN/nginx/logs"
cat > "$RUN/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $RUN/nginx/nginx.pid;
error_log stderr warn;
events { worker_connections 4096; }
http {
  access_log off;
  upstream backend { server 127.0.0.1:$BACKEND_PORT; keepalive 64; }
  server {
    listen 127.0.0.1:$NGINX_PORT;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
CONF
taskset -c 0 nginx -p "$RUN/nginx" -c "$RUN/nginx/nginx.conf" > "$OUT/nginx.log" 2>&1 & NGINX=$!; pids+=($NGINX)
(cd "$RUN" && exec taskset -c 0 "$JAVA" -XX:ActiveProcessorCount=1 $ROUTER_OPTS -jar "$JAR" --port $ROUTER_PORT --host 127.0.0.1 \
  --static-backends http://127.0.0.1:$BACKEND_PORT --static-models bench --log-level warning > "$OUT/router.log" 2>&1) & ROUTER=$!; pids+=($ROUTER)
wait_port $BACKEND_PORT; wait_port $ROUTER_PORT
for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$NGINX_PORT/v1/models" && break; sleep 0.1; done
NGINX_WORKER=$(pgrep -P $NGINX | head -1)

if [[ " $PARTS " == *" load "* ]]; then

echo "machine: $(nproc) cores, $(awk -F: '/model name/{print $2;exit}' /proc/cpuinfo)"
echo "router JVM: $("$JAVA" -version 2>&1 | head -1), options: -XX:ActiveProcessorCount=1 $ROUTER_OPTS"
echo "nginx: $(nginx -v 2>&1), one worker"
declare -A URL=([direct]="http://127.0.0.1:$BACKEND_PORT" [nginx]="http://127.0.0.1:$NGINX_PORT" [router]="http://127.0.0.1:$ROUTER_PORT")
declare -A PID=([nginx]=$NGINX_WORKER [router]=$ROUTER)
TARGETS="direct nginx router"
for t in nginx router; do
  taskset -c 1 wrk -t1 -c32 -d${WARMUP}s -s bench/chat-1k.lua "${URL[$t]}/v1/chat/completions" > /dev/null
done

declare -A RPS CPU P50 BAD
for r in $(seq 1 "$ROUNDS"); do
  for t in $TARGETS; do
    [ -n "${PID[$t]:-}" ] && c0=$(cpu_ticks "${PID[$t]}")
    taskset -c 1 wrk -t1 -c32 -d${DUR}s --latency -s bench/chat-1k.lua "${URL[$t]}/v1/chat/completions" > "$OUT/wrk-$t-32-$r.txt"
    n=$(awk '/requests in/{print $1}' "$OUT/wrk-$t-32-$r.txt")
    RPS[$t]+="$(awk '/Requests\/sec/{print $2}' "$OUT/wrk-$t-32-$r.txt") "
    BAD[$t]=$(( ${BAD[$t]:-0} + $(awk '/Non-2xx/{print $NF}' "$OUT/wrk-$t-32-$r.txt" | grep . || echo 0) ))
    if [ -n "${PID[$t]:-}" ]; then
      c1=$(cpu_ticks "${PID[$t]}")
      CPU[$t]+="$(( (c1 - c0) * 1000000 / $(getconf CLK_TCK) / n )) "
    fi
  done
  for t in $TARGETS; do
    taskset -c 1 wrk -t1 -c1 -d${DUR}s --latency -s bench/chat-1k.lua "${URL[$t]}/v1/chat/completions" > "$OUT/wrk-$t-1-$r.txt"
    P50[$t]+="$(ms "$(awk '/ 50%/{print $2}' "$OUT/wrk-$t-1-$r.txt")") "
  done
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
taskset -c 1 java bench/StreamProbe.java ttfc3 $BACKEND_PORT $NGINX_PORT $ROUTER_PORT 1000 > "$OUT/ttfc.txt"
# the same one-at-a-time latency for streams and plain answers, on fresh and on kept-alive connections
taskset -c 1 java bench/LatencyProbe.java $BACKEND_PORT $NGINX_PORT $ROUTER_PORT 500 > "$OUT/latency.txt"
RSS=$(awk '/VmRSS/{print $2/1024}' /proc/$ROUTER/status); THREADS=$(awk '/Threads/{print $2}' /proc/$ROUTER/status)
NGINX_RSS=$(awk '/VmRSS/{print $2/1024}' /proc/$NGINX_WORKER/status)
nginx_rps=$(echo "${RPS[nginx]}" | median); direct_p50=$(echo "${P50[direct]}" | median)

echo
echo "medians of $ROUNDS interleaved rounds of ${DUR}s (each round: direct, nginx, router), after ${WARMUP}s of warm-up each"
echo "| target | req/s, 32 conns | vs nginx | non-2xx | CPU µs/req | p50 at 1 conn | added p50 | first-chunk overhead p50 / p99 | RSS |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for t in $TARGETS; do
  rps=$(echo "${RPS[$t]}" | median); p50=$(echo "${P50[$t]}" | median)
  cpu=$( [ -n "${CPU[$t]:-}" ] && echo "${CPU[$t]}" | median || echo "")
  ttfc=$(awk -v t=$t '$1=="overhead" && $2==t {print $3" / "$4}' "$OUT/ttfc.txt")
  rss=$( [ $t = router ] && echo "${RSS} MB" || { [ $t = nginx ] && echo "${NGINX_RSS} MB"; } || true)
  printf "| %s | %s | %s | %s | %s | %.3f ms | %s | %s | %s |\n" $t "$rps" "$(awk -v a=$rps -v b=$nginx_rps 'BEGIN{printf "%.2f", a/b}')" \
    "${BAD[$t]}" "$cpu" "$p50" "$( [ $t = direct ] && echo "" || awk -v a=$p50 -v b=$direct_p50 'BEGIN{printf "%+.3f ms", a-b}')" "$ttfc" "$rss"
done
echo "router threads after the load: $THREADS"
cat "$OUT/ttfc.txt"
echo "one request at a time (bench/LatencyProbe.java; nginx is port $NGINX_PORT, the router $ROUTER_PORT):"
cat "$OUT/latency.txt"
fi
[[ " $PARTS " == *" streams "* ]] || exit 0

# STREAMS streams open at once: a backend that takes 60 s per stream (120 chunks, 500 ms apart); the streams
# start evenly over 30 s (the fake backend shares its core with the probe, and a burst of thousands of connects
# overflows the kernel's SYN queue, 2,048 here: the router's 2 s connect timeout then fires), so all are open
# together from 30 s to 60 s
taskset -c 1 java -Xmx2g -cp "$JAR" io.github.camelllmrouter.demo.FakeBackendMain --port $SLOW_PORT --name slow \
  --models bench --chunks 120 --chunk-delay-ms 500 > "$OUT/slow-backend.log" 2>&1 & pids+=($!)
# one backend takes all the streams here: its requests in flight (camel.component.llm.max-connections-per-backend,
# 4,000 by default) are raised to STREAMS, so the streams are all open at once instead of waiting for a connection;
# with STREAMS_HTTP2 the router calls it over HTTP/2 (camel.component.llm.http2), 100 streams per connection
mkdir -p "$RUN/streams/config"
sed -e "s/^camel.component.llm.max-connections-per-backend = .*/camel.component.llm.max-connections-per-backend = $STREAMS/" \
  -e "s/^camel.component.llm.http2 = .*/camel.component.llm.http2 = $STREAMS_HTTP2/" \
  config/application.properties > "$RUN/streams/config/application.properties"
echo "streams: $STREAMS, HTTP/2 to the backend: $STREAMS_HTTP2"
(cd "$RUN/streams" && exec taskset -c 0 "$JAVA" -XX:ActiveProcessorCount=1 $ROUTER_OPTS -jar "$JAR" --port $SLOW_ROUTER_PORT --host 127.0.0.1 \
  --static-backends http://127.0.0.1:$SLOW_PORT --static-models bench --log-level warning > "$OUT/slow-router.log" 2>&1) & SLOW_ROUTER=$!; pids+=($SLOW_ROUTER)
wait_port $SLOW_PORT; wait_port $SLOW_ROUTER_PORT
( sleep 40; echo "router with the streams open: threads $(awk '/Threads/{print $2}' /proc/$SLOW_ROUTER/status), RSS $(awk '/VmRSS/{print $2/1024}' /proc/$SLOW_ROUTER/status) MB, open files $(ls /proc/$SLOW_ROUTER/fd | wc -l), connections to the backend $(ss -Htn state established "dst 127.0.0.1:$SLOW_PORT" | wc -l)" ) & PEEK=$!
timeout 240 taskset -c 1 java -Xmx2g bench/StreamProbe.java open $SLOW_ROUTER_PORT "$STREAMS" 30000
wait $PEEK
