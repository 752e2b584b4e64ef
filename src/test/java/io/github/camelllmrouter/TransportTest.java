package io.github.camelllmrouter;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;

import io.github.camelllmrouter.backend.LlmComponent;
import io.github.camelllmrouter.demo.FakeOpenAiBackend;
import io.netty.channel.epoll.Epoll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The event loops the front door and the backend calls share: Linux's epoll where it loads, Java NIO otherwise. */
class TransportTest {

    final RouterFixture f = new RouterFixture();

    @AfterEach
    void stop() {
        f.close();
    }

    @Test
    void on_linux_the_loops_are_epoll_and_serve_answers_and_streams() throws Exception {
        assumeTrue(Epoll.isAvailable(), "Netty's native epoll transport loads here");
        FakeOpenAiBackend b = f.backend("b1", "m");
        f.start(Map.of(), "--static-backends", b.url(), "--static-models", "m");
        assertThat(f.router.context().getComponent("llm", LlmComponent.class).client().nativeTransport()).isTrue();
        assertServes(b);
    }

    @Test
    void with_native_transport_off_the_loops_are_java_nio_and_serve_the_same() throws Exception {
        FakeOpenAiBackend b = f.backend("b1", "m");
        f.start(Map.of("camel.component.llm.native-transport", "false"), "--static-backends", b.url(), "--static-models", "m");
        assertThat(f.router.context().getComponent("llm", LlmComponent.class).client().nativeTransport()).isFalse();
        assertServes(b);
    }

    /**
     * A backend that resets its connections (a dying server's kernel does) is a failover for each request it had,
     * recorded in the access log, and not also an ERROR line of Vert.x's for each connection.
     */
    @Test
    void connections_a_backend_resets_fail_over_without_an_error_line_each() throws Exception {
        try (ServerSocket resetting = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
             LogCapture vertx = LogCapture.of("io.vertx.core.net.impl.ConnectionBase")) {
            Thread acceptor = new Thread(() -> {
                while (!resetting.isClosed()) {
                    try (Socket s = resetting.accept()) {
                        s.getInputStream().read(new byte[8192]); // the request's head
                        s.setSoLinger(true, 0); // close with a reset
                    } catch (IOException e) {
                        return;
                    }
                }
            });
            acceptor.setDaemon(true);
            acceptor.start();
            FakeOpenAiBackend good = f.backend("good", "m");
            f.start(Map.of(), "--static-backends", "http://127.0.0.1:" + resetting.getLocalPort() + "," + good.url(),
                    "--static-models", "m,m");
            for (int i = 0; i < 4; i++) {
                HttpResponse<String> r = f.post("/v1/chat/completions", RouterFixture.chat("m"));
                assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
                assertThat(r.headers().firstValue("x-served-by")).contains("good");
            }
            assertThat(good.count()).isEqualTo(4);
            assertThat(vertx.lines()).isEmpty();
        }
    }

    @Test
    void a_backend_that_refuses_connections_is_a_502_in_the_systems_words_on_either_transport() throws Exception {
        int closed = RouterFixture.freePort();
        f.start(Map.of(), "--static-backends", "http://127.0.0.1:" + closed, "--static-models", "m");
        assertRefusedInPlainWords(closed);
        RouterFixture nio = new RouterFixture();
        try {
            nio.start(Map.of("camel.component.llm.native-transport", "false"),
                    "--static-backends", "http://127.0.0.1:" + closed, "--static-models", "m");
            HttpResponse<String> r = nio.post("/v1/chat/completions", RouterFixture.chat("m"));
            assertThat(r.statusCode()).isEqualTo(502);
            assertThat(r.body()).contains("\"code\":\"connect_error\"", "Connection refused: /127.0.0.1:" + closed);
        } finally {
            nio.close();
        }
    }

    private void assertRefusedInPlainWords(int port) throws Exception {
        HttpResponse<String> r = f.post("/v1/chat/completions", RouterFixture.chat("m"));
        assertThat(r.statusCode()).isEqualTo(502);
        // epoll's own wording would be "finishConnect(..) failed with error(-111): Connection refused: ..."
        assertThat(r.body()).contains("\"code\":\"connect_error\"", "No backend could answer: http://127.0.0.1:" + port
                + ": Connection refused: /127.0.0.1:" + port).doesNotContain("failed with error");
    }

    private void assertServes(FakeOpenAiBackend b) throws Exception {
        HttpResponse<String> r = f.post("/v1/chat/completions", RouterFixture.chat("m"));
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("x-served-by")).contains("b1");
        assertThat(b.received("/v1/chat/completions")).extracting(FakeOpenAiBackend.Received::model).containsExactly("m");
        HttpResponse<InputStream> s = f.http.send(HttpRequest.newBuilder(f.uri("/v1/chat/completions"))
                .timeout(Duration.ofSeconds(30)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(RouterFixture.streamChat("m"))).build(),
                HttpResponse.BodyHandlers.ofInputStream());
        assertThat(s.statusCode()).isEqualTo(200);
        String events = new String(s.body().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(events).contains("data: {").endsWith("data: [DONE]\n\n");
    }
}
