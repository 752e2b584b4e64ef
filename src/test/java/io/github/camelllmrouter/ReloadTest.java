package io.github.camelllmrouter;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import io.github.camelllmrouter.demo.FakeOpenAiBackend;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Route files in routes/ are watched: a saved model file changes routing in place, a broken save changes nothing. */
class ReloadTest {

    final RouterFixture f = new RouterFixture();

    @AfterEach
    void stop() {
        f.close();
    }

    static String modelRoute(String model, String backendUrl) {
        return RouterFixture.modelRouteYaml(model, backendUrl, null);
    }

    String servedBy(String model) {
        try {
            var r = f.post("/v1/chat/completions", RouterFixture.chat(model));
            return r.statusCode() == 200 ? r.headers().firstValue("x-served-by").orElse("?") : "status " + r.statusCode();
        } catch (Exception e) {
            return e.toString();
        }
    }

    @Test
    void editing_adding_breaking_and_deleting_a_model_file_changes_routing_live(@TempDir Path routes) throws Exception {
        Files.copy(Path.of("routes/openai-api.camel.yaml"), routes.resolve("openai-api.camel.yaml"));
        FakeOpenAiBackend r1 = f.backend("r1", "m-live");
        FakeOpenAiBackend r2 = f.backend("r2", "m-live");
        f.start(Map.of("router.routes-dir", routes.toString(), "router.routes-reload", "true", "router.demo", "false"));
        assertThat(servedBy("m-live")).isEqualTo("status 404");

        Path file = routes.resolve("m-live.camel.yaml");
        Files.writeString(file, modelRoute("m-live", r1.url()));
        await().atMost(Duration.ofMillis(2500)).pollInterval(Duration.ofMillis(50)).until(() -> servedBy("m-live").equals("r1"));

        Files.writeString(file, modelRoute("m-live", r2.url()));
        await().atMost(Duration.ofMillis(2500)).pollInterval(Duration.ofMillis(50)).until(() -> servedBy("m-live").equals("r2"));

        // a save that does not parse changes nothing
        Files.writeString(file, "- route:\n    id: \"model-m-live\"\n    from: [ this is : not yaml");
        long until = System.nanoTime() + Duration.ofSeconds(2).toNanos();
        while (System.nanoTime() < until) {
            assertThat(servedBy("m-live")).isEqualTo("r2");
        }
        // the failed reload is counted and shown
        assertThat(f.get("/metrics").body()).containsPattern("llm_router_route_reloads_total\\{result=\"failed\"\\} [1-9]");
        assertThat(f.get("/health").body()).contains("\"reload\"").contains("m-live.camel.yaml");
        // and the next valid save applies
        Files.writeString(file, modelRoute("m-live", r1.url()));
        await().atMost(Duration.ofMillis(2500)).pollInterval(Duration.ofMillis(50)).until(() -> servedBy("m-live").equals("r1"));

        Files.delete(file);
        await().atMost(Duration.ofMillis(2500)).pollInterval(Duration.ofMillis(50)).until(() -> servedBy("m-live").equals("status 404"));
    }
}
