package io.github.camelllmrouter;

import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import io.github.camelllmrouter.demo.FakeOpenAiBackend;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/** A client that gives up before the backend answers makes the router abandon the backend call at once. */
class ClientGoneTest {

    final RouterFixture f = new RouterFixture();

    @AfterEach
    void stop() {
        f.close();
    }

    @Test
    void the_backend_call_is_closed_when_the_client_leaves_before_the_headers() throws Exception {
        FakeOpenAiBackend slow = f.backend("slow", "m-s");
        FakeOpenAiBackend other = f.backend("other", "m-s");
        // the router itself would wait a minute for the first byte
        f.start(Map.of("camel.component.llm.first-byte-timeout-ms", "60000"),
                "--static-backends", slow.url() + "," + other.url(), "--static-models", "m-s,m-s");
        slow.hang();
        HttpClient impatient = HttpClient.newHttpClient();
        assertThatThrownBy(() -> impatient.send(HttpRequest.newBuilder(f.uri("/v1/chat/completions"))
                .timeout(Duration.ofMillis(500)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(RouterFixture.chat("m-s"))).build(), HttpResponse.BodyHandlers.ofString()))
                .isInstanceOf(HttpTimeoutException.class);
        await().atMost(10, TimeUnit.SECONDS).until(() -> slow.clientDisconnects() == 1);
        assertThat(other.count("/v1/chat/completions")).as("no failover for a client that is gone").isZero();
    }
}
