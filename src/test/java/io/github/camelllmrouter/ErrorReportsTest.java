package io.github.camelllmrouter;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPInputStream;

import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** --sentry-dsn: the router's own unexpected errors reach Sentry (a fake Sentry that records the envelopes). */
class ErrorReportsTest {

    final RouterFixture f = new RouterFixture();
    final Vertx vertx = Vertx.vertx();
    final List<String> envelopes = new CopyOnWriteArrayList<>();
    @TempDir
    Path routes;

    @AfterEach
    void stop() {
        f.close();
        vertx.close();
    }

    static String text(byte[] body, boolean gzip) {
        try {
            return new String(gzip ? new GZIPInputStream(new ByteArrayInputStream(body)).readAllBytes() : body,
                    StandardCharsets.UTF_8);
        } catch (IOException e) {
            return e.toString();
        }
    }

    @Test
    void an_unexpected_error_is_answered_500_and_reported_to_sentry_without_the_prompt() throws Exception {
        HttpServer sentry = vertx.createHttpServer().requestHandler(req -> req.body().onSuccess(b -> {
            if (req.path().endsWith("/envelope/")) {
                envelopes.add(text(b.getBytes(), "gzip".equals(req.getHeader("content-encoding"))));
            }
            req.response().setStatusCode(200).end("{}");
        })).listen(0, "127.0.0.1").toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS);
        Files.copy(Path.of("routes/openai-api.camel.yaml"), routes.resolve("openai-api.camel.yaml"));
        // a hand-written model route with a step that fails as no step of the router's should
        Files.writeString(routes.resolve("broken.camel.yaml"), "- route:\n    id: model-broken\n    from:\n"
                + "      uri: \"model:broken\"\n      steps:\n        - throwException:\n"
                + "            exceptionType: \"java.lang.IllegalStateException\"\n            message: \"a step that breaks\"\n");
        f.start(new HashMap<>(Map.of("router.routes-dir", routes.toString(), "router.demo", "false")),
                "--sentry-dsn", "http://publickey@127.0.0.1:" + sentry.actualPort() + "/42", "--sentry-traces-sample-rate", "0");
        HttpResponse<String> r = f.post("/v1/chat/completions", "{\"model\":\"broken\",\"messages\":[{\"role\":\"user\","
                + "\"content\":\"secret prompt text\"}]}", "x-request-id", "req-sentry-1");
        assertThat(r.statusCode()).isEqualTo(500);
        assertThat(r.body()).contains("internal_error");
        await().atMost(10, TimeUnit.SECONDS).until(() -> envelopes.stream().anyMatch(e -> e.contains("IllegalStateException")));
        String event = envelopes.stream().filter(e -> e.contains("IllegalStateException")).findFirst().orElseThrow();
        assertThat(event).contains("req-sentry-1").contains("a step that breaks").doesNotContain("secret prompt text");
    }
}
