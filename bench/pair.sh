# Sourced by bench/profile.sh and bench/alloc.sh: a fake backend on core 1 and a router on core 0 alone (one
# processor, the README's JVM options), both from the jar copied to $RUN/r.jar, killed when the script exits.
#   start_pair BACKEND_PORT ROUTER_PORT ROUTER_LOG    sets ROUTER (its pid) and returns once both answer /health
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$RUN"; }
trap cleanup EXIT
start_pair() {
  taskset -c 1 java -cp "$RUN/r.jar" io.github.camelllmrouter.demo.FakeBackendMain --port "$1" --name b --models bench \
    --chunks 10 --chunk-delay-ms 0 > /dev/null 2>&1 & pids+=($!)
  (cd "$RUN" && exec taskset -c 0 "$JAVA" -XX:ActiveProcessorCount=1 -Xms32m -Xmx256m -jar r.jar --port "$2" --host 127.0.0.1 \
    --static-backends "http://127.0.0.1:$1" --static-models bench --log-level warning > "$3" 2>&1) & ROUTER=$!; pids+=($ROUTER)
  for p in "$1" "$2"; do for _ in $(seq 1 150); do curl -s -o /dev/null "http://127.0.0.1:$p/health" && break; sleep 0.2; done; done
}
