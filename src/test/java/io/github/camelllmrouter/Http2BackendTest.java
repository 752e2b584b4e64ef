package io.github.camelllmrouter;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import io.github.camelllmrouter.demo.FakeOpenAiBackend;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * camel.component.llm.http2: the router speaks HTTP/2 (h2c) to its backends, many requests and streams share a
 * connection, and a client that leaves ends its own stream only.
 */
class Http2BackendTest {

    final RouterFixture f = new RouterFixture();

    @AfterEach
    void stop() {
        f.close();
    }

    private FakeOpenAiBackend startWith(boolean http2) throws Exception {
        // 200 requests in flight per backend: over HTTP/2, two connections of 100 streams each
        return startWith(http2, 200);
    }

    private FakeOpenAiBackend startWith(boolean http2, int inFlight) throws Exception {
        FakeOpenAiBackend b = f.backend("h1", "m");
        f.start(Map.of("camel.component.llm.http2", String.valueOf(http2),
                "camel.component.llm.max-connections-per-backend", String.valueOf(inFlight)),
                "--static-backends", b.url(), "--static-models", "m");
        return b;
    }

    @Test
    void the_requests_in_flight_per_backend_stay_bounded_below_a_connections_worth() throws Exception {
        FakeOpenAiBackend b = startWith(true, 8);
        b.chunks(20); // 3 s each
        b.chunkDelayMs(150);
        List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            all.add(f.http.sendAsync(streamRequest(), HttpResponse.BodyHandlers.ofString()));
        }
        await().atMost(10, TimeUnit.SECONDS).until(() -> b.activeRequests() >= 8);
        // the other four wait for a stream of the one connection (this pause is what is under test)
        await().pollDelay(Duration.ofMillis(500)).atMost(Duration.ofSeconds(2)).until(() -> true);
        assertThat(b.activeRequests()).isEqualTo(8);
        for (CompletableFuture<HttpResponse<String>> s : all) {
            assertThat(s.get(30, TimeUnit.SECONDS).body()).endsWith("data: [DONE]\n\n");
        }
        assertThat(b.connections()).isEqualTo(1);
    }

    @Test
    void answers_and_streams_reach_the_backend_over_http2_with_the_clients_headers() throws Exception {
        FakeOpenAiBackend b = startWith(true);
        HttpResponse<String> r = f.post("/v1/chat/completions", RouterFixture.chat("m"), "X-Request-Tag", "blue");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("x-served-by")).contains("h1");
        assertThat(r.body()).contains("Hello from h1");
        FakeOpenAiBackend.Received got = b.last();
        assertThat(got.version()).isEqualTo("HTTP/2");
        assertThat(got.model()).isEqualTo("m");
        assertThat(got.headers().get("x-request-tag")).isEqualTo("blue");

        // a stream still flows chunk by chunk: the first chunk is at the client while the backend generates
        b.chunks(6);
        b.chunkDelayMs(250);
        List<Long> at = new ArrayList<>();
        List<String> lines = new ArrayList<>();
        long t0 = System.nanoTime();
        try (InputStream in = streamBody()) {
            BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
            for (String line; (line = reader.readLine()) != null; ) {
                if (line.startsWith("data:")) {
                    at.add(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
                    lines.add(line);
                }
            }
        }
        assertThat(lines).hasSize(7).last().isEqualTo("data: [DONE]");
        assertThat(at.get(5) - at.get(0)).isGreaterThan(1000); // the backend spreads its six chunks over 1.25 s
        assertThat(b.last().version()).isEqualTo("HTTP/2");
    }

    @Test
    void the_headers_a_connection_header_names_are_not_forwarded() throws Exception {
        FakeOpenAiBackend b = startWith(true);
        String body = RouterFixture.chat("m");
        try (RawHttp c = new RawHttp(f.port)) {
            RawHttp.Answer a = c.send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    + "Connection: keep-alive, X-Hop\r\nX-Hop: for-the-router\r\nHTTP2-Settings: AAMAAABkAAQBAAAAAAIAAAAA\r\n"
                    + "X-Kept: yes\r\nContent-Length: " + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body).read();
            assertThat(a.status()).isEqualTo(200);
        }
        assertThat(b.last().headers().get("x-kept")).isEqualTo("yes");
        assertThat(b.last().headers().names()).doesNotContain("x-hop", "http2-settings", "X-Hop", "HTTP2-Settings");
    }

    @Test
    void without_it_the_backend_is_called_over_http_1_1() throws Exception {
        FakeOpenAiBackend b = startWith(false);
        assertThat(f.post("/v1/chat/completions", RouterFixture.chat("m")).statusCode()).isEqualTo(200);
        assertThat(b.last().version()).isEqualTo("HTTP/1.1");
    }

    @Test
    void many_open_streams_share_a_few_backend_connections() throws Exception {
        FakeOpenAiBackend b = startWith(true);
        b.chunks(30); // 4.5 s each: long enough for all to be open at once on a loaded machine
        b.chunkDelayMs(150);
        int streams = 150;
        List<CompletableFuture<HttpResponse<String>>> all = new ArrayList<>();
        for (int i = 0; i < streams; i++) {
            all.add(f.http.sendAsync(streamRequest(), HttpResponse.BodyHandlers.ofString()));
        }
        await().atMost(20, TimeUnit.SECONDS).until(() -> b.activeRequests() == streams || all.stream().anyMatch(CompletableFuture::isDone));
        assertThat(b.activeRequests()).as("all streams open at the backend at once").isEqualTo(streams);
        for (CompletableFuture<HttpResponse<String>> s : all) {
            HttpResponse<String> r = s.get(30, TimeUnit.SECONDS);
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.body()).endsWith("data: [DONE]\n\n");
        }
        // up to 100 streams per connection: two connections, not 150
        assertThat(b.connections()).isEqualTo(2);
        assertThat(b.received("/v1/chat/completions")).hasSize(streams)
                .allSatisfy(r -> assertThat(r.version()).isEqualTo("HTTP/2"));
    }

    @Test
    void a_client_that_leaves_ends_its_own_stream_and_not_the_others_on_its_connection() throws Exception {
        FakeOpenAiBackend b = startWith(true);
        b.chunks(20);
        b.chunkDelayMs(100);
        CompletableFuture<HttpResponse<String>> stays = f.http.sendAsync(streamRequest(), HttpResponse.BodyHandlers.ofString());
        await().atMost(10, TimeUnit.SECONDS).until(() -> b.activeRequests() == 1);
        int leaving = 3;
        List<RawHttp> leavers = new ArrayList<>();
        for (int i = 0; i < leaving; i++) {
            RawHttp c = new RawHttp(f.port);
            String body = RouterFixture.streamChat("m");
            c.send("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: "
                    + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body);
            leavers.add(c);
            int open = i + 2;
            await().atMost(10, TimeUnit.SECONDS).until(() -> b.activeRequests() == open);
        }
        assertThat(b.connections()).as("all four streams on one backend connection").isEqualTo(1);
        for (RawHttp c : leavers) {
            c.close();
        }
        await().atMost(10, TimeUnit.SECONDS).until(() -> b.clientDisconnects() == leaving);
        HttpResponse<String> r = stays.get(30, TimeUnit.SECONDS);
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).endsWith("data: [DONE]\n\n").doesNotContain("\"error\"");
        assertThat(r.body().split("\n\n")).hasSize(21); // twenty chunks and [DONE]
        assertThat(b.clientDisconnects()).isEqualTo(leaving);
        assertThat(b.connections()).isEqualTo(1);
    }

    @Test
    void a_request_that_meets_a_connection_the_backend_closed_is_sent_again_over_http2_too() throws Exception {
        FakeOpenAiBackend b = startWith(true);
        b.closeReusedConnections(true); // a second request on a connection: closed, unanswered (as GOAWAY after idle)
        for (int i = 0; i < 6; i++) {
            HttpResponse<String> r = f.post("/v1/chat/completions", RouterFixture.chat("m"));
            assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
            assertThat(r.headers().firstValue("x-llm-router-attempts")).contains("1");
        }
        assertThat(b.closedReused()).as("the router did meet closed connections").isPositive();
        assertThat(b.received("/v1/chat/completions")).hasSize(6).allSatisfy(r -> assertThat(r.version()).isEqualTo("HTTP/2"));
    }

    @Test
    void a_stream_held_back_for_a_slow_client_does_not_hold_back_the_others_on_its_connection() throws Exception {
        FakeOpenAiBackend b = startWith(true);
        b.chunks(50000); // far more than the client's socket, the relay and the stream's flow-control window hold
        b.chunkDelayMs(0);
        try (Socket slow = new Socket()) {
            slow.setReceiveBufferSize(4096);
            slow.connect(new InetSocketAddress("127.0.0.1", f.port));
            slow.setSoTimeout(20_000);
            String body = RouterFixture.streamChat("m");
            slow.getOutputStream().write(("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    + "Content-Length: " + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8));
            InputStream in = slow.getInputStream();
            assertThat(new String(in.readNBytes(15), StandardCharsets.ISO_8859_1)).isEqualTo("HTTP/1.1 200 OK");
            // the slow client reads nothing more for now (this pause is what is under test): its stream fills up
            await().pollDelay(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(3)).until(() -> true);
            b.chunks(5);
            HttpResponse<String> fast = f.http.send(HttpRequest.newBuilder(f.uri("/v1/chat/completions"))
                    .timeout(Duration.ofSeconds(5)).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(RouterFixture.streamChat("m"))).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(fast.statusCode()).isEqualTo(200);
            assertThat(fast.body()).endsWith("data: [DONE]\n\n");
            assertThat(b.connections()).as("both streams on one backend connection").isEqualTo(1);
            String rest = RawHttp.readToEnd(in);
            assertThat(rest).contains("data: [DONE]").doesNotContain("\"error\"");
        }
    }

    @Test
    void when_a_backend_dies_its_streams_end_with_an_error_event_and_the_other_backend_serves() throws Exception {
        FakeOpenAiBackend b1 = f.backend("h1", "m");
        FakeOpenAiBackend b2 = f.backend("h2", "m");
        f.start(Map.of("camel.component.llm.http2", "true"), "--static-backends", b1.url() + "," + b2.url(),
                "--static-models", "m,m");
        for (FakeOpenAiBackend b : List.of(b1, b2)) {
            b.chunks(30);
            b.chunkDelayMs(100);
        }
        List<CompletableFuture<HttpResponse<String>>> open = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            open.add(f.http.sendAsync(streamRequest(), HttpResponse.BodyHandlers.ofString()));
        }
        await().atMost(10, TimeUnit.SECONDS).until(() -> b1.activeRequests() + b2.activeRequests() == 40);
        int onB1 = b1.activeRequests();
        b1.stop(); // its connections close under their streams
        int cut = 0;
        int done = 0;
        for (CompletableFuture<HttpResponse<String>> s : open) {
            HttpResponse<String> r = s.get(30, TimeUnit.SECONDS);
            assertThat(r.statusCode()).isEqualTo(200);
            cut += r.body().contains("\"code\":\"upstream_cut\"") ? 1 : 0;
            done += r.body().endsWith("data: [DONE]\n\n") ? 1 : 0;
        }
        assertThat(onB1).isBetween(10, 30);
        // a stream b1 had begun to answer ends with the event; one it had not (its answer's head not yet written)
        // fails over to b2 and is whole
        assertThat(cut).as("b1's streams, ended with an error event").isBetween(1, onB1);
        assertThat(cut + done).as("every stream ended one way or the other").isEqualTo(40);
        assertThat(done).as("b2's streams, whole").isGreaterThanOrEqualTo(40 - onB1);
        b2.chunks(2);
        b2.chunkDelayMs(0);
        for (int i = 0; i < 10; i++) {
            HttpResponse<String> r = f.post("/v1/chat/completions", RouterFixture.chat("m"));
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.headers().firstValue("x-served-by")).contains("h2");
        }
    }

    private HttpRequest streamRequest() {
        return HttpRequest.newBuilder(f.uri("/v1/chat/completions")).timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(RouterFixture.streamChat("m"))).build();
    }

    private InputStream streamBody() throws Exception {
        HttpResponse<InputStream> s = f.http.send(streamRequest(), HttpResponse.BodyHandlers.ofInputStream());
        assertThat(s.statusCode()).isEqualTo(200);
        return s.body();
    }
}
