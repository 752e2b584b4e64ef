#!/usr/bin/env bash
# Interleaved before/after comparison of two router jars (non-stream throughput only), for a change whose
# cost may hide in this VM's run-to-run noise. Router pinned to core 0, backend and wrk to core 1,
# 127.0.0.1 only, every step bounded in time.
#   bench/ab.sh OLD.jar NEW.jar [rounds]       (default 5 rounds; JAVA=/path/to/java for the router)
#   OPTS="-Xms32m -Xmx256m" LUA=bench/chat-1k.lua CONNS=32 bench/ab.sh ...   (bench/run.sh's conditions)
#   NEW_OPTS="... -XX:+SomeFlag" bench/ab.sh J.jar J.jar           (one jar, JVM options A/B: OLD_OPTS, NEW_OPTS)
set -euo pipefail
cd "$(dirname "$0")/.."
OLD=$1; NEW=$2; ROUNDS=${3:-5}
JAVA=${JAVA:-java}
OPTS=${OPTS:-"-Xms1g -Xmx1g"}; OLD_OPTS=${OLD_OPTS:-$OPTS}; NEW_OPTS=${NEW_OPTS:-$OPTS}; LUA=${LUA:-bench/chat.lua}; CONNS=${CONNS:-64}
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }

one() {
    local jar=$1 opts=$2 run pids=() rp t0 t1 out n
    run=$(mktemp -d); cp "$jar" "$run/r.jar"
    taskset -c 1 java -cp "$run/r.jar" io.github.camelllmrouter.demo.FakeBackendMain --port 19301 --name b \
        --models bench --chunks 10 --chunk-delay-ms 0 > /dev/null 2>&1 & pids+=($!)
    (cd "$run" && exec taskset -c 0 "$JAVA" -XX:ActiveProcessorCount=1 $opts -jar r.jar --port 19300 \
        --host 127.0.0.1 --static-backends http://127.0.0.1:19301 --static-models bench --log-level warning > /dev/null 2>&1) & rp=$!; pids+=($rp)
    for _ in $(seq 1 150); do curl -s -o /dev/null http://127.0.0.1:19300/health && curl -s -o /dev/null http://127.0.0.1:19301/health && break; sleep 0.2; done
    rp=$(pgrep -f "r.jar --port 19300")
    taskset -c 1 wrk -t1 -c$CONNS -d30s -s $LUA http://127.0.0.1:19300/v1/chat/completions > /dev/null
    t0=$(awk '{print $14+$15}' "/proc/$rp/stat")
    out=$(taskset -c 1 wrk -t1 -c$CONNS -d15s -s $LUA http://127.0.0.1:19300/v1/chat/completions)
    t1=$(awk '{print $14+$15}' "/proc/$rp/stat")
    n=$(echo "$out" | awk '/requests in/{print $1}')
    echo "$(echo "$out" | awk '/Requests\/sec/{print $2}') req/s, $(( (t1 - t0) * 10000 / n )) us CPU/request"
    kill "${pids[@]}" 2>/dev/null || true; wait "${pids[@]}" 2>/dev/null || true; rm -rf "$run"
}

# the order alternates (old first in odd rounds, new first in even ones), so that a disturbance that comes back
# with the rounds' period falls on both sides: with old always first, one side was the slower in six rounds of six
# for two runs whose options were swapped (docs/benchmarks.md, "ab.sh's order")
for i in $(seq 1 "$ROUNDS"); do
    if (( i % 2 )); then
        echo "round $i old: $(one "$OLD" "$OLD_OPTS")"
        echo "round $i new: $(one "$NEW" "$NEW_OPTS")"
    else
        echo "round $i new: $(one "$NEW" "$NEW_OPTS")"
        echo "round $i old: $(one "$OLD" "$OLD_OPTS")"
    fi
done
