package io.github.camelllmrouter;

import java.util.Map;
import java.util.concurrent.TimeUnit;

import io.github.camelllmrouter.demo.FakeOpenAiBackend;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The series the vLLM production stack's Grafana dashboard, prometheus-adapter rules and KEDA triggers query from
 * the router (docs/vllm-metrics.md lists them, with the queries), under vLLM's names, types, labels and label
 * values, so they work unchanged against this router.
 */
class VllmMetricsTest {

    final RouterFixture f = new RouterFixture();

    @AfterEach
    void stop() {
        f.close();
    }

    @Test
    void the_vllm_dashboard_and_autoscaling_series_are_on_metrics_as_vllm_writes_them() throws Exception {
        FakeOpenAiBackend a1 = f.backend("a1", "m-a");
        f.start(Map.of(), "--static-backends", a1.url(), "--static-models", "m-a", "--static-aliases", "fast:m-a",
                "--engine-stats-interval", "1");
        for (String model : new String[] {"m-a", "fast", "fast"}) {
            assertThat(f.post("/v1/chat/completions", RouterFixture.chat(model)).statusCode()).isEqualTo(200);
        }
        String server = "{server=\"" + a1.url() + "\"}";
        // the engine's own stats come with the next scrape (every second)
        await().atMost(10, TimeUnit.SECONDS).until(() -> f.get("/metrics").body().contains("vllm:gpu_prefix_cache_hit_rate" + server + " 0.75"));
        String m = f.get("/metrics").body();

        // router dashboard (helm/dashboards/vllm-dashboard.json) and its terraform copies: gauges by server
        for (String gauge : new String[] {"vllm:healthy_pods_total", "vllm:num_requests_running", "vllm:num_requests_waiting",
            "vllm:num_requests_swapped", "vllm:gpu_prefix_cache_hit_rate", "vllm:gpu_prefix_cache_hits_total",
            "vllm:gpu_prefix_cache_queries_total"}) {
            assertThat(m).as(gauge).contains("# TYPE " + gauge + " gauge\n").contains(gauge + server + " ");
        }
        assertThat(m).contains("vllm:healthy_pods_total" + server + " 1.0");
        assertThat(m).contains("vllm:gpu_prefix_cache_hits_total" + server + " 300.0");
        assertThat(m).contains("vllm:gpu_prefix_cache_queries_total" + server + " 400.0");
        assertThat(m).containsPattern("vllm:current_qps\\{server=\"" + a1.url() + "\"\\} ");
        for (String gauge : new String[] {"router_cpu_usage_percent", "router_memory_usage_percent", "router_disk_usage_percent"}) {
            assertThat(m).as(gauge).contains("# TYPE " + gauge + " gauge\n").containsPattern("\n" + gauge + " [0-9.]+\n");
        }
        // prometheus-adapter and KEDA: sum by (model) (vllm:num_incoming_requests_total), rate(...{model=...}):
        // a counter by the resolved model, so the alias' requests count for m-a
        assertThat(m).contains("# TYPE vllm:num_incoming_requests_total counter");
        assertThat(m).contains("vllm:num_incoming_requests_total{model=\"m-a\"} 3.0");
        assertThat(m).doesNotContain("vllm:num_incoming_requests_total{model=\"fast\"}");
        // vllm:request_latency_seconds with status success / error, as vLLM labels it
        assertThat(m).containsPattern("vllm:request_latency_seconds_count\\{model=\"m-a\",server=\"" + a1.url() + "\",status=\"success\"\\} 3");
        assertThat(m).doesNotContain("status=\"200\"");
    }
}
