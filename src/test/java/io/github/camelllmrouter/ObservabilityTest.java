package io.github.camelllmrouter;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.camelllmrouter.demo.FakeOpenAiBackend;
import io.github.camelllmrouter.http.RequestRecord;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Metrics that blame the right backend, and one access-log line per request, without prompts or secrets. */
class ObservabilityTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final String ACCESS = "io.github.camelllmrouter.access";
    final RouterFixture f = new RouterFixture();
    LogCapture capture;
    FakeOpenAiBackend a1;
    FakeOpenAiBackend a2;
    FakeOpenAiBackend b1;

    @BeforeEach
    void start() throws Exception {
        capture = LogCapture.of(ACCESS);
        FakeOpenAiBackend[] b = f.startWithFallback();
        a1 = b[0];
        a2 = b[1];
        b1 = b[2];
    }

    @AfterEach
    void stop() {
        capture.close();
        RequestRecord.jsonFormat(false);
        f.close();
    }

    /** The access-log lines of a request (written just after its answer, so waited for). */
    List<String> linesFor(String requestId) {
        await().atMost(5, TimeUnit.SECONDS).until(() -> capture.lines().stream().anyMatch(l -> l.contains(requestId)));
        return capture.lines().stream().filter(l -> l.contains("request_id") && l.contains(requestId)).toList();
    }

    @Test
    void one_access_log_line_per_request_with_no_prompt_and_no_secret() throws Exception {
        String body = "{\"model\":\"m-b\",\"messages\":[{\"role\":\"user\",\"content\":\"top secret prompt\"}]}";
        HttpResponse<String> r = f.post("/v1/chat/completions", body, "Authorization", "Bearer sk-very-secret", "x-request-id", "acc-1");
        assertThat(r.statusCode()).isEqualTo(200);
        List<String> lines = linesFor("acc-1");
        assertThat(lines).hasSize(1);
        String line = lines.get(0);
        assertThat(line).contains("request_id=acc-1", "model_requested=m-b", "model_served=m-b", "backend=" + b1.url(),
                "attempts=1", "status=200", "outcome=success", "ttft_ms=", "duration_ms=", "prompt_tokens=5", "completion_tokens=3");
        assertThat(line).doesNotContain("top secret prompt").doesNotContain("sk-very-secret");

        RequestRecord.jsonFormat(true);
        f.post("/v1/chat/completions", RouterFixture.chat("m-b"), "x-request-id", "acc-2");
        JsonNode json = JSON.readTree(linesFor("acc-2").get(0));
        assertThat(json.path("model_served").asText()).isEqualTo("m-b");
        assertThat(json.path("status").asInt()).isEqualTo(200);
    }

    @Test
    void metrics_count_failures_against_the_backend_that_failed_and_successes_for_the_one_that_served() throws Exception {
        a1.failWithStatus(503);
        assertThat(f.post("/v1/chat/completions", RouterFixture.chat("m-a")).headers().firstValue("x-served-by")).contains("a2");
        a2.failWithStatus(500);
        HttpResponse<String> fellBack = f.post("/v1/chat/completions", RouterFixture.chat("m-a"), "x-request-id", "fb-1");
        assertThat(fellBack.headers().firstValue("x-served-by")).contains("b1");
        assertThat(linesFor("fb-1").get(0)).contains("model_requested=m-a", "model_served=m-b", "fallback_from=m-a");
        // a stream with usage, and one without
        stream("{\"model\":\"m-b\",\"stream\":true,\"stream_options\":{\"include_usage\":true},\"messages\":[]}");
        stream(RouterFixture.streamChat("m-b"));

        String m = f.get("/metrics").body();
        assertThat(m).contains("llm_router_attempts_total{backend=\"" + a1.url() + "\",model=\"m-a\",outcome=\"status_503\"}");
        assertThat(m).contains("llm_router_attempts_total{backend=\"" + a2.url() + "\",model=\"m-a\",outcome=\"success\"} 1.0");
        assertThat(m).contains("llm_router_requests_total{backend=\"" + a2.url() + "\",model=\"m-a\",outcome=\"success\",status=\"2xx\"} 1.0");
        assertThat(m).contains("llm_router_requests_total{backend=\"" + b1.url() + "\",model=\"m-b\",outcome=\"success\",status=\"2xx\"} 3.0");
        assertThat(m).doesNotContain("llm_router_requests_total{backend=\"" + a1.url());
        assertThat(m).containsPattern("llm_router_fallbacks_total\\{from=\"m-a\",reason=\"status_50[03]\",to=\"m-b\"\\} 1.0");
        assertThat(m).contains("llm_router_request_duration_seconds_bucket{model=\"m-b\"");
        assertThat(m).contains("llm_router_time_to_first_token_seconds_bucket{model=\"m-b\"");
        assertThat(m).contains("llm_router_inter_token_latency_seconds_bucket{model=\"m-b\"");
        assertThat(m).contains("llm_router_prompt_tokens_total{backend=\"" + b1.url() + "\",model=\"m-b\"}");
        assertThat(m).contains("llm_router_completion_tokens_total{backend=\"" + b1.url() + "\",model=\"m-b\"}");
        assertThat(m).contains("llm_router_requests_in_flight{model=\"m-a\"} 0.0");
    }

    @Test
    void every_metric_of_the_grafana_dashboard_and_of_the_vllm_router_parity_set_exists_after_traffic() throws Exception {
        a1.failWithStatus(503);
        f.post("/v1/chat/completions", RouterFixture.chat("m-a")); // failover a1 -> a2
        a2.failWithStatus(500);
        f.post("/v1/chat/completions", RouterFixture.chat("m-a")); // fallback m-a -> m-b
        stream(RouterFixture.streamChat("m-b"));
        for (int i = 0; i < 3; i++) {
            f.post("/v1/chat/completions", RouterFixture.chat("m-a")); // a1 ejected after 3 failures
        }
        String metrics = f.get("/metrics").body();
        JsonNode dashboard = JSON.readTree(Path.of("docs/grafana/camel-llm-router.json").toFile());
        Set<String> names = new TreeSet<>();
        Pattern metric = Pattern.compile("(llm_router_[a-z_]+|vllm:[a-z_]+)");
        for (JsonNode panel : dashboard.path("panels")) {
            for (JsonNode target : panel.path("targets")) {
                Matcher m = metric.matcher(target.path("expr").asText());
                while (m.find()) {
                    names.add(m.group(1));
                }
            }
        }
        assertThat(names).hasSizeGreaterThan(15);
        for (String name : names) {
            assertThat(metrics).as("dashboard metric %s on /metrics", name).containsPattern("(?m)^" + Pattern.quote(name) + "[{ ]");
        }
        for (String parity : List.of("vllm:current_qps", "vllm:avg_latency", "vllm:avg_itl", "vllm:avg_decoding_length",
                "vllm:num_prefill_requests", "vllm:num_decoding_requests", "vllm:healthy_pods_total",
                "vllm:num_incoming_requests_total", "vllm:input_tokens_total", "vllm:output_tokens_total",
                "vllm:request_errors_total", "vllm:request_latency_seconds_bucket")) {
            assertThat(metrics).as(parity).containsPattern("(?m)^" + Pattern.quote(parity) + "\\{");
        }
        assertThat(metrics).contains("vllm:healthy_pods_total{server=\"" + a1.url() + "\"} 0.0");
        assertThat(metrics).containsPattern("resilience4j_circuitbreaker_state\\{[^}]*name=\"breaker-m-a\"");
        assertThat(metrics).contains("vllm:healthy_pods_total{server=\"" + b1.url() + "\"} 1.0");
        assertThat(metrics).containsPattern("vllm:request_errors_total\\{error_type=\"status_503\",model=\"m-a\",server=\"" + Pattern.quote(a1.url()));
    }

    void stream(String body) throws Exception {
        HttpResponse<InputStream> r = f.http.send(HttpRequest.newBuilder(f.uri("/v1/chat/completions"))
                .timeout(Duration.ofSeconds(30)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofInputStream());
        try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
            assertThat(in.lines().filter(l -> l.startsWith("data:")).reduce((x, y) -> y)).contains("data: [DONE]");
        }
    }

    @Test
    void every_request_gets_exactly_one_access_line_and_one_count_whoever_answered() throws Exception {
        String[][] calls = { // method, path, body, x-request-id
            {"POST", "/v1/chat/completions", RouterFixture.chat("m-a"), "every-1"},
            {"GET", "/v1/models", null, "every-2"},
            {"GET", "/health", null, "every-3"},
            {"GET", "/v1/unknown", null, "every-4"},
            {"POST", "/v1/chat/completions", RouterFixture.chat("no-such-model"), "every-5"},
            {"POST", "/v1/chat/completions", "{\"model\": 7}", "every-6"},
            {"DELETE", "/v1/models", null, "every-7"},
            {"POST", "/v1/chat/completions", RouterFixture.streamChat("m-a"), "every-8"},
        };
        for (String[] c : calls) {
            HttpRequest.Builder b = HttpRequest.newBuilder(f.uri(c[1])).timeout(Duration.ofSeconds(10)).header("x-request-id", c[3])
                    .header("Content-Type", "application/json");
            b.method(c[0], c[2] == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(c[2]));
            f.http.send(b.build(), HttpResponse.BodyHandlers.ofString());
        }
        for (String[] c : calls) {
            assertThat(linesFor(c[3])).as("access lines of %s %s", c[0], c[1]).hasSize(1);
        }
        String metrics = f.get("/metrics").body();
        double total = 0;
        for (String line : metrics.split("\n")) {
            if (line.startsWith("llm_router_requests_total{")) {
                total += Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
            }
        }
        assertThat(total).as("one count per request (the /metrics call itself is counted once it is answered)")
                .isEqualTo(calls.length);
        assertThat(metrics).doesNotContain("no-such-model");
    }

    @Test
    void the_overhead_of_a_stream_is_the_same_in_the_header_the_histogram_and_the_access_log() throws Exception {
        a1.chunks(8).chunkDelayMs(150);
        a2.chunks(8).chunkDelayMs(150);
        HttpResponse<InputStream> r = f.http.send(HttpRequest.newBuilder(f.uri("/v1/chat/completions"))
                .timeout(Duration.ofSeconds(30)).header("Content-Type", "application/json").header("x-request-id", "ovh-1")
                .POST(HttpRequest.BodyPublishers.ofString(RouterFixture.streamChat("m-a"))).build(), HttpResponse.BodyHandlers.ofInputStream());
        String events = new String(r.body().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(events).contains("data: [DONE]");
        double header = Double.parseDouble(r.headers().firstValue("x-llm-router-overhead-ms").orElseThrow());
        String line = linesFor("ovh-1").get(0);
        double logged = Double.parseDouble(line.replaceAll(".* overhead_ms=([0-9.]+).*", "$1"));
        double duration = Double.parseDouble(line.replaceAll(".* duration_ms=([0-9.]+).*", "$1"));
        assertThat(duration).as("the stream took its chunks' time").isGreaterThan(900);
        assertThat(logged).as("the access log's overhead is the header's, not the stream's duration").isEqualTo(header);
        String metrics = f.get("/metrics").body();
        double sum = Double.parseDouble(metrics.replaceAll("(?s).*\nllm_router_overhead_seconds_sum\\{model=\"m-a\"\\} ([0-9.Ee-]+)\n.*", "$1"));
        assertThat(sum * 1000).as("the histogram's one observation").isCloseTo(header, Offset.offset(0.002));
    }

    /** camel_exchanges_* and camel_route_policy_seconds, as Camel's own route policy names them (RouteMeters). */
    @Test
    void camels_route_metrics_count_each_exchange_once_per_route_it_passed_and_once_for_the_context() throws Exception {
        f.post("/v1/chat/completions", RouterFixture.chat("m-b"));
        f.post("/v1/chat/completions", RouterFixture.chat("m-b"));
        a1.failWithStatus(503);
        a2.failWithStatus(503);
        assertThat(f.post("/v1/chat/completions", RouterFixture.chat("m-a")).headers().firstValue("x-served-by")).contains("b1");
        assertThat(f.post("/v1/chat/completions", RouterFixture.chat("no-such-model")).statusCode()).isEqualTo(404);

        // an exchange is counted when its route is done, just after its answer went out
        await().atMost(5, TimeUnit.SECONDS).untilAsserted(() -> {
            String m = f.get("/metrics").body();
            assertThat(routeMetric(m, "camel_exchanges_total", "model-m-b")).isEqualTo(3);
            assertThat(routeMetric(m, "camel_exchanges_total", "model-m-a")).isEqualTo(1);
            assertThat(routeMetric(m, "camel_exchanges_total", "inference")).isEqualTo(4);
            assertThat(routeMetric(m, "camel_exchanges_failed_total", "inference")).isEqualTo(1);
            assertThat(routeMetric(m, "camel_exchanges_succeeded_total", "inference")).isEqualTo(3);
            assertThat(routeMetric(m, "camel_route_policy_seconds_count", "model-m-b")).isEqualTo(3);
            // the context counts each exchange it received once, however many routes it passed (the earlier
            // /metrics requests too: they passed openai-api alone)
            double api = routeMetric(m, "camel_exchanges_total", "openai-api");
            assertThat(api).isGreaterThanOrEqualTo(4);
            assertThat(routeMetric(m, "camel_exchanges_total", "")).isEqualTo(api);
            assertThat(routeMetric(m, "camel_route_policy_seconds_count", "")).isEqualTo(api);
        });
    }

    static double routeMetric(String metrics, String name, String routeId) {
        Matcher m = Pattern.compile("(?m)^" + name + "\\{[^}]*routeId=\"" + routeId + "\"[^}]*\\} (\\S+)$")
                .matcher(metrics);
        assertThat(m.find()).as("%s{routeId=\"%s\"} on /metrics", name, routeId).isTrue();
        return Double.parseDouble(m.group(1));
    }
}
