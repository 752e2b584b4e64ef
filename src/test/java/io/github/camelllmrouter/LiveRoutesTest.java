package io.github.camelllmrouter;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.camelllmrouter.demo.FakeOpenAiBackend;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Route files in routes/ are live: a saved change applies within 2 seconds, a bad one changes nothing (and says
 * why, where), and swapping a model's route under load drops nothing.
 */
class LiveRoutesTest {

    static final ObjectMapper JSON = new ObjectMapper();
    final RouterFixture f = new RouterFixture();

    @AfterEach
    void stop() {
        f.close();
    }

    /** A model route with weighted backends ("url=weight") and an optional fallback, as a user writes it. */
    static String route(String model, String fallback, String... backends) {
        StringBuilder y = new StringBuilder()
                .append("- route:\n")
                .append("    id: model-").append(model).append('\n')
                .append("    from:\n")
                .append("      uri: model:").append(model).append('\n')
                .append("      steps:\n")
                .append("        - circuitBreaker:\n")
                .append("            steps:\n")
                .append("              - loadBalance:\n")
                .append("                  customLoadBalancer:\n")
                .append("                    ref: \"#class:io.github.camelllmrouter.backend.BackendBalancer\"\n")
                .append("                  steps:\n");
        for (String b : backends) {
            String[] uw = b.split("=");
            y.append("                    - to: \"llm:").append(uw[0]).append("?weight=").append(uw[1]).append("\"\n");
        }
        if (fallback != null) {
            y.append("            onFallback:\n")
             .append("              steps:\n")
             .append("                - bean:\n")
             .append("                    ref: llm\n")
             .append("                    method: \"fallback(${exchange}, '").append(fallback).append("')\"\n")
             .append("                - to: model:").append(fallback).append('\n');
        }
        return y.toString();
    }

    Path routesDir(Path dir) throws Exception {
        Files.copy(Path.of("routes/openai-api.camel.yaml"), dir.resolve("openai-api.camel.yaml"));
        return dir;
    }

    String servedBy(String model, String... headers) {
        return f.servedBy(model, headers);
    }

    JsonNode routesHealth() throws Exception {
        return JSON.readTree(f.get("/health").body()).path("routes");
    }

    /** Waits for the saved change to be applied, and checks it took at most two seconds. */
    String awaitApplied(String versionBefore) {
        String[] version = new String[1];
        // ignoring exceptions: a change of the API route's own file refuses connections for a moment
        await().atMost(Duration.ofSeconds(2)).pollInterval(Duration.ofMillis(20)).ignoreExceptions().until(() -> {
            JsonNode h = routesHealth();
            version[0] = h.path("version").asText();
            return !version[0].equals(versionBefore) && "succeeded".equals(h.path("last_result").asText());
        });
        return version[0];
    }

    @Test
    void editing_adding_and_deleting_a_model_file_changes_routing_within_two_seconds(@TempDir Path dir) throws Exception {
        Path routes = routesDir(dir);
        FakeOpenAiBackend r1 = f.backend("r1", "m-live");
        FakeOpenAiBackend r2 = f.backend("r2", "m-live");
        FakeOpenAiBackend other = f.backend("other", "m-other");
        f.start(Map.of("router.routes-dir", routes.toString(), "router.demo", "false"));
        assertThat(servedBy("m-live")).isEqualTo("status 404");

        // adding a file makes its model routable
        Path file = routes.resolve("m-live.camel.yaml");
        String v0 = routesHealth().path("version").asText();
        Files.writeString(file, route("m-live", null, r1.url() + "=1"));
        String v1 = awaitApplied(v0);
        assertThat(servedBy("m-live")).isEqualTo("r1");
        assertThat(JSON.readTree(f.get("/v1/models").body()).path("data").findValuesAsText("id")).contains("m-live");
        assertThat(f.get("/health").body()).contains(r1.url());
        assertThat(f.get("/metrics").body()).contains("server=\"" + r1.url() + "\"");

        // editing the weights moves the traffic
        Files.writeString(file, route("m-live", null, r1.url() + "=0", r2.url() + "=1"));
        String v2 = awaitApplied(v1);
        for (int i = 0; i < 5; i++) {
            assertThat(servedBy("m-live")).isEqualTo("r2");
        }

        // editing the fallback: r2 failing now sends m-live to m-other, whose backend sees its own name
        Files.writeString(routes.resolve("m-other.camel.yaml"), route("m-other", null, other.url() + "=1"));
        String v3 = awaitApplied(v2);
        Files.writeString(file, route("m-live", "m-other", r2.url() + "=1"));
        String v4 = awaitApplied(v3);
        r2.failWithStatus(503);
        assertThat(servedBy("m-live")).isEqualTo("other");
        assertThat(other.last().model()).isEqualTo("m-other");
        r2.healthy();
        // r1 is in no route any more: it leaves /health and /metrics, gauges and counters alike
        await().atMost(Duration.ofSeconds(2)).pollInterval(Duration.ofMillis(20))
                .until(() -> !f.get("/health").body().contains(r1.url()));
        assertThat(f.get("/metrics").body()).doesNotContain(r1.url()).contains("server=\"" + r2.url() + "\"");

        // the API route's own file is live too (stopped, then started: it holds the HTTP port)
        Path api = routes.resolve("openai-api.camel.yaml");
        Files.writeString(api, Files.readString(api).replace("path} == '/v1/models'", "path} in '/v1/models,/models'"));
        v4 = awaitApplied(v4);
        assertThat(f.get("/models").statusCode()).isEqualTo(200);
        assertThat(servedBy("m-live")).isEqualTo("r2");

        // deleting the file makes the model a 404, and the other model stays
        Files.delete(routes.resolve("m-other.camel.yaml"));
        Files.writeString(file, route("m-live", null, r1.url() + "=1"));
        awaitApplied(v4);
        Files.delete(file);
        await().atMost(Duration.ofSeconds(2)).pollInterval(Duration.ofMillis(20)).until(() -> servedBy("m-live").equals("status 404"));
        var missing = f.post("/v1/chat/completions", RouterFixture.chat("m-live"));
        assertThat(JSON.readTree(missing.body()).path("error").path("code").asText()).isEqualTo("model_not_found");
        await().atMost(Duration.ofSeconds(2)).pollInterval(Duration.ofMillis(20))
                .until(() -> JSON.readTree(f.get("/health").body()).path("backends").isEmpty());
    }

    @Test
    void a_bad_save_changes_nothing_says_where_and_the_next_good_save_applies(@TempDir Path dir) throws Exception {
        Path routes = routesDir(dir);
        FakeOpenAiBackend a = f.backend("a", "m-a");
        FakeOpenAiBackend b = f.backend("b", "m-b");
        Path fileA = routes.resolve("m-a.camel.yaml");
        Path fileB = routes.resolve("m-b.camel.yaml");
        Files.writeString(fileA, route("m-a", "m-b", a.url() + "=1"));
        Files.writeString(fileB, route("m-b", null, b.url() + "=1"));
        f.start(Map.of("router.routes-dir", routes.toString(), "router.demo", "false"));
        String version = routesHealth().path("version").asText();

        Map<String, String> bad = new LinkedHashMap<>();
        bad.put("a YAML syntax error", "- route:\n    id: model-m-b\n    from: [ this is : not yaml\n");
        bad.put("an unknown EIP", route("m-b", null, b.url() + "=1").replace("- circuitBreaker:", "- circuitBreakr:"));
        bad.put("an unknown key", route("m-b", null, b.url() + "=1").replace("      uri: model:m-b", "      uri: model:m-b\n      colour: red"));
        bad.put("a non-numeric weight", route("m-b", null, b.url() + "=heavy"));
        bad.put("a fallback cycle", route("m-b", "m-a", b.url() + "=1"));
        bad.put("a fallback to a model nobody serves", route("m-b", "m-nowhere", b.url() + "=1"));
        bad.put("a model another file serves", route("m-a", null, b.url() + "=1"));
        Map<String, String> expected = Map.of("a YAML syntax error", "line 3",
                "an unknown EIP", "circuitBreakr",
                "an unknown key", "colour",
                "a non-numeric weight", "line 12",
                "a fallback cycle", "m-b -> m-a -> m-b",
                "a fallback to a model nobody serves", "m-nowhere",
                "a model another file serves", "already served by m-a.camel.yaml");
        long failed = 0;
        for (Map.Entry<String, String> save : bad.entrySet()) {
            Files.writeString(fileB, save.getValue());
            long before = failed;
            await().atMost(Duration.ofSeconds(2)).pollInterval(Duration.ofMillis(20))
                    .until(() -> routesHealth().path("failed").asLong() > before);
            failed = routesHealth().path("failed").asLong();
            JsonNode h = routesHealth();
            assertThat(h.path("last_result").asText()).as(save.getKey()).isEqualTo("failed");
            assertThat(h.path("last_error").asText()).as(save.getKey()).contains("m-b.camel.yaml").contains(expected.get(save.getKey()));
            assertThat(h.path("version").asText()).as(save.getKey()).isEqualTo(version);
            // every model is still served by the previous routes
            assertThat(servedBy("m-b")).as(save.getKey()).isEqualTo("b");
            assertThat(servedBy("m-a")).as(save.getKey()).isEqualTo("a");
        }
        // the fallback too
        a.failWithStatus(503);
        assertThat(servedBy("m-a")).isEqualTo("b");
        assertThat(b.last().model()).isEqualTo("m-b");
        a.healthy();
        assertThat(failed).isEqualTo(bad.size());
        assertThat(f.get("/metrics").body()).contains("llm_router_route_reloads_total{result=\"failed\"} " + bad.size() + ".0");

        // the next valid save applies
        FakeOpenAiBackend b2 = f.backend("b2", "m-b");
        Files.writeString(fileB, route("m-b", null, b2.url() + "=1"));
        awaitApplied(version);
        assertThat(servedBy("m-b")).isEqualTo("b2");
        assertThat(f.get("/metrics").body()).containsPattern("llm_router_route_reloads_total\\{result=\"succeeded\"\\} [1-9]");
    }

    @Test
    void printed_routes_dropped_into_routes_serve_like_the_flags_and_can_be_edited(@TempDir Path dir) throws Exception {
        Path routes = routesDir(dir);
        FakeOpenAiBackend a = f.backend("a", "m-a");
        FakeOpenAiBackend b = f.backend("b", "m-b");
        String printed = RouterMain.Settings.parse(new String[] {"--static-backends", a.url() + "," + b.url(),
                "--static-models", "m-a,m-b", "--static-aliases", "fast:m-a", "--static-fallback-models", "m-a:m-b",
                "--print-routes"}, Path.of(".")).exitNow;
        assertThat(printed).contains("uri: \"model:m-a\"").contains("- to: \"model:m-b\"");
        Path file = routes.resolve("models.camel.yaml");
        Files.writeString(file, printed);
        // router.demo is auto: the model routes in routes/ count as configured models, so no demo starts
        f.start(Map.of("router.routes-dir", routes.toString(), "router.demo", "auto"));
        assertThat(servedBy("demo-small")).isEqualTo("status 404");
        assertThat(servedBy("m-a")).isEqualTo("a");
        assertThat(servedBy("fast")).isEqualTo("a");
        assertThat(servedBy("m-b")).isEqualTo("b");
        a.failWithStatus(503);
        assertThat(servedBy("m-a")).isEqualTo("b");
        assertThat(b.last().model()).isEqualTo("m-b");
        a.healthy();

        // the user edits the printed file: m-a now goes to b too
        String version = routesHealth().path("version").asText();
        Files.writeString(file, printed.replace("llm:" + a.url() + "?weight=1", "llm:" + b.url() + "?weight=1"));
        awaitApplied(version);
        assertThat(servedBy("m-a")).isEqualTo("b");
        assertThat(b.last().model()).isEqualTo("m-a");
    }

    @Test
    void from_the_first_healthy_answer_the_demo_answers_too(@TempDir Path dir) throws Exception {
        // router.demo is auto and routes/ has only the API route: demo backends. A readiness probe polling /health
        // while the router starts must not see 200 before the demo's routes serve (CI once got a 404 there).
        Path routes = routesDir(dir);
        f.port = RouterFixture.freePort();
        Thread starting = new Thread(() -> {
            try {
                f.router = RouterMain.start(Map.of("router.routes-dir", routes.toString(), "router.demo", "auto"),
                        "--port", Integer.toString(f.port), "--host", "127.0.0.1");
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        starting.start();
        List<Integer> seen = new ArrayList<>();
        JsonNode[] firstHealthy = new JsonNode[1];
        try {
            await().atMost(Duration.ofSeconds(30)).pollInterval(Duration.ofMillis(2)).ignoreExceptions().until(() -> {
                HttpResponse<String> h = f.get("/health");
                seen.add(h.statusCode());
                firstHealthy[0] = JSON.readTree(h.body());
                return h.statusCode() == 200;
            });
            assertThat(firstHealthy[0].path("status").asText()).as("the first 200 of /health").isEqualTo("healthy");
            assertThat(firstHealthy[0].path("models").toString()).contains("\"demo\"", "\"demo-small\"", "\"demo-large\"");
            assertThat(servedBy("demo")).startsWith("demo-backend-");
            assertThat(seen).as("/health while starting, then ready").allMatch(s -> s == 503 || s == 200);
        } finally {
            starting.join(); // the router is closed by stop()
        }
    }

    @Test
    void an_api_route_that_cannot_start_is_refused_and_the_old_one_put_back(@TempDir Path dir) throws Exception {
        Path routes = routesDir(dir);
        FakeOpenAiBackend a = f.backend("a", "m-a");
        Files.writeString(routes.resolve("m-a.camel.yaml"), route("m-a", null, a.url() + "=1"));
        f.start(Map.of("router.routes-dir", routes.toString(), "router.demo", "false"));
        String version = routesHealth().path("version").asText();
        try (ServerSocket taken = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"))) {
            // a new API route on a port another process holds: it builds, but cannot start
            Path api = routes.resolve("openai-api.camel.yaml");
            Files.writeString(api, Files.readString(api).replace("{{router.port}}", Integer.toString(taken.getLocalPort())));
            await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(50)).ignoreExceptions()
                    .until(() -> routesHealth().path("failed").asLong() == 1);
        }
        JsonNode h = routesHealth();
        assertThat(h.path("last_error").asText()).contains("openai-api.camel.yaml");
        assertThat(h.path("version").asText()).isEqualTo(version);
        assertThat(servedBy("m-a")).isEqualTo("a");
    }

    @Test
    void a_save_while_the_replaced_route_still_drains_applies_and_the_drained_request_is_served(@TempDir Path dir) throws Exception {
        Path routes = routesDir(dir);
        FakeOpenAiBackend slow = f.backend("slow", "m-s").headersDelayMs(1500);
        FakeOpenAiBackend fast = f.backend("fast", "m-s");
        Path file = routes.resolve("m-s.camel.yaml");
        Files.writeString(file, route("m-s", null, slow.url() + "=1"));
        f.start(Map.of("router.routes-dir", routes.toString(), "router.demo", "false"));
        // a request waits 1.5 s for its first byte inside the first version of the route
        var pending = f.http.sendAsync(HttpRequest.newBuilder(f.uri("/v1/chat/completions"))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(RouterFixture.chat("m-s"))).build(),
                HttpResponse.BodyHandlers.ofString());
        await().atMost(Duration.ofSeconds(1)).until(() -> slow.activeRequests() == 1);
        save(file, route("m-s", null, fast.url() + "=1"));
        // the second save comes while the first route is still draining
        save(file, route("m-s", null, fast.url() + "=1", slow.url() + "=0"));
        assertThat(slow.activeRequests()).isEqualTo(1);
        assertThat(servedBy("m-s")).isEqualTo("fast");
        HttpResponse<String> drained = pending.get(5, TimeUnit.SECONDS);
        assertThat(drained.statusCode()).isEqualTo(200);
        assertThat(drained.headers().firstValue("x-served-by")).contains("slow");
        assertThat(routesHealth().path("failed").asLong()).isZero();
    }

    /** Saves a route file and waits (at most two seconds) until the change is applied. */
    void save(Path file, String text) throws Exception {
        String before = routesHealth().path("version").asText();
        Files.writeString(file, text);
        awaitApplied(before);
    }

    @Test
    void a_file_refused_because_of_another_applies_once_the_other_is_fixed(@TempDir Path dir) throws Exception {
        Path routes = routesDir(dir);
        FakeOpenAiBackend a = f.backend("a", "m-x");
        FakeOpenAiBackend b = f.backend("b", "m-x");
        Path fileA = routes.resolve("a.camel.yaml");
        Files.writeString(fileA, route("m-x", null, a.url() + "=1"));
        f.start(Map.of("router.routes-dir", routes.toString(), "router.demo", "false"));
        // b.camel.yaml serves m-x too: refused, a keeps serving
        Files.writeString(routes.resolve("b.camel.yaml"), route("m-x", null, b.url() + "=1"));
        await().atMost(Duration.ofSeconds(2)).until(() -> routesHealth().path("failed").asLong() == 1);
        assertThat(routesHealth().path("last_error").asText()).contains("b.camel.yaml").contains("already served by a.camel.yaml");
        assertThat(servedBy("m-x")).isEqualTo("a");
        // a gives m-x up: b, unchanged since it was refused, is tried again and applies
        Files.writeString(fileA, route("m-other", null, a.url() + "=1"));
        await().atMost(Duration.ofSeconds(2)).pollInterval(Duration.ofMillis(20)).until(() -> servedBy("m-x").equals("b"));
        assertThat(routesHealth().path("sources").toString()).contains("b.camel.yaml");
        assertThat(routesHealth().path("failed").asLong()).isEqualTo(1);
    }

    /**
     * The load test: 64 concurrent streams and a steady non-stream load while a model's file is saved ten
     * times in a row (backends, weights and fallback change); not one request may fail or stream be cut.
     */
    @Test
    void ten_saves_under_64_streams_and_steady_load_drop_nothing(@TempDir Path dir) throws Exception {
        Path routes = routesDir(dir);
        List<FakeOpenAiBackend> hot = new ArrayList<>();
        for (String name : List.of("h1", "h2", "h3")) {
            // time to first byte keeps requests inside the model route while it is replaced
            hot.add(f.backend(name, "m-hot").chunks(8).chunkDelayMs(40).headersDelayMs(60));
        }
        FakeOpenAiBackend cold = f.backend("c1", "m-cold").chunks(8).chunkDelayMs(40);
        Path file = routes.resolve("m-hot.camel.yaml");
        Files.writeString(file, route("m-hot", "m-cold", hot.get(0).url() + "=1"));
        Files.writeString(routes.resolve("m-cold.camel.yaml"), route("m-cold", null, cold.url() + "=1"));
        f.start(Map.of("router.routes-dir", routes.toString(), "router.demo", "false"));

        AtomicBoolean running = new AtomicBoolean(true);
        AtomicInteger streamsOk = new AtomicInteger();
        AtomicInteger callsOk = new AtomicInteger();
        ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
        Map<String, AtomicInteger> servedBy = new ConcurrentHashMap<>();
        List<Thread> clients = new ArrayList<>();
        for (int i = 0; i < 64; i++) {
            String model = i % 8 == 0 ? "m-cold" : "m-hot";
            clients.add(client(running, () -> {
                HttpResponse<String> r = f.http.send(HttpRequest.newBuilder(f.uri("/v1/chat/completions"))
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(RouterFixture.streamChat(model))).build(),
                        HttpResponse.BodyHandlers.ofString());
                String body = r.body();
                long events = body.lines().filter(l -> l.startsWith("data: {")).count();
                if (r.statusCode() != 200 || !body.strip().endsWith("data: [DONE]") || events != 8 || body.contains("\"error\"")) {
                    failures.add("stream " + model + ": " + r.statusCode() + " " + body.substring(0, Math.min(200, body.length())));
                } else {
                    streamsOk.incrementAndGet();
                    servedBy.computeIfAbsent(r.headers().firstValue("x-served-by").orElse("?"), k -> new AtomicInteger()).incrementAndGet();
                }
            }, failures));
        }
        for (int i = 0; i < 4; i++) {
            String model = i == 0 ? "m-cold" : "m-hot";
            clients.add(client(running, () -> {
                var r = f.post("/v1/chat/completions", RouterFixture.chat(model));
                if (r.statusCode() != 200) {
                    failures.add("call " + model + ": " + r.statusCode() + " " + r.body());
                } else {
                    callsOk.incrementAndGet();
                }
            }, failures));
        }
        clients.forEach(Thread::start);
        await().atMost(Duration.ofSeconds(20)).until(() -> streamsOk.get() >= 64 && callsOk.get() >= 20);

        // ten saves in a row: each moves m-hot to other backends or weights, some change its fallback
        String version = routesHealth().path("version").asText();
        for (int edit = 1; edit <= 10; edit++) {
            FakeOpenAiBackend main = hot.get(edit % 3);
            FakeOpenAiBackend spare = hot.get((edit + 1) % 3);
            Files.writeString(file, route("m-hot", edit % 2 == 0 ? "m-cold" : null, main.url() + "=3", spare.url() + "=" + (edit % 3)));
            version = awaitApplied(version);
            int streamsBefore = streamsOk.get();
            await().atMost(Duration.ofSeconds(10)).until(() -> streamsOk.get() >= streamsBefore + 16);
        }
        running.set(false);
        for (Thread t : clients) {
            t.join(Duration.ofSeconds(30).toMillis());
        }
        assertThat(failures).isEmpty();
        assertThat(routesHealth().path("succeeded").asLong()).isEqualTo(10);
        assertThat(routesHealth().path("failed").asLong()).isZero();
        // the saves took effect: every hot backend served streams
        assertThat(servedBy.keySet()).contains("h1", "h2", "h3", "c1");
        assertThat(streamsOk.get()).isGreaterThan(64 * 3);
        // and the retired routes are gone: one route per model remains
        await().atMost(Duration.ofSeconds(5)).until(() -> f.router.context().getRoutes().stream()
                .filter(r -> r.getRouteId().startsWith("model-m-hot")).count() == 1);
    }

    interface Call {
        void run() throws Exception;
    }

    static Thread client(AtomicBoolean running, Call call, ConcurrentLinkedQueue<String> failures) {
        Thread t = new Thread(() -> {
            while (running.get()) {
                try {
                    call.run();
                } catch (Exception e) {
                    failures.add(e.toString());
                }
            }
        });
        t.setDaemon(true);
        return t;
    }
}
