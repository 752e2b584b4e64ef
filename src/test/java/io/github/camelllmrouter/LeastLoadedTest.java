package io.github.camelllmrouter;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
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

/** --routing-logic least-loaded: power of two choices on requests in flight. */
class LeastLoadedTest {

    final RouterFixture f = new RouterFixture();

    @AfterEach
    void stop() {
        f.close();
    }

    @Test
    void requests_go_to_the_backend_with_fewer_requests_in_flight() throws Exception {
        FakeOpenAiBackend busy = f.backend("busy", "m-a");
        FakeOpenAiBackend idle = f.backend("idle", "m-a");
        f.start(Map.of("camel.component.llm.first-byte-timeout-ms", "4000"),
                "--static-backends", busy.url() + "," + idle.url(), "--static-models", "m-a,m-a",
                "--routing-logic", "least-loaded");
        busy.hang();
        idle.hang();
        // four slow requests: both backends end up with requests in flight
        List<CompletableFuture<HttpResponse<String>>> slow = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            slow.add(f.http.sendAsync(HttpRequest.newBuilder(f.uri("/v1/chat/completions")).timeout(Duration.ofSeconds(30))
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(RouterFixture.chat("m-a"))).build(), HttpResponse.BodyHandlers.ofString()));
            int sent = i + 1;
            await().atMost(10, TimeUnit.SECONDS).until(() -> busy.activeRequests() + idle.activeRequests() == sent);
        }
        assertThat(busy.activeRequests()).as("balanced while both were equal").isEqualTo(2);
        idle.healthy();
        // idle answers at once from now on, so it always has fewer in flight than busy
        for (int i = 0; i < 12; i++) {
            HttpResponse<String> r = f.post("/v1/chat/completions", RouterFixture.chat("m-a"));
            assertThat(r.headers().firstValue("x-served-by")).contains("idle");
        }
        busy.healthy();
        busy.stop(); // ends the hung requests
        slow.forEach(CompletableFuture::join);
    }
}
