package io.github.camelllmrouter;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.camelllmrouter.demo.FakeOpenAiBackend;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** --engine-stats-interval scrapes each backend's vLLM metrics; --log-stats prints a line per backend. */
class EngineStatsTest {

    static final String STATS = "io.github.camelllmrouter.stats";
    final RouterFixture f = new RouterFixture();
    LogCapture capture;

    @AfterEach
    void stop() {
        if (capture != null) {
            capture.close();
        }
        f.close();
    }

    @Test
    void engine_stats_are_scraped_shown_in_health_and_logged() throws Exception {
        capture = LogCapture.of(STATS);
        FakeOpenAiBackend e1 = f.backend("e1", "m-e");
        f.start(Map.of("camel.component.llm.first-byte-timeout-ms", "20000"),
                "--static-backends", e1.url(), "--static-models", "m-e", "--engine-stats-interval", "1",
                "--log-stats", "--log-stats-interval", "1");
        e1.hang();
        for (int i = 0; i < 2; i++) {
            f.http.sendAsync(HttpRequest.newBuilder(f.uri("/v1/chat/completions")).timeout(Duration.ofSeconds(30))
                    .header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(RouterFixture.chat("m-e"))).build(), HttpResponse.BodyHandlers.ofString());
        }
        await().atMost(10, TimeUnit.SECONDS).until(() -> {
            JsonNode b = new ObjectMapper().readTree(f.get("/health").body()).path("backends").get(0);
            return b != null && b.path("engine_stats").path("num_requests_running").asDouble() == 2.0;
        });
        await().atMost(10, TimeUnit.SECONDS).until(() -> capture.lines().stream()
                .anyMatch(l -> l.startsWith("backend=" + e1.url()) && l.contains("in_flight=2") && l.contains("avg_ttft=") && l.contains("engine_running=2")));
        e1.stop();
    }
}
