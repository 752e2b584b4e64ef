package io.github.camelllmrouter;

import java.io.BufferedReader;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.errors.SseException;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import io.github.camelllmrouter.demo.FakeOpenAiBackend;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** Server-Sent Events reach the client chunk by chunk, timeouts and client disconnects are handled. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class StreamingTest {

    static final ObjectMapper JSON = new ObjectMapper();
    final RouterFixture f = new RouterFixture();
    FakeOpenAiBackend backend;

    @BeforeAll
    void start() throws Exception {
        backend = f.backend("s1", "m-s");
        f.start(Map.of("camel.component.llm.first-byte-timeout-ms", "1500",
                        "camel.component.llm.total-timeout-ms", "2000",
                        "camel.beans.relay.idle-timeout-ms", "1000"),
                "--static-backends", backend.url(), "--static-models", "m-s",
                "--max-instance-failover-reroute-attempts", "0");
    }

    @AfterAll
    void stop() {
        f.close();
    }

    @BeforeEach
    void reset() {
        // a request the last test left in the backend (stalled, hanging) ends first, so its disconnect is not
        // counted in this test
        await().atMost(10, TimeUnit.SECONDS).until(() -> backend.activeRequests() == 0);
        backend.reset();
    }

    record Event(long atMs, String line) {
    }

    /** Reads SSE data lines as they arrive, with their arrival time since the request was sent. */
    private List<Event> stream(String body, int stopAfter) throws Exception {
        long t0 = System.nanoTime();
        HttpResponse<InputStream> r = f.http.send(HttpRequest.newBuilder(f.uri("/v1/chat/completions"))
                .timeout(Duration.ofSeconds(30)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofInputStream());
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("content-type").orElseThrow()).startsWith("text/event-stream");
        List<Event> events = new ArrayList<>();
        try (InputStream in = r.body();
             BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
            String line;
            while ((line = reader.readLine()) != null) {
                if (line.startsWith("data:")) {
                    events.add(new Event(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0), line));
                    if (events.size() == stopAfter) {
                        break;
                    }
                }
            }
        }
        return events;
    }

    @Test
    void chunks_reach_the_client_while_the_backend_is_still_generating() throws Exception {
        backend.chunks(10);
        backend.chunkDelayMs(200);
        List<Event> events = stream(RouterFixture.streamChat("m-s"), -1);
        assertThat(events).hasSize(11);
        assertThat(events.get(events.size() - 1).line()).isEqualTo("data: [DONE]");
        long first = events.get(0).atMs();
        long lastChunk = events.get(9).atMs();
        // the backend needs 1.8 s between its first and tenth chunk: the client must see that spread
        assertThat(lastChunk - first).isGreaterThan(1500);
        assertThat(first).isLessThan(lastChunk - 1500);
        // and chunks arrive spread out, not in bursts
        for (int i = 1; i < 10; i++) {
            assertThat(events.get(i).atMs() - events.get(i - 1).atMs()).as("gap before chunk %d", i).isGreaterThan(80);
        }
        JsonNode chunk = JSON.readTree(events.get(0).line().substring(5));
        assertThat(chunk.path("object").asText()).isEqualTo("chat.completion.chunk");
    }

    @Test
    void a_client_that_disconnects_mid_stream_makes_the_router_close_the_backend_connection() throws Exception {
        backend.chunks(50);
        backend.chunkDelayMs(100);
        List<Event> events = stream(RouterFixture.streamChat("m-s"), 2); // reads two chunks, then hangs up
        assertThat(events).hasSize(2);
        await().atMost(10, TimeUnit.SECONDS).until(() -> backend.clientDisconnects() == 1);
        assertThat(backend.activeRequests()).isZero();
    }

    @Test
    void a_backend_that_hangs_before_answering_gives_a_504() throws Exception {
        backend.hang();
        HttpResponse<String> r = f.post("/v1/chat/completions", RouterFixture.chat("m-s"));
        assertThat(r.statusCode()).isEqualTo(504);
        assertThat(JSON.readTree(r.body()).path("error").path("code").asText()).isEqualTo("timeout");
        await().atMost(10, TimeUnit.SECONDS).until(() -> backend.clientDisconnects() == 1);
    }

    @Test
    void a_plain_answer_that_stalls_after_its_headers_is_cut_by_the_total_timeout() throws Exception {
        backend.stallAfter(0);
        HttpResponse<String> r = f.post("/v1/chat/completions", RouterFixture.chat("m-s"));
        assertThat(r.statusCode()).isEqualTo(504);
        assertThat(JSON.readTree(r.body()).path("error").path("code").asText()).isEqualTo("timeout");
    }

    @Test
    void after_a_cut_stream_the_client_connection_serves_the_next_request() throws Exception {
        // one keep-alive connection, as a client's pool reuses it: a cut stream must end its answer, not the
        // connection (closing it raced the client's next request, which then failed with no answer at all)
        backend.chunks(10);
        backend.chunkDelayMs(10);
        backend.stallAfter(3);
        try (Socket socket = new Socket("127.0.0.1", f.port)) {
            socket.setSoTimeout(10_000);
            OutputStream out = socket.getOutputStream();
            InputStream in = socket.getInputStream();
            out.write(rawPost(RouterFixture.streamChat("m-s")));
            out.flush();
            String first = readUntil(in, "\r\n0\r\n\r\n"); // the end of the chunked answer
            assertThat(first).startsWith("HTTP/1.1 200").contains("stream_idle_timeout").doesNotContain("[DONE]");
            // the router hung up on the stalled backend (seen before the reset, so the next test does not count it)
            await().atMost(10, TimeUnit.SECONDS).until(() -> backend.clientDisconnects() == 1);
            backend.reset();
            out.write(rawPost(RouterFixture.chat("m-s")));
            out.flush();
            String second = readUntil(in, "\"chat.completion\"");
            assertThat(second).startsWith("HTTP/1.1 200").contains("x-served-by: s1");
        }
    }

    @Test
    void a_client_that_reads_slower_than_the_model_writes_is_not_cut_as_if_the_backend_were_silent() throws Exception {
        // 50,000 chunks at once: the client's connection fills and the relay pauses the backend (back-pressure); the
        // backend's silence is then the router's doing and must not count towards its idle timeout (1000 ms here)
        backend.chunks(50000);
        backend.chunkDelayMs(0);
        try (Socket socket = new Socket()) {
            socket.setReceiveBufferSize(4096);
            socket.connect(new InetSocketAddress("127.0.0.1", f.port));
            socket.setSoTimeout(10_000);
            OutputStream out = socket.getOutputStream();
            InputStream in = socket.getInputStream();
            out.write(rawPost(RouterFixture.streamChat("m-s")));
            out.flush();
            assertThat(readUntil(in, "data:")).startsWith("HTTP/1.1 200");
            // the client reads nothing for 3 s (this pause is the behaviour under test, not a wait for it): the
            // router relays what fits in the connection's buffers, then holds the backend for the rest of it
            await().pollDelay(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(5)).until(() -> true);
            String rest = RawHttp.readToEnd(in);
            assertThat(rest).doesNotContain("stream_idle_timeout").contains("data: [DONE]");
        }
    }

    private byte[] rawPost(String body) {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        return ("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                + "Content-Length: " + b.length + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8);
    }

    /** Reads the socket until {@code end} has arrived (or fails when the connection closes first). */
    private static String readUntil(InputStream in, String end) throws IOException {
        StringBuilder text = new StringBuilder();
        while (text.indexOf(end) < 0) {
            int c = in.read();
            if (c < 0) {
                throw new EOFException("connection closed after: " + text);
            }
            text.append((char) c);
        }
        return text.toString();
    }

    @Test
    void a_stream_that_stalls_after_it_started_ends_with_an_sse_error_event_and_no_done() throws Exception {
        backend.chunks(10);
        backend.chunkDelayMs(10);
        backend.stallAfter(3);
        List<Event> events = stream(RouterFixture.streamChat("m-s"), -1);
        assertThat(events).hasSize(4);
        JsonNode last = JSON.readTree(events.get(3).line().substring(5));
        assertThat(last.path("error").path("code").asText()).isEqualTo("stream_idle_timeout");
        assertThat(events).noneMatch(e -> e.line().contains("[DONE]"));
        // cut one idle timeout (1000 ms) after the last chunk, not an idle timeout after that (about 2000 ms)
        assertThat(events.get(3).atMs() - events.get(2).atMs()).isBetween(700L, 1600L);
    }

    @Test
    void a_stream_cut_before_the_relay_takes_it_over_ends_at_once_not_at_the_idle_timeout(@TempDir Path dir) throws Exception {
        // a model route with a step after the backend call (a user's own, here a 300 ms delay): the backend closes
        // the stream while the answer is still in the route, and that close must not be lost
        Files.copy(Path.of("routes/openai-api.camel.yaml"), dir.resolve("openai-api.camel.yaml"));
        try (RouterFixture slow = new RouterFixture()) {
            FakeOpenAiBackend b = slow.backend("slow1", "m-slow");
            Files.writeString(dir.resolve("m-slow.camel.yaml"), """
                    - route:
                        id: model-m-slow
                        from:
                          uri: model:m-slow
                          steps:
                            - loadBalance:
                                customLoadBalancer:
                                  ref: "#class:io.github.camelllmrouter.backend.BackendBalancer"
                                steps:
                                  - to: "llm:%s"
                            - delay:
                                constant: "300"
                    """.formatted(b.url()));
            slow.start(Map.of("router.routes-dir", dir.toString(), "router.demo", "false",
                    "camel.beans.relay.idle-timeout-ms", "3000"));
            b.cutAfter(1);
            long t0 = System.nanoTime();
            HttpResponse<String> r = slow.post("/v1/chat/completions", RouterFixture.streamChat("m-slow"));
            long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
            List<String> data = r.body().lines().filter(l -> l.startsWith("data:")).toList();
            assertThat(data).hasSize(2); // the chunk sent before the cut, then the error event
            assertThat(JSON.readTree(data.get(1).substring(5)).path("error").path("code").asText()).isEqualTo("upstream_cut");
            assertThat(tookMs).as("the idle timeout is 3000 ms").isLessThan(2000);
        }
    }

    static final String WHOLE = "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,"
            + "\"model\":\"m-raw\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n";
    static final String BROKEN = "data: {\"id\":\"c1\",\"obj";

    /**
     * A backend on a raw socket that answers one event stream: each piece an HTTP chunk of its own, {@code gapMs}
     * apart (the backend's own pace), then the chunked answer's end ({@code end}) or a connection closed mid-answer.
     */
    private static ServerSocket rawStream(boolean end, long gapMs, String... pieces) throws IOException {
        ServerSocket raw = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        Thread server = new Thread(() -> {
            try (Socket s = raw.accept()) {
                s.getInputStream().read(new byte[65536]);
                OutputStream out = s.getOutputStream();
                out.write("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
                        .getBytes(StandardCharsets.UTF_8));
                for (String piece : pieces) {
                    out.write(chunk(piece).getBytes(StandardCharsets.UTF_8));
                    out.flush();
                    TimeUnit.MILLISECONDS.sleep(gapMs);
                }
                if (end) {
                    out.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                    s.getInputStream().read(); // the router's pooled connection: closed by the router or the test
                }
            } catch (IOException | InterruptedException e) {
                // the test fails on what the router relayed
            }
        });
        server.setDaemon(true);
        server.start();
        return raw;
    }

    private static RouterFixture routerTo(ServerSocket raw) throws Exception {
        return routerTo(raw, Map.of());
    }

    private static RouterFixture routerTo(ServerSocket raw, Map<String, String> config) throws Exception {
        return new RouterFixture().start(config, "--static-backends", "http://127.0.0.1:" + raw.getLocalPort(),
                "--static-models", "m-raw");
    }

    @Test
    void a_backend_that_breaks_off_inside_an_event_gets_the_error_as_the_next_event_without_the_broken_half()
            throws Exception {
        try (ServerSocket raw = rawStream(false, 0, WHOLE, BROKEN); RouterFixture other = routerTo(raw)) {
            HttpResponse<String> r = other.post("/v1/chat/completions", RouterFixture.streamChat("m-raw"));
            assertThat(r.statusCode()).isEqualTo(200);
            String[] events = r.body().split("\n\n");
            assertThat(events).hasSize(2);
            assertThat(events[0] + "\n\n").isEqualTo(WHOLE);
            assertThat(JSON.readTree(events[1].substring(5)).path("error").path("code").asText()).isEqualTo("upstream_cut");
        }
    }

    @Test
    void the_openai_sdk_reads_a_stream_broken_inside_an_event_as_the_routers_error() throws Exception {
        try (ServerSocket raw = rawStream(false, 0, WHOLE, BROKEN); RouterFixture other = routerTo(raw)) {
            OpenAIClient client = OpenAIOkHttpClient.builder().baseUrl(other.uri("/v1").toString()).apiKey("none")
                    .maxRetries(0).build();
            List<String> text = new ArrayList<>();
            try (StreamResponse<ChatCompletionChunk> stream = client.chat().completions().createStreaming(
                    ChatCompletionCreateParams.builder().model("m-raw").addUserMessage("hi").build())) {
                assertThatThrownBy(() -> stream.stream().forEach(c -> text.add(c.choices().get(0).delta().content().orElse(""))))
                        .isInstanceOf(SseException.class)
                        .hasMessageContaining("broke the stream");
            }
            assertThat(text).containsExactly("Hi");
            client.close();
        }
    }

    @Test
    void an_event_that_comes_in_pieces_over_longer_than_the_idle_timeout_is_not_cut_as_silence() throws Exception {
        try (ServerSocket raw = rawStream(true, 250, "data: {\"a\"", ":", "1", "}", "\n\n", "data: [DONE]\n\n");
             RouterFixture other = routerTo(raw, Map.of("camel.beans.relay.idle-timeout-ms", "600"))) {
            HttpResponse<String> r = other.post("/v1/chat/completions", RouterFixture.streamChat("m-raw"));
            assertThat(r.statusCode()).isEqualTo(200);
            assertThat(r.body()).isEqualTo("data: {\"a\":1}\n\ndata: [DONE]\n\n");
        }
    }

    @Test
    void an_event_that_comes_in_two_chunks_goes_to_the_client_whole_and_a_last_event_without_a_blank_line_as_sent()
            throws Exception {
        try (ServerSocket raw = rawStream(true, 200, "data: {\"a\":1}\r\n\r\ndata: {\"b\"", ":2}\r\n\r\n", "data: [DONE]");
             RouterFixture other = routerTo(raw);
             Socket client = new Socket("127.0.0.1", other.port)) {
            client.getOutputStream().write(RawHttp.post("/v1/chat/completions", RouterFixture.streamChat("m-raw"))
                    .getBytes(StandardCharsets.UTF_8));
            String answer = RawHttp.readToEnd(client.getInputStream());
            assertThat(answer).startsWith("HTTP/1.1 200");
            // the HTTP chunks the router wrote, in order: each ends on an event's end, except the backend's last
            List<String> chunks = new ArrayList<>();
            String rest = answer.substring(answer.indexOf("\r\n\r\n") + 4);
            for (int size; (size = Integer.parseInt(rest.substring(0, rest.indexOf("\r\n")), 16)) > 0; ) {
                int start = rest.indexOf("\r\n") + 2;
                chunks.add(rest.substring(start, start + size));
                rest = rest.substring(start + size + 2);
            }
            assertThat(chunks).containsExactly("data: {\"a\":1}\r\n\r\n", "data: {\"b\":2}\r\n\r\n", "data: [DONE]");
        }
    }

    private static String chunk(String data) {
        return Integer.toHexString(data.getBytes(StandardCharsets.UTF_8).length) + "\r\n" + data + "\r\n";
    }

    @Test
    void a_stream_cut_by_the_backend_ends_with_an_sse_error_event() throws Exception {
        backend.chunks(10);
        backend.chunkDelayMs(10);
        backend.cutAfter(2);
        List<Event> events = stream(RouterFixture.streamChat("m-s"), -1);
        assertThat(events).hasSize(3);
        assertThat(JSON.readTree(events.get(2).line().substring(5)).path("error").path("code").asText())
                .isEqualTo("upstream_cut");
    }
}
