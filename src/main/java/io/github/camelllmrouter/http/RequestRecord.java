package io.github.camelllmrouter.http;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.camelllmrouter.backend.RouterMetrics;
import io.netty.handler.codec.http.HttpRequest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The end of one model request: its metrics, and one access-log line (request id, model asked and served,
 * backend, attempts, status, time to first token, duration, tokens). Never the prompt or the completion, never
 * a header value.
 */
public final class RequestRecord {

    private static final Logger ACCESS = LoggerFactory.getLogger("io.github.camelllmrouter.access");
    private static final ObjectMapper JSON = new ObjectMapper();
    // chat and completions say prompt/completion_tokens; the Responses and Messages APIs input/output_tokens
    private static final byte[][] PROMPT_TOKENS = {ascii("\"prompt_tokens\""), ascii("\"input_tokens\"")};
    private static final byte[][] COMPLETION_TOKENS = {ascii("\"completion_tokens\""), ascii("\"output_tokens\"")};
    private static volatile boolean json;
    private static final byte[] USAGE = "\"usage\"".getBytes(StandardCharsets.ISO_8859_1);

    private static int indexOf(byte[] bytes, byte[] what) {
        for (int i = 0; i <= bytes.length - what.length; i++) {
            if (startsWith(bytes, i, what)) {
                return i;
            }
        }
        return -1;
    }

    private RequestRecord() {
    }

    /** --log-format json: access-log lines are JSON objects. */
    public static void jsonFormat(boolean on) {
        json = on;
    }

    /** Token counts from an OpenAI {@code usage} object in a body or an SSE chunk; -1 when absent. */
    public static long[] usage(byte[] bytes) {
        if (bytes == null) {
            return null;
        }
        int at = indexOf(bytes, USAGE);
        if (at < 0) {
            return null;
        }
        return new long[] {count(bytes, at, PROMPT_TOKENS), count(bytes, at, COMPLETION_TOKENS)};
    }

    /** The first {@code "key": N} from {@code from} for any of the keys (JSON whitespace allowed), or -1. */
    private static long count(byte[] bytes, int from, byte[][] keys) {
        for (int i = from; i < bytes.length; i++) {
            for (byte[] key : keys) {
                if (startsWith(bytes, i, key)) {
                    long n = numberAfterColon(bytes, i + key.length);
                    if (n >= 0) {
                        return n;
                    }
                }
            }
        }
        return -1;
    }

    private static long numberAfterColon(byte[] bytes, int i) {
        i = skipSpace(bytes, i);
        if (i >= bytes.length || bytes[i] != ':') {
            return -1;
        }
        i = skipSpace(bytes, i + 1);
        long n = -1;
        for (; i < bytes.length && bytes[i] >= '0' && bytes[i] <= '9' && n < Long.MAX_VALUE / 10 - 9; i++) {
            n = (n < 0 ? 0 : n * 10) + (bytes[i] - '0');
        }
        return n;
    }

    private static int skipSpace(byte[] bytes, int i) {
        while (i < bytes.length && (bytes[i] == ' ' || bytes[i] == '\t' || bytes[i] == '\n' || bytes[i] == '\r')) {
            i++;
        }
        return i;
    }

    private static boolean startsWith(byte[] bytes, int at, byte[] what) {
        if (at + what.length > bytes.length) {
            return false;
        }
        for (int j = 0; j < what.length; j++) {
            if (bytes[at + j] != what[j]) {
                return false;
            }
        }
        return true;
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }

    /**
     * @param ttftNanos from the request's arrival to its first byte of answer (first chunk for a stream)
     * @param usage     prompt and completion tokens, or null when unknown
     */
    public static void done(LlmCall call, RouterMetrics metrics, int status, String outcome, long ttftNanos, long[] usage) {
        done(call, metrics, status, outcome, ttftNanos, 0, usage);
    }

    /**
     * The request's tokens for its key's and model's tokens-per-minute limits: the answer's usage; without a
     * prompt count, a quarter of the prompt's bytes (the usual estimate; a form's file is no prompt); without a
     * completion count, none. A request no backend answered costs nothing.
     */
    static long tokens(LlmCall call, long[] usage) {
        if (call.servedBackend() == null) {
            return 0;
        }
        long prompt = usage != null && usage[0] >= 0 ? usage[0] : call.request().promptBytes() / 4;
        long completion = usage != null && usage[1] >= 0 ? usage[1] : 0;
        return prompt + completion;
    }

    /**
     * A request the router answered itself before any route saw it (a request that is not valid HTTP, a refused
     * method, a timeout, shutdown): one access-log line and one count, like any other request.
     */
    public static void routerAnswer(RouterMetrics metrics, HttpRequest request, String path, int status, String code,
                                    long durationNanos) {
        boolean decoded = request != null && !request.decoderResult().isFailure();
        String id = decoded ? request.headers().get("x-request-id") : null;
        routerAnswer(metrics, id != null && !id.isBlank() && id.length() <= 200 ? id : RequestIds.next(),
                decoded ? request.method().name() : "-", path, null, status, code, durationNanos);
    }

    /** The same, for a request the routes saw but answered before any model was known. */
    public static void routerAnswer(RouterMetrics metrics, String requestId, String method, String path, String key,
                                    int status, String code, long durationNanos) {
        metrics.routerAnswer(status, code);
        if (!ACCESS.isInfoEnabled()) {
            return;
        }
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("request_id", requestId);
        if (key != null) {
            line.put("key", key);
        }
        line.put("method", method == null ? "-" : method);
        line.put("path", path == null ? "-" : path.length() > 200 ? path.substring(0, 200) + "..." : path);
        line.put("status", status);
        line.put("outcome", code);
        line.put("duration_ms", TimeUnit.NANOSECONDS.toMicros(durationNanos) / 1000.0);
        log(line);
    }

    private static void log(Map<String, Object> line) {
        if (json) {
            try {
                ACCESS.info(JSON.writeValueAsString(line));
            } catch (JsonProcessingException e) {
                ACCESS.info(line.toString());
            }
        } else {
            StringBuilder b = new StringBuilder();
            line.forEach((k, v) -> b.append(b.length() == 0 ? "" : " ").append(k).append('=').append(v));
            ACCESS.info(b.toString());
        }
    }

    /** @param decodingNanos for a stream, from its first chunk to its end */
    public static void done(LlmCall call, RouterMetrics metrics, int status, String outcome, long ttftNanos,
                            long decodingNanos, long[] usage) {
        if (call.request() == null || !call.finishOnce()) {
            return; // not a model request (a 400 before parsing, /health, ...), or already recorded
        }
        long durationNanos = System.nanoTime() - call.startNanos();
        String model = call.servedModel() != null ? call.servedModel() : call.request().model();
        metrics.request(model, call.servedBackend(), status, outcome, durationNanos, ttftNanos, decodingNanos, usage);
        long tokens = tokens(call, usage);
        if (call.grant() != null) {
            call.grant().end(tokens);
        }
        if (call.apiKey() != null) {
            metrics.keyRequest(call.apiKey().name(), call.request().requestedModel(), status, tokens);
        }
        metrics.inFlight(call.request().requestedModel(), -1);
        RouterTracing.endRequest(call, status, outcome, usage);
        if (!ACCESS.isInfoEnabled()) {
            return;
        }
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("request_id", call.requestId());
        if (call.apiKey() != null) {
            line.put("key", call.apiKey().name()); // the key's name, never the key
        }
        line.put("path", call.path());
        line.put("model_requested", call.request().requestedModel());
        line.put("model_served", call.servedModel());
        line.put("backend", call.servedBackend());
        line.put("attempts", call.attempts());
        if (call.fallbackFrom() != null) {
            line.put("fallback_from", call.fallbackFrom());
        }
        line.put("stream", call.request().stream());
        line.put("status", status);
        line.put("outcome", outcome);
        line.put("ttft_ms", TimeUnit.NANOSECONDS.toMicros(ttftNanos) / 1000.0);
        line.put("duration_ms", TimeUnit.NANOSECONDS.toMicros(durationNanos) / 1000.0);
        line.put("overhead_ms", Math.round(call.answerOverheadNanos() / 1000.0) / 1000.0); // as x-llm-router-overhead-ms
        if (usage != null) {
            line.put("prompt_tokens", usage[0]);
            line.put("completion_tokens", usage[1]);
        }
        List<String> trail = call.trail();
        if (!trail.isEmpty()) {
            line.put("trail", trail); // the failed attempts and fallbacks on the way to this answer
        }
        log(line);
    }
}
