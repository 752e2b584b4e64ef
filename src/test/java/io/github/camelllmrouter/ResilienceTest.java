package io.github.camelllmrouter;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.camelllmrouter.backend.BackendBalancer;
import io.github.camelllmrouter.backend.ModelBreaker;
import io.github.camelllmrouter.demo.FakeOpenAiBackend;
import org.apache.camel.Navigate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Failover inside a model, outlier ejection, circuit breakers and fallback to another model with {@code model}
 * rewritten. Models: m-a (a1, a2) falls back to m-b (b1, b2), which falls back to m-c (c1); m-z (z1) has none.
 */
class ResilienceTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final String CHAT = "/v1/chat/completions";
    final RouterFixture f = new RouterFixture();
    FakeOpenAiBackend a1;
    FakeOpenAiBackend a2;
    FakeOpenAiBackend b1;
    FakeOpenAiBackend b2;
    FakeOpenAiBackend c1;
    FakeOpenAiBackend z1;
    FakeOpenAiBackend x1;
    FakeOpenAiBackend y1;

    void start(Map<String, String> extra) throws Exception {
        a1 = f.backend("a1", "m-a");
        a2 = f.backend("a2", "m-a");
        b1 = f.backend("b1", "m-b");
        b2 = f.backend("b2", "m-b");
        c1 = f.backend("c1", "m-c");
        z1 = f.backend("z1", "m-z");
        Map<String, String> config = new HashMap<>(Map.of(
                "camel.component.llm.first-byte-timeout-ms", "700",
                "camel.component.llm.eject-base-ms", "60000",
                "camel.resilience4j.wait-duration-in-open-state", "1"));
        config.putAll(extra);
        f.start(config,
                "--static-backends", String.join(",", a1.url(), a2.url(), b1.url(), b2.url(), c1.url(), z1.url()),
                "--static-models", "m-a,m-a,m-b,m-b,m-c,m-z",
                "--static-fallback-models", "m-a:m-b,m-b:m-c",
                "--max-instance-failover-reroute-attempts", "1");
    }

    void start() throws Exception {
        start(Map.of());
    }

    @AfterEach
    void stop() {
        f.close();
    }

    int calls(FakeOpenAiBackend b) {
        return b.count(CHAT);
    }

    HttpResponse<String> chat(String model) throws Exception {
        return f.post(CHAT, RouterFixture.chat(model));
    }

    /** A streamed chat: the data lines the client got. */
    List<String> stream(String model) throws Exception {
        HttpResponse<InputStream> r = f.http.send(HttpRequest.newBuilder(f.uri(CHAT)).timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(RouterFixture.streamChat(model))).build(),
                HttpResponse.BodyHandlers.ofInputStream());
        assertThat(r.statusCode()).isEqualTo(200);
        List<String> data = new ArrayList<>();
        try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
            in.lines().filter(l -> l.startsWith("data:")).forEach(data::add);
        }
        return data;
    }

    /** Each retryable fault on a1: the request is served by a2, for a plain and a streamed request. */
    void assertFailsOverToA2(Consumer<FakeOpenAiBackend> fault) throws Exception {
        assertFailsOverToA2(fault, true);
    }

    void assertFailsOverToA2(Consumer<FakeOpenAiBackend> fault, boolean a1SeesTheCall) throws Exception {
        start();
        fault.accept(a1);
        HttpResponse<String> r = chat("m-a"); // round robin starts on a1
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(r.headers().firstValue("x-served-by")).contains("a2");
        assertThat(r.headers().firstValue("x-llm-router-attempts")).contains("2");
        assertThat(r.headers().firstValue("x-llm-router-fallback-from")).isEmpty();
        assertThat(calls(a1)).isEqualTo(a1SeesTheCall ? 1 : 0);
        assertThat(a2.last().model()).isEqualTo("m-a");

        List<String> events = stream("m-a"); // a2 next by round robin, a1 again after
        List<String> events2 = stream("m-a");
        for (List<String> e : List.of(events, events2)) {
            assertThat(e.get(e.size() - 1)).isEqualTo("data: [DONE]");
            assertThat(e).noneMatch(l -> l.contains("\"error\""));
        }
        assertThat(calls(b1) + calls(b2)).as("no fallback while a2 is healthy").isZero();
    }

    @Test
    void connection_refused_fails_over_inside_the_model() throws Exception {
        assertFailsOverToA2(FakeOpenAiBackend::stop, false);
    }

    @Test
    void a_connection_dropped_without_a_response_fails_over() throws Exception {
        assertFailsOverToA2(FakeOpenAiBackend::drop);
    }

    @Test
    void status_500_fails_over() throws Exception {
        assertFailsOverToA2(b -> b.failWithStatus(500, "{\"error\":{\"message\":\"boom\"}}", Map.of()));
    }

    @Test
    void status_503_fails_over() throws Exception {
        assertFailsOverToA2(b -> b.failWithStatus(503, "overloaded", Map.of()));
    }

    @Test
    void a_hang_before_headers_fails_over() throws Exception {
        assertFailsOverToA2(FakeOpenAiBackend::hang);
    }

    @Test
    void a_429_with_retry_after_keeps_that_backend_out_for_that_long() throws Exception {
        start(Map.of("camel.component.llm.eject-consecutive-failures", "100"));
        a1.failWithStatus(429, "{\"error\":{\"message\":\"slow down\",\"type\":\"rate_limit_error\"}}", Map.of("Retry-After", "30"));
        for (int i = 0; i < 10; i++) {
            HttpResponse<String> r = chat("m-a");
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.headers().firstValue("x-served-by")).contains("a2");
        }
        List<String> events = stream("m-a");
        assertThat(events.get(events.size() - 1)).isEqualTo("data: [DONE]");
        assertThat(calls(a1)).as("one 429, then kept out for its Retry-After").isEqualTo(1);
    }

    @Test
    void a_4xx_goes_back_to_the_client_without_retry_or_fallback() throws Exception {
        start();
        String body = "{\"error\":{\"message\":\"bad request\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":null}}";
        a1.failWithStatus(422, body, Map.of());
        HttpResponse<String> r = chat("m-a");
        assertThat(r.statusCode()).isEqualTo(422);
        assertThat(r.body()).isEqualTo(body);
        assertThat(calls(a2) + calls(b1) + calls(b2)).isZero();
        // a streamed request gets the same plain error, not an event stream
        chat("m-a"); // a2's turn
        HttpResponse<String> s = f.post(CHAT, RouterFixture.streamChat("m-a"));
        assertThat(s.statusCode()).isEqualTo(422);
        assertThat(s.body()).isEqualTo(body);
        // and it is not a failure: a1 stays in rotation
        a1.healthy();
        List<String> servedBy = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            servedBy.add(chat("m-a").headers().firstValue("x-served-by").orElseThrow());
        }
        assertThat(servedBy).contains("a1", "a2");
    }

    @Test
    void one_failing_backend_is_ejected_and_never_sends_the_model_to_its_fallback() throws Exception {
        start(Map.of("camel.component.llm.eject-consecutive-failures", "2", "camel.component.llm.eject-base-ms", "800"));
        a1.failWithStatus(503);
        for (int i = 0; i < 20; i++) {
            HttpResponse<String> r = chat("m-a");
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.headers().firstValue("x-served-by")).contains("a2");
        }
        assertThat(calls(b1) + calls(b2)).isZero();
        int failedCalls = calls(a1);
        assertThat(failedCalls).as("ejected after 2 failures in a row").isEqualTo(2);
        // it is let back in after the ejection time, and serves once healthy
        a1.healthy();
        await().atMost(10, TimeUnit.SECONDS).until(() ->
                chat("m-a").headers().firstValue("x-served-by").orElse("").equals("a1"));
        JsonNode health = JSON.readTree(f.get("/health").body());
        assertThat(health.path("backends").toString()).contains(a1.url());
    }

    @Test
    void when_every_backend_of_a_model_is_down_the_fallback_model_serves_with_model_rewritten() throws Exception {
        start();
        a1.failWithStatus(503);
        a2.stop();
        for (int i = 0; i < 6; i++) {
            HttpResponse<String> r = chat("m-a");
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.headers().firstValue("x-served-by").orElseThrow()).isIn("b1", "b2");
            assertThat(r.headers().firstValue("x-llm-router-model")).contains("m-b");
            assertThat(r.headers().firstValue("x-llm-router-fallback-from")).contains("m-a");
            assertThat(JSON.readTree(r.body()).path("model").asText()).isEqualTo("m-b");
        }
        List<String> events = stream("m-a");
        assertThat(events.get(events.size() - 1)).isEqualTo("data: [DONE]");
        assertThat(events.get(0)).contains("\"model\":\"m-b\"");
        FakeOpenAiBackend served = b1.last() != null ? b1 : b2;
        assertThat(served.last().model()).isEqualTo("m-b");
        assertThat(served.last().body()).isEqualTo(RouterFixture.streamChat("m-b"));

        String metrics = f.get("/metrics").body();
        assertThat(metrics).contains("llm_router_fallbacks_total{from=\"m-a\",reason=").contains("to=\"m-b\"");
        assertThat(metrics).containsPattern("llm_router_attempts_total\\{backend=\"" + a1.url() + "\",model=\"m-a\",outcome=\"status_503\"\\} [1-9]");
    }

    @Test
    void a_chain_falls_through_to_the_last_model() throws Exception {
        start();
        a1.failWithStatus(500);
        a2.failWithStatus(500);
        b1.drop();
        b2.stop();
        HttpResponse<String> r = chat("m-a");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("x-served-by")).contains("c1");
        assertThat(c1.last().model()).isEqualTo("m-c");
        assertThat(r.headers().firstValue("x-llm-router-fallback-from")).contains("m-a");
    }

    @Test
    void when_everything_is_exhausted_the_client_gets_the_last_error_with_retry_after() throws Exception {
        start();
        z1.failWithStatus(503, "{\"error\":{\"message\":\"engine overloaded\",\"type\":\"server_error\",\"param\":null,\"code\":null}}",
                Map.of("Retry-After", "7"));
        HttpResponse<String> r = chat("m-z");
        assertThat(r.statusCode()).isEqualTo(503);
        assertThat(r.headers().firstValue("retry-after")).contains("7");
        assertThat(JSON.readTree(r.body()).path("error").path("message").asText()).isEqualTo("engine overloaded");
    }

    @Test
    void the_attempt_budget_bounds_a_request_across_fallbacks() throws Exception {
        start(Map.of("camel.component.llm.max-attempts-per-request", "3"));
        for (FakeOpenAiBackend b : List.of(a1, a2, b1, b2, c1)) {
            b.failWithStatus(502);
        }
        HttpResponse<String> r = chat("m-a");
        assertThat(r.statusCode()).isEqualTo(502);
        assertThat(calls(a1) + calls(a2) + calls(b1) + calls(b2) + calls(c1)).isEqualTo(3);
    }

    @Test
    void the_time_budget_bounds_a_request_and_cuts_the_first_byte_wait_to_fit() throws Exception {
        start(Map.of("camel.component.llm.request-time-budget-ms", "300"));
        a1.hang();
        long t0 = System.nanoTime();
        HttpResponse<String> r = chat("m-a");
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertThat(r.statusCode()).isEqualTo(504);
        assertThat(ms).as("the 700 ms first-byte timeout was cut to the 300 ms budget").isLessThan(650);
        assertThat(calls(a2) + calls(b1) + calls(b2)).as("no attempt after the budget is spent").isZero();
    }

    /** {@code routes} with the API route alone, x1 (m-x, answering 503) and y1 (m-y): for hand-written model routes. */
    void apiRouteAndFailingX(Path routes) throws Exception {
        Files.copy(Path.of("routes/openai-api.camel.yaml"), routes.resolve("openai-api.camel.yaml"));
        x1 = f.backend("x1", "m-x");
        x1.failWithStatus(503);
        y1 = f.backend("y1", "m-y");
    }

    @Test
    void a_fallback_loop_written_by_hand_is_stopped_by_the_hop_guard(@TempDir Path routes)
            throws Exception {
        apiRouteAndFailingX(routes);
        y1.failWithStatus(503);
        for (String[] m : new String[][] {{"m-x", "m-y", x1.url()}, {"m-y", "m-x", y1.url()}}) {
            Files.writeString(routes.resolve(m[0] + ".camel.yaml"), RouterFixture.modelRouteYaml(m[0], m[2], m[1]));
        }
        f.start(Map.of("router.routes-dir", routes.toString(), "router.demo", "false",
                "camel.component.llm.max-attempts-per-request", "100", "camel.component.llm.eject-consecutive-failures", "100"));
        HttpResponse<String> r = chat("m-x");
        assertThat(r.statusCode()).isEqualTo(503);
        assertThat(JSON.readTree(r.body()).path("error").path("code").asText()).isEqualTo("fallback_limit");
        assertThat(calls(x1) + calls(y1)).as("one call per hop, then stopped").isEqualTo(5);
    }

    @Test
    void the_fallback_starts_from_the_exchange_as_it_was_before_the_protected_steps(@TempDir Path routes)
            throws Exception {
        // the protected steps of m-x set a variable before its balancer; its fallback goes to m-y, unless it sees
        // that variable (it must not: only steps that are the balancer alone run without a copy of the exchange)
        apiRouteAndFailingX(routes);
        FakeOpenAiBackend seen = f.backend("seen1", "m-seen");
        Files.writeString(routes.resolve("m-x.camel.yaml"), """
                - route:
                    id: "model-m-x"
                    from:
                      uri: "model:m-x"
                      steps:
                        - circuitBreaker:
                            steps:
                              - setVariable:
                                  name: inside
                                  constant: "yes"
                              - loadBalance:
                                  customLoadBalancer:
                                    ref: "#class:io.github.camelllmrouter.backend.BackendBalancer"
                                  steps:
                                    - to: "llm:%s?weight=1"
                            onFallback:
                              steps:
                                - choice:
                                    when:
                                      - simple: "${variable.inside} == 'yes'"
                                        steps:
                                          - bean: { ref: llm, method: "fallback(${exchange}, 'm-seen')" }
                                          - to: "model:m-seen"
                                    otherwise:
                                      steps:
                                        - bean: { ref: llm, method: "fallback(${exchange}, 'm-y')" }
                                        - to: "model:m-y"
                """.formatted(x1.url()));
        Files.writeString(routes.resolve("m-y.camel.yaml"), RouterFixture.modelRouteYaml("m-y", y1.url(), null));
        Files.writeString(routes.resolve("m-seen.camel.yaml"), RouterFixture.modelRouteYaml("m-seen", seen.url(), null));
        f.start(Map.of("router.routes-dir", routes.toString(), "router.demo", "false"));
        HttpResponse<String> r = chat("m-x");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(r.headers().firstValue("x-served-by")).contains("y1");
        assertThat(y1.last().model()).isEqualTo("m-y");
        assertThat(calls(x1)).isEqualTo(1);
        assertThat(calls(seen)).isZero();
    }

    /** The model breakers and balancers of a route. */
    static List<Object> steps(Object p, List<Object> found) {
        if (p instanceof ModelBreaker || p instanceof BackendBalancer) {
            found.add(p);
        }
        if (p instanceof Navigate<?> n && n.hasNext() && n.next() != null) {
            for (Object child : n.next()) {
                steps(child, found);
            }
        }
        return found;
    }

    @Test
    void a_breaker_over_its_balancer_alone_runs_without_copies_and_one_with_an_interceptor_with_them(
            @TempDir Path routes) throws Exception {
        apiRouteAndFailingX(routes);
        // m-x: a breaker over its balancer, with an interceptor woven around every step (a route configuration;
        // Camel weaves no error handler inside a circuitBreaker or a loadBalance)
        Files.writeString(routes.resolve("m-x.camel.yaml"), """
                - routeConfiguration:
                    id: with-interceptor
                    intercept:
                      - intercept:
                          steps:
                            - setVariable:
                                name: intercepted
                                constant: "yes"
                """ + RouterFixture.modelRouteYaml("m-x", x1.url(), "m-y")
                .replace("    from:\n", "    routeConfigurationId: with-interceptor\n    from:\n"));
        Files.writeString(routes.resolve("m-y.camel.yaml"), RouterFixture.modelRouteYaml("m-y", y1.url(), null));
        f.start(Map.of("router.routes-dir", routes.toString(), "router.demo", "false"));
        for (String[] route : new String[][] {{"model-m-y", "true"}, {"model-m-x", "false"}}) {
            List<Object> found = steps(f.router.context().getRoute(route[0]).navigate(), new ArrayList<>());
            assertThat(found).hasSize(2);
            boolean plain = Boolean.parseBoolean(route[1]);
            assertThat(((ModelBreaker) found.get(0)).runsWithoutCopy()).as(route[0]).isEqualTo(plain);
            assertThat(((BackendBalancer) found.get(1)).attemptsWithoutCopy()).as(route[0]).isEqualTo(plain);
        }
        HttpResponse<String> r = chat("m-x");
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(r.headers().firstValue("x-served-by")).contains("y1");
        assertThat(y1.last().model()).isEqualTo("m-y");
    }

    @Test
    void a_breaker_opens_when_the_model_keeps_failing_and_closes_after_it_recovers() throws Exception {
        // ejection off, so only the breaker can stop calls to m-a
        start(Map.of("camel.component.llm.eject-consecutive-failures", "1000"));
        a1.failWithStatus(500);
        a2.failWithStatus(500);
        for (int i = 0; i < 12; i++) {
            assertThat(chat("m-a").headers().firstValue("x-llm-router-model")).contains("m-b");
        }
        int callsWhenOpen = calls(a1) + calls(a2);
        for (int i = 0; i < 5; i++) {
            chat("m-a");
        }
        assertThat(calls(a1) + calls(a2)).as("an open breaker sends m-a straight to its fallback").isEqualTo(callsWhenOpen);
        a1.healthy();
        a2.healthy();
        await().atMost(15, TimeUnit.SECONDS).pollInterval(Duration.ofMillis(200)).until(() ->
                chat("m-a").headers().firstValue("x-llm-router-model").orElse("").equals("m-a"));
        for (int i = 0; i < 5; i++) {
            assertThat(chat("m-a").headers().firstValue("x-llm-router-model")).contains("m-a");
        }
    }

    @Test
    void when_a_model_and_its_fallbacks_are_all_out_the_last_resort_is_tried_anyway() throws Exception {
        // one failure ejects for a minute; Retry-After-free 503s eject every backend of m-b and m-c
        start(Map.of("camel.component.llm.eject-consecutive-failures", "1",
                "camel.resilience4j.minimum-number-of-calls", "100"));
        for (FakeOpenAiBackend b : List.of(b1, b2, c1)) {
            b.failWithStatus(503);
        }
        assertThat(chat("m-b").statusCode()).isEqualTo(503); // b1, b2 and then c1 fail: all ejected
        for (FakeOpenAiBackend b : List.of(b1, b2, c1)) {
            b.healthy();
        }
        int bCalls = calls(b1) + calls(b2);
        // m-b's backends are all out and m-b has a fallback: it goes to m-c without trying them;
        // m-c is out too and has no fallback, so its backend is tried anyway (panic) and answers
        HttpResponse<String> r = chat("m-b");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("x-served-by")).contains("c1");
        assertThat(calls(b1) + calls(b2)).isEqualTo(bCalls);
        assertThat(f.get("/metrics").body()).contains("llm_router_panics_total{model=\"m-c\"}");
    }

    @Test
    void a_stream_cut_after_it_started_is_not_retried() throws Exception {
        start();
        a1.chunks(10);
        a1.cutAfter(3);
        List<String> events = stream("m-a");
        assertThat(events).hasSize(4);
        assertThat(events.get(3)).contains("\"error\"");
        assertThat(calls(a2)).isZero();
    }

    @Test
    void a_backend_killed_under_load_loses_no_request() throws Exception {
        start();
        Semaphore inFlight = new Semaphore(32);
        List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            if (i == 100) {
                a1.stop();
            }
            inFlight.acquire();
            String body = "{\"model\":\"m-a\",\"user\":\"req-" + i + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
            HttpRequest req = HttpRequest.newBuilder(f.uri(CHAT)).timeout(Duration.ofSeconds(30))
                    .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build();
            all.add(f.http.sendAsync(req, HttpResponse.BodyHandlers.ofString()).whenComplete((r, t) -> inFlight.release()));
        }
        for (int i = 0; i < 200; i++) {
            HttpResponse<String> r = all.get(i).get(30, TimeUnit.SECONDS);
            assertThat(r.statusCode()).as("request %d: %s", i, r.body()).isEqualTo(200);
            String content = JSON.readTree(r.body()).path("choices").get(0).path("message").path("content").asText();
            assertThat(content).endsWith(" to req-" + i);
        }
        assertThat(calls(b1) + calls(b2)).isZero();
    }
}
