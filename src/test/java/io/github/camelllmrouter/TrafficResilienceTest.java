package io.github.camelllmrouter;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.camelllmrouter.demo.FakeOpenAiBackend;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Resilience under what real traffic does: clients that hang up, backends that go down and come back again and
 * again, Retry-After, and pooled connections the backend closed. m-a (a1, a2) falls back to m-b (b1).
 */
class TrafficResilienceTest {

    static final ObjectMapper JSON = new ObjectMapper();
    static final String CHAT = "/v1/chat/completions";
    final RouterFixture f = new RouterFixture();
    FakeOpenAiBackend a1;
    FakeOpenAiBackend a2;
    FakeOpenAiBackend b1;

    void start(Map<String, String> config, String... flags) throws Exception {
        a1 = f.backend("a1", "m-a");
        a2 = f.backend("a2", "m-a");
        b1 = f.backend("b1", "m-b");
        List<String> args = new ArrayList<>(List.of("--static-backends", a1.url() + "," + a2.url() + "," + b1.url(),
                "--static-models", "m-a,m-a,m-b", "--static-fallback-models", "m-a:m-b"));
        args.addAll(List.of(flags));
        f.start(new HashMap<>(config), args.toArray(new String[0]));
    }

    @AfterEach
    void stop() {
        f.close();
    }

    /** Who served one chat request for m-a: a backend's name, or "status N". */
    String servedBy() {
        return f.servedBy("m-a");
    }

    /** Sends a request every 50 ms until one is served by one of {@code names}; returns the milliseconds it took. */
    long untilServedBy(Set<String> names, long atMostMs) {
        long t0 = System.nanoTime();
        await().atMost(atMostMs, TimeUnit.MILLISECONDS).pollInterval(Duration.ofMillis(50)).until(() -> names.contains(servedBy()));
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
    }

    /** Keeps sending a request every 50 ms for {@code ms}; each must be answered 200 (by the fallback, say). */
    void trafficFor(long ms) {
        long t0 = System.nanoTime();
        await().atMost(ms + 10_000, TimeUnit.MILLISECONDS).pollInterval(Duration.ofMillis(50)).until(() -> {
            assertThat(servedBy()).doesNotStartWith("status");
            return System.nanoTime() - t0 >= TimeUnit.MILLISECONDS.toNanos(ms);
        });
    }

    String metrics() throws Exception {
        return f.get("/metrics").body();
    }

    JsonNode backendHealth(FakeOpenAiBackend b) throws Exception {
        for (JsonNode n : JSON.readTree(f.get("/health").body()).path("backends")) {
            if (n.path("url").asText().equals(b.url())) {
                return n;
            }
        }
        throw new AssertionError("no backend " + b.url() + " in /health");
    }

    @Test
    void clients_that_hang_up_count_against_nothing_and_send_nothing_to_the_fallback() throws Exception {
        start(Map.of());
        // twenty clients send their request and hang up while its backend holds the answer back (each client
        // waits until every request has reached a backend: a client timeout could fire before its request was sent)
        a1.headersDelayMs(2000);
        a2.headersDelayMs(2000);
        List<RawHttp> impatient = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            impatient.add(new RawHttp(f.port).send(RawHttp.post(CHAT, RouterFixture.chat("m-a"))));
        }
        await().atMost(10, TimeUnit.SECONDS).until(() -> a1.count(CHAT) + a2.count(CHAT) == 20);
        for (RawHttp client : impatient) {
            client.close();
        }
        a1.headersDelayMs(300);
        a2.headersDelayMs(300);
        // the router records each as client_closed, and closes the backend calls it had made for them
        await().atMost(10, TimeUnit.SECONDS).until(() -> metrics().matches(
                "(?s).*llm_router_requests_total\\{[^}]*outcome=\"client_closed\"[^}]*\\} 20.0.*"));
        await().atMost(10, TimeUnit.SECONDS).until(() -> a1.activeRequests() + a2.activeRequests() == 0);

        List<CompletableFuture<HttpResponse<String>>> normal = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            normal.add(f.http.sendAsync(HttpRequest.newBuilder(f.uri(CHAT)).timeout(Duration.ofSeconds(30))
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(RouterFixture.chat("m-a"))).build(), HttpResponse.BodyHandlers.ofString()));
        }
        for (CompletableFuture<HttpResponse<String>> future : normal) {
            HttpResponse<String> r = future.get(30, TimeUnit.SECONDS);
            assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
            assertThat(r.headers().firstValue("x-served-by").orElseThrow()).isIn("a1", "a2");
            assertThat(r.headers().firstValue("x-llm-router-model")).contains("m-a");
            assertThat(r.headers().firstValue("x-llm-router-fallback-from")).isEmpty();
        }
        assertThat(b1.count(CHAT)).as("no hang-up reached the fallback").isZero();
        String metrics = metrics();
        assertThat(metrics).doesNotContain("llm_router_fallbacks_total{");
        assertThat(metrics).contains("resilience4j_circuitbreaker_state{name=\"breaker-m-a\",state=\"closed\"} 1.0");
        assertThat(metrics).containsPattern("llm_router_requests_total\\{[^}]*outcome=\"client_closed\"[^}]*\\} 20.0");
        for (FakeOpenAiBackend b : List.of(a1, a2)) {
            assertThat(backendHealth(b).path("failures").asInt()).isZero();
            assertThat(backendHealth(b).path("status").asText()).isEqualTo("healthy");
        }
    }

    @Test
    void clients_that_leave_mid_stream_count_against_nothing() throws Exception {
        start(Map.of());
        for (FakeOpenAiBackend b : List.of(a1, a2)) {
            b.chunks(20).chunkDelayMs(50);
        }
        for (int i = 0; i < 8; i++) {
            HttpResponse<InputStream> r = f.http.send(HttpRequest.newBuilder(f.uri(CHAT)).timeout(Duration.ofSeconds(30))
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(RouterFixture.streamChat("m-a"))).build(),
                    HttpResponse.BodyHandlers.ofInputStream());
            assertThat(r.statusCode()).isEqualTo(200);
            try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
                assertThat(in.readLine()).startsWith("data: ");
            } // closed after the first event: the client left
        }
        await().atMost(10, TimeUnit.SECONDS).until(() -> a1.clientDisconnects() + a2.clientDisconnects() == 8);
        for (int i = 0; i < 6; i++) {
            assertThat(servedBy()).isIn("a1", "a2");
        }
        assertThat(b1.count(CHAT)).isZero();
        for (FakeOpenAiBackend b : List.of(a1, a2)) {
            assertThat(backendHealth(b).path("failures").asInt()).isZero();
        }
    }

    @Test
    void after_each_outage_the_model_is_served_again_as_soon_as_its_backends_are_however_many_came_before() throws Exception {
        // ejection short enough for a quick test; the breaker as configured (it must not hold the model back)
        start(Map.of("camel.component.llm.eject-base-ms", "500", "camel.component.llm.connect-timeout-ms", "500"));
        int p1 = a1.port();
        int p2 = a2.port();
        List<Long> recoveries = new ArrayList<>();
        for (int outage = 0; outage < 3; outage++) {
            a1.stop();
            a2.stop();
            untilServedBy(Set.of("b1"), 5000);
            trafficFor(1000); // the outage goes on under traffic, all served by the fallback
            a1.start(p1);
            a2.start(p2);
            recoveries.add(untilServedBy(Set.of("a1", "a2"), 15_000));
        }
        // back within the ejection time in force (at most 1.5 s: 0.5 s, then 1 s after a failed trial) plus slack
        assertThat(recoveries).as("ms from the backends' return to m-a served by them, per outage")
                .allSatisfy(ms -> assertThat(ms).isLessThan(3000));
        assertThat(recoveries.get(2)).as("no slower after the third outage than after the first: %s", recoveries)
                .isLessThan(recoveries.get(0) + 1500);
    }

    @Test
    void requests_in_flight_when_a_backend_fails_eject_it_once_and_it_is_back_after_the_base_time() throws Exception {
        // under load many requests are in flight on a backend when it fails: their failures are one outage, not
        // one ejection each (which made the ejection minutes long after a few seconds down)
        start(Map.of("camel.component.llm.eject-base-ms", "1000"));
        a1.headersDelayMs(300).failWithStatus(503);
        List<CompletableFuture<HttpResponse<String>>> inFlight = new ArrayList<>();
        for (int i = 0; i < 24; i++) {
            inFlight.add(f.http.sendAsync(HttpRequest.newBuilder(f.uri(CHAT)).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(RouterFixture.chat("m-a"))).build(), HttpResponse.BodyHandlers.ofString()));
        }
        for (CompletableFuture<HttpResponse<String>> r : inFlight) {
            assertThat(r.get(30, TimeUnit.SECONDS).statusCode()).as("failed over to a2").isEqualTo(200);
        }
        assertThat(a1.count()).as("a1 had many of them in flight").isGreaterThanOrEqualTo(6);
        assertThat(backendHealth(a1).path("ejections").asInt()).as("one outage, one ejection").isEqualTo(1);
        a1.headersDelayMs(0).healthy();
        // out for the base time (1 s) from its ejection, then its next request is the trial that brings it back
        assertThat(untilServedBy(Set.of("a1"), 10_000)).as("ms until a1 serves again").isLessThan(2500);
    }

    @Test
    void streams_open_when_their_backend_breaks_them_eject_it_once() throws Exception {
        start(Map.of("camel.component.llm.eject-base-ms", "1000"));
        a1.chunks(4).chunkDelayMs(300).cutAfter(1);
        List<CompletableFuture<HttpResponse<String>>> open = new ArrayList<>();
        for (int i = 0; i < 24; i++) {
            open.add(f.http.sendAsync(HttpRequest.newBuilder(f.uri(CHAT)).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(RouterFixture.streamChat("m-a"))).build(), HttpResponse.BodyHandlers.ofString()));
        }
        int cut = 0;
        for (CompletableFuture<HttpResponse<String>> r : open) {
            cut += r.get(30, TimeUnit.SECONDS).body().contains("upstream_cut") ? 1 : 0;
        }
        assertThat(cut).as("a1's streams, all cut").isGreaterThanOrEqualTo(6);
        assertThat(backendHealth(a1).path("ejections").asInt()).as("one outage, one ejection").isEqualTo(1);
    }

    @Test
    void a_passing_health_check_brings_an_ejected_backend_back_at_once() throws Exception {
        // a passive ejection of a minute: only the active check can bring the backends back in time
        start(Map.of("camel.component.llm.eject-base-ms", "60000", "camel.component.llm.connect-timeout-ms", "500",
                        "camel.component.llm.health-check-timeout-ms", "500"),
                "--static-backend-health-checks", "--static-backend-health-check-interval", "1");
        int p1 = a1.port();
        int p2 = a2.port();
        a1.stop();
        a2.stop();
        untilServedBy(Set.of("b1"), 5000);
        trafficFor(1000);
        a1.start(p1);
        a2.start(p2);
        // two passing probes in a row (healthy-threshold 2) one interval apart, then at most 2 s
        long ms = untilServedBy(Set.of("a1", "a2"), 15_000);
        assertThat(ms).as("ms from the backends' return to m-a served by them").isLessThan(5000);
        // the first of them back has served; the other follows within one probe interval, not the minute's ejection
        await().atMost(3, TimeUnit.SECONDS).pollInterval(Duration.ofMillis(100)).until(() ->
                backendHealth(a1).path("status").asText().equals("healthy") && backendHealth(a2).path("status").asText().equals("healthy"));
    }

    @Test
    void a_half_open_trial_reaches_backends_that_are_out_of_rotation_and_closes_the_breaker() throws Exception {
        start(Map.of("camel.component.llm.eject-consecutive-failures", "3", "camel.component.llm.eject-base-ms", "60000",
                "camel.resilience4j.minimum-number-of-calls", "2", "camel.resilience4j.sliding-window-size", "2",
                "camel.resilience4j.wait-duration-in-open-state", "1"));
        a1.failWithStatus(500);
        a2.failWithStatus(500);
        assertThat(servedBy()).isEqualTo("b1"); // each backend failed once
        assertThat(servedBy()).isEqualTo("b1"); // twice: the breaker opens
        assertThat(metrics()).contains("resilience4j_circuitbreaker_state{name=\"breaker-m-a\",state=\"open\"} 1.0");
        // its trial fails too: both backends are ejected for a minute, and the breaker opens again
        await().atMost(10, TimeUnit.SECONDS).pollInterval(Duration.ofMillis(100)).until(() ->
                servedBy().equals("b1") && a1.count(CHAT) + a2.count(CHAT) >= 6);
        await().atMost(5, TimeUnit.SECONDS).until(() -> backendHealth(a1).path("status").asText().equals("ejected")
                && backendHealth(a2).path("status").asText().equals("ejected"));
        a1.healthy();
        a2.healthy();
        long ms = untilServedBy(Set.of("a1", "a2"), 10_000);
        assertThat(ms).as("the next trial (after 1 s open) reaches an ejected backend").isLessThan(3000);
        assertThat(metrics()).contains("resilience4j_circuitbreaker_state{name=\"breaker-m-a\",state=\"closed\"} 1.0");
        for (int i = 0; i < 4; i++) {
            assertThat(servedBy()).isIn("a1", "a2");
        }
    }

    @Test
    void retry_after_is_honoured_as_given_and_the_requests_it_refuses_do_not_open_the_breaker() throws Exception {
        start(Map.of());
        String limited = "{\"error\":{\"message\":\"slow down\",\"type\":\"rate_limit_error\",\"param\":null,\"code\":null}}";
        a1.failWithStatus(429, limited, Map.of("Retry-After", "2"));
        a2.failWithStatus(429, limited, Map.of("Retry-After", "2"));
        long t0 = System.nanoTime();
        assertThat(servedBy()).isEqualTo("b1");
        a1.healthy();
        a2.healthy();
        long ms = untilServedBy(Set.of("a1", "a2"), 10_000);
        long sinceTheLimit = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertThat(sinceTheLimit).as("tried again after its 2 s").isGreaterThanOrEqualTo(1900).isLessThan(3500);
        assertThat(ms).isPositive();
        assertThat(a1.count(CHAT) + a2.count(CHAT)).as("one 429 each, then left alone for 2 s, then served").isLessThanOrEqualTo(4);
        assertThat(metrics()).contains("resilience4j_circuitbreaker_state{name=\"breaker-m-a\",state=\"closed\"} 1.0");
        assertThat(backendHealth(a1).path("ejections").asInt()).as("a Retry-After is not an ejection").isZero();
    }

    @Test
    void with_every_backend_waiting_out_its_retry_after_the_client_is_told_when_to_come_back() throws Exception {
        FakeOpenAiBackend z1 = f.backend("z1", "m-z");
        f.start(Map.of(), "--static-backends", z1.url(), "--static-models", "m-z");
        z1.failWithStatus(429, "{\"error\":{\"message\":\"slow down\",\"type\":\"rate_limit_error\"}}", Map.of("Retry-After", "5"));
        HttpResponse<String> first = f.post(CHAT, RouterFixture.chat("m-z"));
        assertThat(first.statusCode()).isEqualTo(429);
        assertThat(first.headers().firstValue("retry-after")).contains("5");
        HttpResponse<String> second = f.post(CHAT, RouterFixture.chat("m-z"));
        assertThat(second.statusCode()).as("not tried again before its Retry-After, even as the last resort").isEqualTo(503);
        assertThat(Integer.parseInt(second.headers().firstValue("retry-after").orElseThrow())).isBetween(1, 5);
        assertThat(z1.count(CHAT)).isEqualTo(1);
    }

    @Test
    void a_request_that_meets_a_pooled_connection_the_backend_closed_is_sent_again_and_never_fails() throws Exception {
        FakeOpenAiBackend s1 = f.backend("s1", "m-s").closeReusedConnections(true);
        f.start(Map.of(), "--static-backends", s1.url(), "--static-models", "m-s");
        // bursts: each leaves its connections in the pool, the next burst meets them closed by the backend
        for (int burst = 0; burst < 5; burst++) {
            List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                all.add(f.http.sendAsync(HttpRequest.newBuilder(f.uri(CHAT)).timeout(Duration.ofSeconds(30))
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString(RouterFixture.chat("m-s"))).build(), HttpResponse.BodyHandlers.ofString()));
            }
            for (CompletableFuture<HttpResponse<String>> future : all) {
                HttpResponse<String> r = future.get(30, TimeUnit.SECONDS);
                assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
                assertThat(r.headers().firstValue("x-llm-router-attempts")).contains("1");
            }
        }
        assertThat(s1.closedReused()).as("the router did meet closed pooled connections").isPositive();
        assertThat(backendHealth(s1).path("failures").asInt()).as("and none counted against the backend").isZero();
        assertThat(s1.count(CHAT)).isEqualTo(80);
    }
}
