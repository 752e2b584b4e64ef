package io.github.camelllmrouter.http;

import java.net.URI;
import java.util.concurrent.TimeUnit;

import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Span;
import io.opentelemetry.api.trace.SpanBuilder;
import io.opentelemetry.api.trace.SpanKind;
import io.opentelemetry.api.trace.StatusCode;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.context.Context;
import io.opentelemetry.exporter.otlp.trace.OtlpGrpcSpanExporter;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.export.BatchSpanProcessor;

/**
 * OpenTelemetry tracing, off unless --otel-endpoint is given: one SERVER span per model request and one CLIENT
 * span per backend attempt under it, named and attributed after the OpenTelemetry GenAI conventions
 * ({@code gen_ai.operation.name}, {@code gen_ai.request.model}, {@code gen_ai.response.model},
 * {@code gen_ai.usage.input_tokens}, ...). No prompt or completion text is recorded.
 */
public final class RouterTracing {

    static final AttributeKey<String> OPERATION = AttributeKey.stringKey("gen_ai.operation.name");
    static final AttributeKey<String> PROVIDER = AttributeKey.stringKey("gen_ai.provider.name");
    static final AttributeKey<String> REQUEST_MODEL = AttributeKey.stringKey("gen_ai.request.model");
    static final AttributeKey<String> RESPONSE_MODEL = AttributeKey.stringKey("gen_ai.response.model");
    static final AttributeKey<Long> INPUT_TOKENS = AttributeKey.longKey("gen_ai.usage.input_tokens");
    static final AttributeKey<Long> OUTPUT_TOKENS = AttributeKey.longKey("gen_ai.usage.output_tokens");
    static final AttributeKey<Long> STATUS = AttributeKey.longKey("http.response.status_code");
    static final AttributeKey<String> ERROR_TYPE = AttributeKey.stringKey("error.type");
    static final AttributeKey<String> SERVER = AttributeKey.stringKey("server.address");
    static final AttributeKey<Long> PORT = AttributeKey.longKey("server.port");
    static final AttributeKey<String> REQUEST_ID = AttributeKey.stringKey("llm_router.request_id");
    static final AttributeKey<Long> ATTEMPTS = AttributeKey.longKey("llm_router.attempts");
    static final AttributeKey<String> FALLBACK_FROM = AttributeKey.stringKey("llm_router.fallback_from");
    static final AttributeKey<String> OUTCOME = AttributeKey.stringKey("llm_router.outcome");
    static final AttributeKey<String> KEY = AttributeKey.stringKey("llm_router.key");

    private static volatile Tracer tracer;
    private static volatile OpenTelemetrySdk sdk;

    private RouterTracing() {
    }

    /** Installs tracing (tests install an SDK with an in-memory exporter). */
    public static void install(OpenTelemetry openTelemetry) {
        tracer = openTelemetry == null ? null : openTelemetry.getTracer("camel-llm-router");
    }

    /** --otel-endpoint, --otel-service-name, --otel-secure: export spans over OTLP/gRPC. */
    public static void configure(String endpoint, String serviceName, boolean secure) {
        String url = endpoint.contains("://") ? endpoint : (secure ? "https://" : "http://") + endpoint;
        SdkTracerProvider provider = SdkTracerProvider.builder()
                .setResource(Resource.getDefault().merge(Resource.create(
                        Attributes.of(AttributeKey.stringKey("service.name"), serviceName))))
                .addSpanProcessor(BatchSpanProcessor.builder(OtlpGrpcSpanExporter.builder().setEndpoint(url).build()).build())
                .build();
        sdk = OpenTelemetrySdk.builder().setTracerProvider(provider).build();
        install(sdk);
    }

    public static void shutdown() {
        OpenTelemetrySdk s = sdk;
        if (s != null) {
            s.getSdkTracerProvider().shutdown().join(5, TimeUnit.SECONDS);
        }
    }

    static String operation(String path) {
        return path.endsWith("/embeddings") ? "embeddings" : path.endsWith("/chat/completions") ? "chat" : "text_completion";
    }

    /** The request span, started when the model is known; null when tracing is off. */
    static Span startRequest(LlmCall call) {
        Tracer t = tracer;
        if (t == null) {
            return null;
        }
        String op = operation(call.path());
        SpanBuilder span = t.spanBuilder(op + " " + call.request().requestedModel())
                .setSpanKind(SpanKind.SERVER).setNoParent()
                .setAttribute(OPERATION, op)
                .setAttribute(REQUEST_MODEL, call.request().requestedModel())
                .setAttribute(REQUEST_ID, call.requestId());
        if (call.keyName() != null) {
            span.setAttribute(KEY, call.keyName()); // the key's name, never the key
        }
        return span.startSpan();
    }

    /** One backend attempt, as a child of the request span. */
    public static Span startAttempt(LlmCall call, URI backend) {
        Tracer t = tracer;
        Span parent = call.span();
        if (t == null || parent == null) {
            return null;
        }
        String op = operation(call.path());
        return t.spanBuilder(op + " " + call.request().model()).setSpanKind(SpanKind.CLIENT)
                .setParent(Context.root().with(parent))
                .setAttribute(OPERATION, op)
                .setAttribute(PROVIDER, "openai")
                .setAttribute(REQUEST_MODEL, call.request().model())
                .setAttribute(SERVER, backend.getHost())
                .setAttribute(PORT, (long) backend.getPort())
                .startSpan();
    }

    public static void endAttempt(Span span, int status, String errorType) {
        if (span == null) {
            return;
        }
        if (status > 0) {
            span.setAttribute(STATUS, (long) status);
        }
        if (errorType != null) {
            span.setAttribute(ERROR_TYPE, errorType);
            span.setStatus(StatusCode.ERROR);
        }
        span.end();
    }

    static void endRequest(LlmCall call, int status, String outcome, long[] usage) {
        Span span = call.span();
        if (span == null) {
            return;
        }
        span.setAttribute(STATUS, (long) status);
        span.setAttribute(OUTCOME, outcome);
        span.setAttribute(ATTEMPTS, (long) call.attempts());
        if (call.servedModel() != null) {
            span.setAttribute(RESPONSE_MODEL, call.servedModel());
        }
        if (call.fallbackFrom() != null) {
            span.setAttribute(FALLBACK_FROM, call.fallbackFrom());
        }
        if (usage != null && usage[0] >= 0) {
            span.setAttribute(INPUT_TOKENS, usage[0]);
        }
        if (usage != null && usage[1] >= 0) {
            span.setAttribute(OUTPUT_TOKENS, usage[1]);
        }
        if (status >= 500 || !"success".equals(outcome) && !"client_error".equals(outcome)) {
            span.setStatus(StatusCode.ERROR);
            span.setAttribute(ERROR_TYPE, outcome);
        }
        span.end();
    }
}
