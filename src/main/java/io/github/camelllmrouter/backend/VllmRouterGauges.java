package io.github.camelllmrouter.backend;

import java.io.File;
import java.lang.management.ManagementFactory;
import java.util.Collection;
import java.util.Locale;
import java.util.function.ToDoubleFunction;

import com.sun.management.OperatingSystemMXBean;

/**
 * The vLLM production-stack router's gauges that its Grafana dashboard, prometheus-adapter rules and KEDA
 * triggers read, under its names, types and labels, written as Prometheus text after the registry's own: per
 * backend ({@code server}) {@code vllm:healthy_pods_total}, {@code vllm:num_requests_running} (requests the
 * router has on it, waiting for the first byte or streaming), {@code vllm:num_requests_waiting} and
 * {@code vllm:num_requests_swapped} and the prefix-cache figures (from the engine's own /metrics, with
 * --engine-stats-interval; 0 until scraped), and {@code router_cpu_usage_percent},
 * {@code router_memory_usage_percent}, {@code router_disk_usage_percent} of the machine. They are written here,
 * not through Micrometer, because Prometheus' Java client refuses a gauge whose name ends in {@code _total}.
 */
public final class VllmRouterGauges {

    private static final OperatingSystemMXBean OS = ManagementFactory.getPlatformMXBean(OperatingSystemMXBean.class);

    private VllmRouterGauges() {
    }

    public static String text(Collection<BackendState> backends) {
        StringBuilder b = new StringBuilder();
        perServer(b, "vllm:healthy_pods_total", "Number of healthy vLLM pods", backends, s -> s.available() ? 1 : 0);
        perServer(b, "vllm:num_requests_running", "Number of running requests", backends, s -> s.inFlight() + s.streaming());
        perServer(b, "vllm:num_requests_waiting", "Number of waiting requests (the engine's)", backends,
                s -> engine(s, BackendState.EngineStats::waiting));
        perServer(b, "vllm:num_requests_swapped", "Number of swapped requests (the engine's)", backends,
                s -> engine(s, BackendState.EngineStats::swapped));
        perServer(b, "vllm:gpu_prefix_cache_hit_rate", "GPU prefix cache hit rate", backends,
                s -> engine(s, BackendState.EngineStats::prefixHitRate));
        perServer(b, "vllm:gpu_prefix_cache_hits_total", "GPU prefix cache hits", backends,
                s -> engine(s, BackendState.EngineStats::prefixHits));
        perServer(b, "vllm:gpu_prefix_cache_queries_total", "GPU prefix cache queries", backends,
                s -> engine(s, BackendState.EngineStats::prefixQueries));
        single(b, "router_cpu_usage_percent", "CPU usage percent of the router's machine", Math.max(0, OS.getCpuLoad()) * 100);
        long total = OS.getTotalMemorySize();
        single(b, "router_memory_usage_percent", "Memory usage percent of the router's machine",
                total > 0 ? 100.0 * (total - OS.getFreeMemorySize()) / total : 0);
        File root = new File("/");
        single(b, "router_disk_usage_percent", "Disk usage percent of the router's root filesystem",
                root.getTotalSpace() > 0 ? 100.0 * (root.getTotalSpace() - root.getUsableSpace()) / root.getTotalSpace() : 0);
        return b.toString();
    }

    private static double engine(BackendState s, ToDoubleFunction<BackendState.EngineStats> f) {
        BackendState.EngineStats e = s.engineStats();
        double v = e == null ? 0 : f.applyAsDouble(e);
        return v < 0 ? 0 : v;
    }

    private static void perServer(StringBuilder b, String name, String help, Collection<BackendState> backends,
                                  ToDoubleFunction<BackendState> value) {
        b.append("# HELP ").append(name).append(' ').append(help).append('\n')
         .append("# TYPE ").append(name).append(" gauge\n");
        for (BackendState s : backends) {
            b.append(name).append("{server=\"").append(escape(s.id())).append("\"} ").append(number(value.applyAsDouble(s))).append('\n');
        }
    }

    private static void single(StringBuilder b, String name, String help, double value) {
        b.append("# HELP ").append(name).append(' ').append(help).append('\n')
         .append("# TYPE ").append(name).append(" gauge\n")
         .append(name).append(' ').append(number(value)).append('\n');
    }

    private static String number(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? Long.toString((long) v) + ".0" : String.format(Locale.ROOT, "%.6f", v);
    }

    private static String escape(String label) {
        return label.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }
}
