package io.github.camelllmrouter;

import java.util.List;
import java.util.concurrent.TimeUnit;

import io.github.camelllmrouter.demo.FakeOpenAiBackend;
import io.github.camelllmrouter.http.RouterTracing;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.testing.exporter.InMemorySpanExporter;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.data.SpanData;
import io.opentelemetry.sdk.trace.export.SimpleSpanProcessor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** A span per request and per backend attempt, with the OpenTelemetry GenAI attribute names. */
class TracingTest {

    final RouterFixture f = new RouterFixture();
    final InMemorySpanExporter spans = InMemorySpanExporter.create();
    FakeOpenAiBackend a1;
    FakeOpenAiBackend a2;
    FakeOpenAiBackend b1;

    @BeforeEach
    void start() throws Exception {
        RouterTracing.install(OpenTelemetrySdk.builder().setTracerProvider(
                SdkTracerProvider.builder().addSpanProcessor(SimpleSpanProcessor.create(spans)).build()).build());
        FakeOpenAiBackend[] b = f.startWithFallback();
        a1 = b[0];
        a2 = b[1];
        b1 = b[2];
    }

    @AfterEach
    void stop() {
        RouterTracing.install(null);
        f.close();
    }

    static String attr(SpanData span, String key) {
        Object v = span.getAttributes().get(AttributeKey.stringKey(key));
        return v != null ? v.toString() : String.valueOf(span.getAttributes().get(AttributeKey.longKey(key)));
    }

    List<SpanData> trace(String requestId) {
        await().atMost(5, TimeUnit.SECONDS).until(() -> spans.getFinishedSpanItems().stream()
                .anyMatch(s -> s.getKind() == SpanKind.SERVER && requestId.equals(attr(s, "llm_router.request_id"))));
        SpanData root = spans.getFinishedSpanItems().stream()
                .filter(s -> s.getKind() == SpanKind.SERVER && requestId.equals(attr(s, "llm_router.request_id"))).findFirst().orElseThrow();
        return spans.getFinishedSpanItems().stream().filter(s -> s.getTraceId().equals(root.getTraceId())).toList();
    }

    @Test
    void a_request_span_with_one_child_per_attempt_including_failover_and_fallback() throws Exception {
        a1.failWithStatus(503);
        f.post("/v1/chat/completions", RouterFixture.chat("m-a"), "x-request-id", "t-1");
        List<SpanData> failover = trace("t-1");
        SpanData root = failover.stream().filter(s -> s.getKind() == SpanKind.SERVER).findFirst().orElseThrow();
        assertThat(root.getName()).isEqualTo("chat m-a");
        assertThat(attr(root, "gen_ai.operation.name")).isEqualTo("chat");
        assertThat(attr(root, "gen_ai.request.model")).isEqualTo("m-a");
        assertThat(attr(root, "gen_ai.response.model")).isEqualTo("m-a");
        assertThat(attr(root, "gen_ai.usage.input_tokens")).isEqualTo("5");
        assertThat(attr(root, "gen_ai.usage.output_tokens")).isEqualTo("3");
        assertThat(attr(root, "llm_router.attempts")).isEqualTo("2");
        List<SpanData> attempts = failover.stream().filter(s -> s.getKind() == SpanKind.CLIENT).toList();
        assertThat(attempts).hasSize(2).allMatch(s -> s.getParentSpanId().equals(root.getSpanId()));
        assertThat(attempts).anyMatch(s -> "status_503".equals(attr(s, "error.type")) && s.getStatus().getStatusCode() == StatusCode.ERROR
                && attr(s, "server.port").equals(Integer.toString(a1.port())));
        assertThat(attempts).anyMatch(s -> "200".equals(attr(s, "http.response.status_code"))
                && attr(s, "server.port").equals(Integer.toString(a2.port())));

        a2.failWithStatus(500);
        f.post("/v1/chat/completions", RouterFixture.chat("m-a"), "x-request-id", "t-2");
        List<SpanData> fallback = trace("t-2");
        SpanData root2 = fallback.stream().filter(s -> s.getKind() == SpanKind.SERVER).findFirst().orElseThrow();
        assertThat(attr(root2, "gen_ai.response.model")).isEqualTo("m-b");
        assertThat(attr(root2, "llm_router.fallback_from")).isEqualTo("m-a");
        assertThat(fallback.stream().filter(s -> s.getKind() == SpanKind.CLIENT))
                .anyMatch(s -> "m-b".equals(attr(s, "gen_ai.request.model")) && s.getName().equals("chat m-b"));
    }
}
