package io.github.camelllmrouter;

import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
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
 * The HTTP front door over raw sockets, against the real routes/ and config/: framing that cannot be smuggled
 * through, OpenAI JSON for every error the router answers itself, pipelined answers in order, and slow, idle and
 * surplus connections bounded.
 */
class FrontDoorTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final String CHAT = "/v1/chat/completions";
    final RouterFixture f = new RouterFixture();
    FakeOpenAiBackend a1;

    void start(Map<String, String> config) throws Exception {
        a1 = f.backend("a1", "m-a");
        f.start(new HashMap<>(config), "--static-backends", a1.url(), "--static-models", "m-a");
    }

    @AfterEach
    void stop() {
        f.close();
    }

    static String chat(String model, String user) {
        return "{\"model\":\"" + model + "\",\"user\":\"" + user + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    }

    static void assertOpenAiError(RawHttp.Answer a, int status) throws IOException {
        assertThat(a).as("an answer, not a closed connection").isNotNull();
        assertThat(a.status()).as(a.body()).isEqualTo(status);
        assertThat(a.header("content-type")).startsWith("application/json");
        JsonNode error = JSON.readTree(a.body()).path("error");
        assertThat(error.path("message").asText()).isNotBlank();
        assertThat(error.path("type").asText()).isNotBlank();
    }

    @Test
    void a_smuggled_request_never_reaches_a_backend() throws Exception {
        start(Map.of());
        String smuggled = RawHttp.post(CHAT, chat("m-a", "smuggled"));
        String head = "POST " + CHAT + " HTTP/1.1\r\nHost: router\r\nContent-Type: application/json\r\n";
        String empty = "0\r\n\r\n";
        Map<String, String> variants = new LinkedHashMap<>();
        variants.put("CL.TE", head + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n" + empty + smuggled);
        variants.put("TE.CL", head + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n" + empty + smuggled);
        variants.put("TE with a tab", head + "Content-Length: 5\r\nTransfer-Encoding:\tchunked\r\n\r\n" + empty + smuggled);
        variants.put("TE twice", head + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n" + empty + smuggled);
        variants.put("TE listed twice", head + "Transfer-Encoding: chunked, chunked\r\n\r\n" + empty + smuggled);
        variants.put("TE gzip, chunked", head + "Transfer-Encoding: gzip, chunked\r\n\r\n" + empty + smuggled);
        variants.put("TE identity", head + "Transfer-Encoding: identity\r\n\r\n" + smuggled);
        variants.put("TE on HTTP/1.0", "POST " + CHAT + " HTTP/1.0\r\nHost: router\r\nTransfer-Encoding: chunked\r\n\r\n" + empty + smuggled);
        variants.put("CL 105, 105", head + "Content-Length: 105, 105\r\n\r\n" + smuggled);
        variants.put("CL twice, different", head + "Content-Length: 5\r\nContent-Length: 6\r\n\r\n" + smuggled);
        variants.put("CL not a number", head + "Content-Length: 5x\r\n\r\n" + smuggled);
        variants.put("CL negative", head + "Content-Length: -5\r\n\r\n" + smuggled);
        for (Map.Entry<String, String> v : variants.entrySet()) {
            try (RawHttp c = new RawHttp(f.port)) {
                c.send(v.getValue());
                RawHttp.Answer a = c.read();
                assertOpenAiError(a, 400);
                assertThat(c.closedByPeer()).as("%s: the connection is closed after the 400", v.getKey()).isTrue();
            }
        }
        // a good request on a fresh connection still works, and is the only one the backend ever saw
        try (RawHttp c = new RawHttp(f.port)) {
            assertThat(c.send(RawHttp.post(CHAT, chat("m-a", "fine"))).read().status()).isEqualTo(200);
        }
        assertThat(a1.received(CHAT)).extracting(FakeOpenAiBackend.Received::body).noneMatch(b -> b.contains("smuggled"));
        assertThat(a1.count(CHAT)).isEqualTo(1);
    }

    @Test
    void every_error_the_router_answers_itself_is_openai_json_with_an_access_log_line() throws Exception {
        start(Map.of());
        Map<String, Object[]> cases = new LinkedHashMap<>(); // raw request -> {status, code}
        cases.put("random bytes", new Object[] {"\u0001\u0002\u00ff\u00fe garbage \u0000\r\n\r\n", 400});
        StringBuilder many = new StringBuilder("GET /v1/models HTTP/1.1\r\nHost: router\r\n");
        for (int i = 0; i < 5000; i++) {
            many.append("X-H-").append(i).append(": v\r\n");
        }
        cases.put("5,000 headers", new Object[] {many.append("\r\n").toString(), 431});
        cases.put("a 100 KB header", new Object[] {"GET /v1/models HTTP/1.1\r\nHost: router\r\nX-Big: " + "x".repeat(100_000) + "\r\n\r\n", 431});
        cases.put("a 20 KB URI", new Object[] {"GET /v1/models?q=" + "x".repeat(20_000) + " HTTP/1.1\r\nHost: router\r\n\r\n", 414});
        cases.put("broken chunked body", new Object[] {"POST " + CHAT + " HTTP/1.1\r\nHost: router\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", 400});
        cases.put("HTTP/1.1 without Host", new Object[] {"GET /v1/models HTTP/1.1\r\n\r\n", 400});
        cases.put("TRACE", new Object[] {"TRACE / HTTP/1.1\r\nHost: router\r\n\r\n", 405});
        cases.put("CONNECT", new Object[] {"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 405});
        cases.put("OPTIONS", new Object[] {"OPTIONS /v1/models HTTP/1.1\r\nHost: router\r\nOrigin: https://x.example\r\nAccess-Control-Request-Method: POST\r\n\r\n", 405});
        cases.put("an unknown method", new Object[] {"BREW /v1/models HTTP/1.1\r\nHost: router\r\n\r\n", 405});
        cases.put("an unknown path", new Object[] {"GET /v1/nope HTTP/1.1\r\nHost: router\r\n\r\n", 404});
        cases.put("POST on /health", new Object[] {RawHttp.post("/health", "{}"), 405});
        cases.put("a body that is not JSON", new Object[] {RawHttp.post(CHAT, "{not json"), 400});
        cases.put("a model nobody serves", new Object[] {RawHttp.post(CHAT, chat("no-such-model", "x")), 404});
        cases.put("a body over the limit", new Object[] {"POST " + CHAT + " HTTP/1.1\r\nHost: router\r\nContent-Type: application/json\r\n"
                + "Content-Length: 99999999\r\n\r\n{}", 413});
        try (LogCapture access = LogCapture.of("io.github.camelllmrouter.access")) {
            for (Map.Entry<String, Object[]> c : cases.entrySet()) {
                try (RawHttp raw = new RawHttp(f.port)) {
                    RawHttp.Answer a = raw.send(((String) c.getValue()[0]).getBytes(StandardCharsets.ISO_8859_1)).read();
                    assertOpenAiError(a, (Integer) c.getValue()[1]);
                }
            }
            await().atMost(5, TimeUnit.SECONDS).until(() -> access.lines().size() >= cases.size());
            assertThat(access.lines()).hasSize(cases.size());
            assertThat(access.lines()).allMatch(l -> l.contains("status=4"));
            assertThat(access.lines()).noneMatch(l -> l.contains("no-such-model")); // only in the body, never a label
        }
        // HTTP/1.0 may leave Host out: served
        try (RawHttp raw = new RawHttp(f.port)) {
            assertThat(raw.send("GET /v1/models HTTP/1.0\r\n\r\n").read().status()).isEqualTo(200);
        }
        String metrics = f.get("/metrics").body();
        assertThat(metrics).containsPattern("llm_router_requests_total\\{backend=\"none\",model=\"none\",outcome=\"invalid_http\",status=\"4xx\"\\} [1-9]");
        assertThat(metrics).containsPattern("llm_router_requests_total\\{backend=\"none\",model=\"none\",outcome=\"headers_too_large\",status=\"4xx\"\\} 2.0");
        assertThat(metrics).containsPattern("llm_router_requests_total\\{backend=\"none\",model=\"none\",outcome=\"method_not_allowed\",status=\"4xx\"\\} 5.0");
        assertThat(metrics).containsPattern("llm_router_requests_total\\{backend=\"none\",model=\"none\",outcome=\"model_not_found\",status=\"4xx\"\\} 1.0");
        assertThat(metrics).containsPattern("llm_router_requests_total\\{backend=\"none\",model=\"none\",outcome=\"request_too_large\",status=\"4xx\"\\} 1.0");
        assertThat(metrics).doesNotContain("no-such-model");
    }

    @Test
    void pipelined_requests_are_answered_in_order() throws Exception {
        FakeOpenAiBackend fast = f.backend("fast", "m-fast");
        FakeOpenAiBackend slow = f.backend("slow", "m-slow").headersDelayMs(120);
        f.start(Map.of(), "--static-backends", fast.url() + "," + slow.url(), "--static-models", "m-fast,m-slow");
        List<CompletableFuture<List<String>>> connections = new ArrayList<>();
        for (int c = 0; c < 10; c++) {
            int conn = c;
            connections.add(CompletableFuture.supplyAsync(() -> {
                try (RawHttp raw = new RawHttp(f.port)) {
                    StringBuilder all = new StringBuilder();
                    for (int i = 0; i < 10; i++) {
                        all.append(RawHttp.post(CHAT, chat(i % 2 == 0 ? "m-slow" : "m-fast", "c" + conn + "-r" + i)));
                    }
                    raw.send(all.toString()); // ten requests in one write, before any answer
                    List<String> users = new ArrayList<>();
                    for (int i = 0; i < 10; i++) {
                        RawHttp.Answer a = raw.read();
                        String content = JSON.readTree(a.body()).path("choices").get(0).path("message").path("content").asText();
                        users.add(content.substring(content.lastIndexOf(" to ") + 4));
                    }
                    return users;
                } catch (IOException e) {
                    throw new IllegalStateException(e);
                }
            }));
        }
        for (int c = 0; c < 10; c++) {
            List<String> expected = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                expected.add("c" + c + "-r" + i);
            }
            assertThat(connections.get(c).get(60, TimeUnit.SECONDS)).as("connection %d", c).containsExactlyElementsOf(expected);
        }
    }

    @Test
    void a_pipelined_request_over_the_body_limit_is_refused_after_the_answer_before_it() throws Exception {
        start(Map.of());
        a1.chunks(6).chunkDelayMs(150); // the first answer is still streaming when the second request arrives
        try (RawHttp raw = new RawHttp(f.port)) {
            raw.send(RawHttp.post(CHAT, RouterFixture.streamChat("m-a")) + "POST " + CHAT + " HTTP/1.1\r\nHost: router\r\n"
                    + "Content-Type: application/json\r\nContent-Length: 99999999\r\n\r\n{}");
            StringBuilder read = new StringBuilder(); // the client never sends that body: the 413 does not wait for it
            while (read.indexOf("HTTP/1.1 413") < 0 || !read.toString().endsWith("}}")) {
                byte[] more = new byte[4096];
                int n = raw.socket.getInputStream().read(more);
                assertThat(n).as("closed early: %s", read).isPositive();
                read.append(new String(more, 0, n, StandardCharsets.ISO_8859_1));
            }
            String all = read.toString();
            int done = all.indexOf("data: [DONE]");
            int refused = all.indexOf("HTTP/1.1 413");
            assertThat(done).as(all).isPositive();
            assertThat(refused).as("the 413 comes after the whole stream:%n%s", all).isGreaterThan(done);
            assertThat(all.substring(done, refused)).doesNotContain("\"error\"");
            assertThat(all.substring(refused)).contains("request_too_large").contains("application/json");
        }
    }

    @Test
    void slow_connections_are_closed_after_the_header_timeout_while_normal_requests_succeed() throws Exception {
        start(Map.of("router.request-header-timeout-seconds", "1"));
        int n = 2000;
        List<Socket> slow = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Socket s = new Socket("127.0.0.1", f.port);
            s.getOutputStream().write('P');
            slow.add(s);
        }
        // each sends one more header byte every 300 ms, for as long as the router keeps it open
        byte[] header = ("OST " + CHAT + " HTTP/1.1\r\nHost: router\r\nX-Slow: " + "s".repeat(200)).getBytes(StandardCharsets.ISO_8859_1);
        AtomicInteger closed = new AtomicInteger();
        ScheduledExecutorService dribble = Executors.newSingleThreadScheduledExecutor();
        int[] at = {0};
        boolean[] gone = new boolean[n];
        dribble.scheduleWithFixedDelay(() -> {
            int k = Math.min(at[0]++, header.length - 1);
            for (int i = 0; i < n; i++) {
                if (!gone[i]) {
                    try {
                        slow.get(i).getOutputStream().write(header[k]);
                    } catch (IOException closedByRouter) {
                        gone[i] = true;
                        closed.incrementAndGet();
                    }
                }
            }
        }, 300, 300, TimeUnit.MILLISECONDS);
        try {
            // normal requests are served meanwhile
            for (int i = 0; i < 10; i++) {
                assertThat(f.post(CHAT, RouterFixture.chat("m-a")).statusCode()).isEqualTo(200);
            }
            await().atMost(30, TimeUnit.SECONDS).until(() -> closed.get() == n);
            String metrics = f.get("/metrics").body();
            assertThat(metrics).contains("llm_router_client_connections_closed_total{reason=\"header_timeout\"} " + n + ".0");
            await().atMost(10, TimeUnit.SECONDS).until(() -> f.get("/metrics").body().matches("(?s).*llm_router_client_connections [0-9]\\.0.*"));
        } finally {
            dribble.shutdownNow();
            for (Socket s : slow) {
                s.close();
            }
        }
        // one that is merely slow to read its answer is not cut: the timeout covers the request, not the answer
        try (RawHttp raw = new RawHttp(f.port)) {
            assertThat(raw.send(RawHttp.post(CHAT, chat("m-a", "ok"))).read().status()).isEqualTo(200);
        }
    }

    @Test
    void an_idle_keep_alive_connection_is_closed_but_a_long_stream_is_not_cut() throws Exception {
        start(Map.of("router.client-idle-timeout-seconds", "1", "router.request-header-timeout-seconds", "1"));
        a1.chunks(10).chunkDelayMs(300); // a 3 s stream, three times the idle and header timeouts
        HttpResponse<InputStream> stream = f.http.send(HttpRequest.newBuilder(f.uri(CHAT)).timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(RouterFixture.streamChat("m-a"))).build(), HttpResponse.BodyHandlers.ofInputStream());
        String events = new String(stream.body().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(events).contains("data: [DONE]").doesNotContain("\"error\"");
        try (RawHttp raw = new RawHttp(f.port)) {
            assertThat(raw.send("GET /health HTTP/1.1\r\nHost: router\r\n\r\n").read().status()).isEqualTo(200);
            long t0 = System.nanoTime();
            assertThat(raw.closedByPeer()).isTrue();
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)).isBetween(500L, 5000L);
        }
        assertThat(f.get("/metrics").body()).containsPattern("llm_router_client_connections_closed_total\\{reason=\"idle_timeout\"\\} [1-9]");
    }

    @Test
    void a_later_request_on_a_kept_alive_connection_that_stalls_gets_a_408() throws Exception {
        start(Map.of("router.request-header-timeout-seconds", "1", "router.request-body-timeout-seconds", "1"));
        try (RawHttp raw = new RawHttp(f.port)) {
            assertThat(raw.send("GET /health HTTP/1.1\r\nHost: router\r\n\r\n").read().status()).isEqualTo(200);
            // past the first header timeout: the connection's timer now waits for the (60 s) idle timeout
            await().pollDelay(Duration.ofMillis(1500)).atMost(Duration.ofSeconds(3)).until(() -> true);
            raw.send("GET /health HTTP/1.1\r\nHo"); // its headers never finish
            assertOpenAiError(raw.read(), 408);
        }
        try (RawHttp raw = new RawHttp(f.port)) {
            assertThat(raw.send("GET /health HTTP/1.1\r\nHost: router\r\n\r\n").read().status()).isEqualTo(200);
            await().pollDelay(Duration.ofMillis(1500)).atMost(Duration.ofSeconds(3)).until(() -> true);
            raw.send("POST " + CHAT + " HTTP/1.1\r\nHost: router\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{");
            assertOpenAiError(raw.read(), 408); // its body never finishes
        }
    }

    @Test
    void the_idle_timeout_counts_from_the_last_answer_not_the_first() throws Exception {
        start(Map.of("router.client-idle-timeout-seconds", "1", "router.request-header-timeout-seconds", "1"));
        try (RawHttp raw = new RawHttp(f.port)) {
            long t0 = System.nanoTime();
            // a request every 400 ms for 2.4 s: the connection outlives its first timeout twice over
            for (int i = 0; i < 6; i++) {
                assertThat(raw.send("GET /health HTTP/1.1\r\nHost: router\r\n\r\n").read())
                        .as("answer %d after %d ms", i, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0)).isNotNull();
                await().pollDelay(Duration.ofMillis(400)).atMost(Duration.ofSeconds(2)).until(() -> true);
            }
            long last = System.nanoTime();
            assertThat(raw.send("GET /health HTTP/1.1\r\nHost: router\r\n\r\n").read().status()).isEqualTo(200);
            assertThat(raw.closedByPeer()).isTrue();
            // closed one idle timeout after the last answer
            assertThat(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - last)).isBetween(900L, 2500L);
        }
    }

    @Test
    void a_stray_crlf_after_a_body_does_not_cut_the_answer_being_streamed() throws Exception {
        start(Map.of("router.request-header-timeout-seconds", "1"));
        a1.chunks(10).chunkDelayMs(300); // a 3 s stream, three times the header timeout
        try (RawHttp raw = new RawHttp(f.port)) {
            raw.send(RawHttp.post(CHAT, RouterFixture.streamChat("m-a")));
            await().atMost(5, TimeUnit.SECONDS).until(() -> a1.activeRequests() == 1);
            raw.send("\r\n"); // after the body, on its own: RFC 9112 §2.2 allows it
            StringBuilder b = new StringBuilder();
            while (b.indexOf("data: [DONE]") < 0) {
                byte[] more = new byte[4096];
                int n = raw.socket.getInputStream().read(more);
                assertThat(n).as("the stream was cut: %s", b).isPositive();
                b.append(new String(more, 0, n, StandardCharsets.ISO_8859_1));
            }
            assertThat(b.toString()).doesNotContain("\"error\"");
        }
    }

    @Test
    void a_route_of_its_own_on_the_api_port_gets_its_path_on_a_kept_alive_connection(@TempDir Path routes) throws Exception {
        // a kept-alive connection's next request skips netty-http's path matching only while the API route is the
        // only one on its port: with a second route there, each request is matched again
        Files.copy(Path.of("routes/openai-api.camel.yaml"), routes.resolve("openai-api.camel.yaml"));
        Files.writeString(routes.resolve("custom.camel.yaml"), """
                - route:
                    id: custom
                    from:
                      uri: "netty-http:http://{{router.host}}:{{router.port}}/custom"
                      steps:
                        - setBody:
                            constant: "the custom route"
                """);
        start(Map.of("router.routes-dir", routes.toString(), "router.demo", "false"));
        try (RawHttp c = new RawHttp(f.port)) {
            for (int i = 0; i < 2; i++) {
                RawHttp.Answer models = c.send("GET /v1/models HTTP/1.1\r\nHost: router\r\n\r\n").read();
                assertThat(models.status()).isEqualTo(200);
                assertThat(JSON.readTree(models.body()).path("data").get(0).path("id").asText()).isEqualTo("m-a");
                RawHttp.Answer custom = c.send("GET /custom HTTP/1.1\r\nHost: router\r\n\r\n").read();
                assertThat(custom.status()).isEqualTo(200);
                assertThat(custom.body()).isEqualTo("the custom route");
            }
        }
    }

    @Test
    void connections_past_the_cap_are_closed_and_counted() throws Exception {
        start(Map.of("router.max-client-connections", "20"));
        List<RawHttp> held = new ArrayList<>();
        try {
            for (int i = 0; i < 20; i++) {
                RawHttp c = new RawHttp(f.port);
                assertThat(c.send("GET /health HTTP/1.1\r\nHost: router\r\n\r\n").read().status()).isEqualTo(200);
                held.add(c);
            }
            try (RawHttp extra = new RawHttp(f.port)) {
                extra.send("GET /health HTTP/1.1\r\nHost: router\r\n\r\n");
                assertThat(extra.closedByPeer()).as("the 21st connection").isTrue();
            }
            held.remove(0).close();
            await().atMost(5, TimeUnit.SECONDS).until(() -> {
                try (RawHttp again = new RawHttp(f.port)) {
                    RawHttp.Answer a = again.send("GET /health HTTP/1.1\r\nHost: router\r\n\r\n").read();
                    return a != null && a.status() == 200;
                } catch (IOException e) {
                    return false;
                }
            });
            assertThat(held.get(0).send("GET /metrics HTTP/1.1\r\nHost: router\r\n\r\n").read().body())
                    .containsPattern("llm_router_client_connections_closed_total\\{reason=\"limit\"\\} [1-9]");
        } finally {
            for (RawHttp c : held) {
                c.close();
            }
        }
    }

    @Test
    void during_shutdown_health_says_stopping_and_model_requests_get_json() throws Exception {
        start(Map.of());
        a1.chunks(20).chunkDelayMs(200); // a 4 s stream keeps the router in its graceful shutdown
        CompletableFuture<String> inFlight = CompletableFuture.supplyAsync(() -> {
            try {
                return new String(f.http.send(HttpRequest.newBuilder(f.uri(CHAT)).timeout(Duration.ofSeconds(30))
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(RouterFixture.streamChat("m-a"))).build(),
                        HttpResponse.BodyHandlers.ofInputStream()).body().readAllBytes(), StandardCharsets.UTF_8);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        await().atMost(5, TimeUnit.SECONDS).until(() -> a1.activeRequests() == 1);
        RouterMain router = f.router;
        CompletableFuture<Void> stopping = CompletableFuture.runAsync(router::stop);
        f.router = null;
        RawHttp.Answer[] health = new RawHttp.Answer[1];
        await().atMost(10, TimeUnit.SECONDS).pollInterval(Duration.ofMillis(50)).until(() -> {
            try (RawHttp raw = new RawHttp(f.port)) {
                health[0] = raw.send("GET /health HTTP/1.1\r\nHost: router\r\n\r\n").read();
                return health[0] != null && health[0].status() == 503;
            } catch (IOException refused) {
                return false;
            }
        });
        assertThat(health[0].header("content-type")).startsWith("application/json");
        assertThat(JSON.readTree(health[0].body()).path("status").asText()).isEqualTo("stopping");
        try (RawHttp raw = new RawHttp(f.port)) {
            assertOpenAiError(raw.send(RawHttp.post(CHAT, chat("m-a", "late"))).read(), 503);
        }
        assertThat(inFlight.get(30, TimeUnit.SECONDS)).as("the stream in flight finishes").contains("data: [DONE]");
        stopping.get(30, TimeUnit.SECONDS);
    }

    @Test
    void cors_answers_a_browser_from_an_allowed_origin() throws Exception {
        start(Map.of("router.cors-allowed-origins", "https://app.example"));
        try (RawHttp raw = new RawHttp(f.port)) {
            RawHttp.Answer pre = raw.send("OPTIONS " + CHAT + " HTTP/1.1\r\nHost: router\r\nOrigin: https://app.example\r\n"
                    + "Access-Control-Request-Method: POST\r\nAccess-Control-Request-Headers: authorization, content-type\r\n\r\n").read();
            assertThat(pre.status()).isEqualTo(204);
            assertThat(pre.header("access-control-allow-origin")).isEqualTo("https://app.example");
            assertThat(pre.header("access-control-allow-methods")).contains("POST");
            assertThat(pre.header("access-control-allow-headers")).contains("authorization");
            RawHttp.Answer post = raw.send(RawHttp.post(CHAT, chat("m-a", "browser"), "Origin: https://app.example")).read();
            assertThat(post.status()).isEqualTo(200);
            assertThat(post.header("access-control-allow-origin")).isEqualTo("https://app.example");
            assertThat(post.header("access-control-expose-headers")).contains("x-request-id");
        }
        try (RawHttp raw = new RawHttp(f.port)) {
            assertOpenAiError(raw.send("OPTIONS " + CHAT + " HTTP/1.1\r\nHost: router\r\nOrigin: https://evil.example\r\n"
                    + "Access-Control-Request-Method: POST\r\n\r\n").read(), 405);
            RawHttp.Answer post = raw.send(RawHttp.post(CHAT, chat("m-a", "other"), "Origin: https://evil.example")).read();
            assertThat(post.header("access-control-allow-origin")).isNull();
        }
    }
}
