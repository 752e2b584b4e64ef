package io.github.camelllmrouter.http;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.camelllmrouter.backend.BackendClient;
import io.github.camelllmrouter.backend.BackendException;
import io.github.camelllmrouter.backend.BackendResponse;
import io.github.camelllmrouter.openai.OpenAiException;
import io.github.resilience4j.circuitbreaker.CallNotPermittedException;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.GenericFutureListener;
import io.vertx.core.Context;
import io.vertx.core.MultiMap;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpClientResponse;
import org.apache.camel.AsyncCallback;
import org.apache.camel.AsyncProcessor;
import org.apache.camel.Exchange;
import org.apache.camel.component.direct.DirectConsumerNotAvailableException;
import org.apache.camel.support.AsyncProcessorSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The last step of every request: writes the answer to the client's connection. A plain answer is written
 * whole; an event stream is relayed chunk by chunk as the backend produces it, with back-pressure, an idle
 * timeout between chunks, and the backend call ended when the client goes away (its connection closed; over
 * HTTP/2 its stream reset). The exchange stays in flight until the stream ends, but no thread waits on it. Errors (the exception a {@code doCatch} caught)
 * are answered in OpenAI's shape.
 */
public class Relay extends AsyncProcessorSupport implements AsyncProcessor {

    /** Exchange property set once this relay has answered, so netty-http writes nothing itself. */
    public static final String ANSWERED = "llmRouterAnswered";

    private static final Logger LOG = LoggerFactory.getLogger(Relay.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private long idleTimeoutMs = 30000;
    private long totalTimeoutMs = 600000;

    public void setIdleTimeoutMs(long idleTimeoutMs) {
        this.idleTimeoutMs = idleTimeoutMs;
    }

    public void setTotalTimeoutMs(long totalTimeoutMs) {
        this.totalTimeoutMs = totalTimeoutMs;
    }

    /**
     * The {@code doCatch} step: answers with the exception the route caught, in OpenAI's shape. (Not the
     * {@code process} step: a circuit breaker whose fallback succeeded also leaves a caught exception behind.)
     */
    public void failed(Exchange exchange) {
        exchange.setProperty(ANSWERED, true);
        LlmCall call = LlmCall.of(exchange);
        Throwable error = exchange.getProperty(Exchange.EXCEPTION_CAUGHT, Throwable.class);
        if (call != null) {
            writeError(call, error != null ? error : new IllegalStateException("failed without an exception"));
        }
    }

    @Override
    public boolean process(Exchange exchange, AsyncCallback callback) {
        exchange.setProperty(ANSWERED, true);
        LlmCall call = LlmCall.of(exchange);
        Throwable error = exchange.getException();
        exchange.setException(null);
        if (call == null) {
            LOG.warn("relay called without a request context");
            callback.done(true);
            return true;
        }
        if (error != null) {
            writeError(call, error);
            callback.done(true);
            return true;
        }
        Object body = exchange.getMessage().getBody();
        if (body instanceof BackendResponse && call.servedModel() != null && call.routerMetrics() != null) {
            call.routerMetrics().overhead(call.servedModel(), call.answerOverheadNanos());
        }
        if (body instanceof BackendResponse response && response.streaming()) {
            new Pump(call, response, callback).start();
            return false;
        }
        if (body instanceof BackendResponse response) {
            // recorded before the answer is written: a client's next request then sees this one's tokens spent
            if (call.metrics() != null) {
                RequestRecord.done(call, call.metrics(), response.status(), response.status() < 400 ? "success" : "client_error",
                        System.nanoTime() - call.startNanos(), RequestRecord.usage(response.body()));
            }
            writeFull(call, HttpResponseStatus.valueOf(response.status()), response.headers(), response.body(),
                    call.routerHeaders());
        } else {
            // answers the router makes itself (/v1/models, /health, /metrics)
            String contentType = exchange.getMessage().getHeader(Exchange.CONTENT_TYPE, "application/json", String.class);
            int status = exchange.getMessage().getHeader(Exchange.HTTP_RESPONSE_CODE, 200, Integer.class);
            byte[] bytes = exchange.getMessage().getBody(byte[].class);
            MultiMap headers = MultiMap.caseInsensitiveMultiMap().add("content-type", contentType);
            writeFull(call, HttpResponseStatus.valueOf(status), headers, bytes == null ? new byte[0] : bytes, Map.of());
            if (call.routerMetrics() != null && call.finishOnce()) {
                RequestRecord.routerAnswer(call.routerMetrics(), call.requestId(), call.method(), call.path(), call.keyName(), status,
                        status < 400 ? "success" : "error", System.nanoTime() - call.startNanos());
            }
        }
        callback.done(true);
        return true;
    }

    /** Answers a request that reached the end of the route without the relay, in OpenAI shape. */
    static void answerUnexpected(Exchange exchange) {
        LlmCall call = LlmCall.of(exchange);
        if (call != null) {
            Throwable error = exchange.getException();
            writeError(call, error != null ? error : new IllegalStateException("the route gave no answer"));
        }
    }

    static void writeError(LlmCall call, Throwable error) {
        BackendException gone = BackendException.find(error);
        if (gone != null && BackendException.CLIENT_CLOSED.equals(gone.reason())) {
            // the client hung up: nobody to answer, and nobody's failure (recorded as nginx does, 499)
            call.answered();
            if (call.metrics() != null) {
                RequestRecord.done(call, call.metrics(), 499, BackendException.CLIENT_CLOSED,
                        System.nanoTime() - call.startNanos(), null);
            }
            return;
        }
        ErrorAnswer answer = ErrorAnswer.of(error, call);
        MultiMap headers = MultiMap.caseInsensitiveMultiMap().add("content-type", "application/json");
        if (answer.retryAfterSeconds() != null) {
            headers.add("retry-after", Long.toString(answer.retryAfterSeconds()));
        }
        byte[] body = "/v1/messages".equals(call.path()) ? AnthropicErrors.of(answer.status(), answer.body()) : answer.body();
        if (call.metrics() != null) {
            RequestRecord.done(call, call.metrics(), answer.status(), answer.status() < 500 ? "client_error" : "error",
                    System.nanoTime() - call.startNanos(), null);
        }
        writeFull(call, HttpResponseStatus.valueOf(answer.status()), headers, body, call.routerHeaders());
        if (call.metrics() == null && call.routerMetrics() != null && call.finishOnce()) {
            // answered before any model was known (unknown path or model, bad body, wrong method): no model label
            Throwable cause = LlmSteps.rootCause(error);
            RequestRecord.routerAnswer(call.routerMetrics(), call.requestId(), call.method(), call.path(), call.keyName(), answer.status(),
                    cause instanceof OpenAiException e && e.code() != null ? e.code() : "error", System.nanoTime() - call.startNanos());
        }
    }

    private static void writeFull(LlmCall call, HttpResponseStatus status, MultiMap backendHeaders,
                                  byte[] body, Map<String, String> routerHeaders) {
        // a full answer has no trailers: no second header map made per answer for them
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, Unpooled.wrappedBuffer(body),
                new DefaultHttpHeaders(), EmptyHttpHeaders.INSTANCE);
        copyHeaders(backendHeaders, response.headers());
        routerHeaders.forEach(response.headers()::set);
        response.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
        call.answered();
        Channel channel = call.channel();
        if (!call.keepAlive()) {
            response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            channel.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
        } else {
            channel.writeAndFlush(response);
        }
    }

    private static void copyHeaders(MultiMap from, HttpHeaders to) {
        if (from == null) {
            return;
        }
        for (Map.Entry<String, String> h : from) {
            if (!BackendClient.isHopByHop(h.getKey())) {
                to.add(h.getKey(), h.getValue());
            }
        }
    }

    /** Relays one event stream from a paused backend response to the client connection. */
    private final class Pump {
        final LlmCall call;
        final BackendResponse response;
        final HttpClientResponse upstream;
        final Channel channel;
        final Vertx vertx;
        final AsyncCallback callback;
        final AtomicBoolean finished = new AtomicBoolean();
        volatile long idleTimer = -1;
        volatile long totalTimer = -1;
        volatile long lastDataNanos;
        volatile boolean heldForClient; // paused until the client takes what was written
        /** On the stream's context only, as the cuts are. */
        final WholeEvents whole = new WholeEvents();
        boolean flushQueued; // on the client's event loop only
        long firstChunkNanos;
        long lastChunkNanos;
        long events;
        long[] usage;
        final GenericFutureListener<Future<? super Void>> onClientClose;

        Pump(LlmCall call, BackendResponse response, AsyncCallback callback) {
            this.call = call;
            this.response = response;
            this.upstream = response.stream();
            this.channel = call.channel();
            this.vertx = response.client().vertx();
            this.callback = callback;
            this.onClientClose = f -> {
                if (finish("client_closed")) {
                    LOG.debug("client closed the stream; ending the call to {}", response.backend());
                    upstream.request().reset();
                }
            };
        }

        void start() {
            if (call.servedState() != null) {
                call.servedState().streamStarted();
            }
            HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(response.status()));
            copyHeaders(response.headers(), head.headers());
            call.routerHeaders().forEach(head.headers()::set);
            HttpUtil.setTransferEncodingChunked(head, true);
            if (!call.keepAlive()) {
                head.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            }
            // the head goes out with the first chunk when that is already here (one write, one segment, the
            // client woken once), else on its own straight after: the flush is queued behind the drain of what
            // the backend sent while the answer was being set up
            writeSoon(head);
            lastDataNanos = System.nanoTime();
            onStreamContext(this::armTimers);
            // the client went away: end the backend call (close its connection, or reset its HTTP/2 stream) so the
            // model stops generating (added after the timers are armed or queued: a client already gone finishes
            // the stream, and cancels them or stops them being armed)
            channel.closeFuture().addListener(onClientClose);
            upstream.handler(buffer -> {
                if (finished.get()) {
                    return;
                }
                byte[] bytes = whole.take(buffer.getBytes());
                if (bytes == null) {
                    lastDataNanos = System.nanoTime(); // the backend is not silent: it is in an event
                    return; // an event's start: it goes out with its end
                }
                observe(bytes);
                ChannelFuture write = writeSoon(new DefaultHttpContent(Unpooled.wrappedBuffer(bytes)));
                if (!channel.isWritable()) {
                    // back-pressure: the client reads slower than the model writes; the backend's silence while
                    // it is held is the router's doing, and does not count towards its idle timeout
                    heldForClient = true;
                    upstream.pause();
                    write.addListener(f -> {
                        lastDataNanos = System.nanoTime();
                        heldForClient = false;
                        upstream.resume();
                    });
                }
            });
            upstream.endHandler(v -> {
                if (finish("success")) {
                    byte[] rest = whole.rest();
                    if (rest.length > 0) {
                        channel.write(new DefaultHttpContent(Unpooled.wrappedBuffer(rest)));
                    }
                    ChannelFuture last = channel.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT);
                    if (!call.keepAlive()) {
                        last.addListener(ChannelFutureListener.CLOSE);
                    }
                }
            });
            upstream.resume();
            // after resume: a failure that came while the stream waited follows the data that came before it
            response.streamFailure().handler(t -> cut("upstream_cut", "The backend " + response.backend()
                    + " broke the stream: " + t.getMessage()));
        }

        /**
         * Writes, and flushes once the current batch is handled: the chunks of one read from the backend (and the
         * head with the first of them) go to the client in one write. Off the client's event loop (a front door
         * with event loops of its own), each write is flushed at once.
         */
        private ChannelFuture writeSoon(Object message) {
            if (!channel.eventLoop().inEventLoop()) {
                return channel.writeAndFlush(message);
            }
            ChannelFuture write = channel.write(message);
            if (!flushQueued) {
                flushQueued = true;
                channel.eventLoop().execute(() -> {
                    flushQueued = false;
                    channel.flush();
                });
            }
            return write;
        }

        /** Runs {@code task} where the stream's data comes (its Vert.x context): a timer's cut never races a chunk. */
        private void onStreamContext(Runnable task) {
            Context stream = response.streamFailure().context();
            if (Vertx.currentContext() == stream) {
                task.run();
            } else {
                stream.runOnContext(v -> task.run());
            }
        }

        private void armTimers() {
            if (finished.get()) {
                return;
            }
            totalTimer = vertx.setTimer(totalTimeoutMs, id -> cut("timeout", "The stream took longer than "
                    + totalTimeoutMs + " ms."));
            if (finished.get()) {
                vertx.cancelTimer(totalTimer); // finished meanwhile on another thread, which may have missed it
            }
            armIdleTimer(idleTimeoutMs);
        }

        /**
         * One timer for the stream's silence, not one per chunk: a chunk only notes when it came, and when the
         * timer fires it ends the stream if nothing came for the idle timeout, or waits out what is left of it
         * from the last chunk (as Netty's IdleStateHandler does).
         */
        private void armIdleTimer(long delayMs) {
            idleTimer = vertx.setTimer(delayMs, id -> {
                long quietMs = (System.nanoTime() - lastDataNanos) / 1_000_000;
                if (finished.get()) {
                    return;
                }
                if (heldForClient) {
                    armIdleTimer(idleTimeoutMs); // a client that never reads is ended by the total timeout
                } else if (quietMs >= idleTimeoutMs) {
                    cut("stream_idle_timeout", "The backend " + response.backend() + " sent nothing for "
                            + idleTimeoutMs + " ms.");
                } else {
                    armIdleTimer(idleTimeoutMs - quietMs);
                }
            });
            if (finished.get()) {
                vertx.cancelTimer(idleTimer); // finished meanwhile on another thread, which may have missed it
            }
        }

        /**
         * Ends a stream that broke after it started: an SSE error event, no [DONE], and the end of the chunked
         * answer. The client's connection stays open for its next request (closing it here would race the client
         * taking it from its keep-alive pool: that request would fail with no answer at all).
         */
        private void cut(String code, String message) {
            if (!finish(code)) {
                return;
            }
            LOG.warn("stream cut request={} code={}: {}", call.requestId(), code, message);
            if (call.servedState() != null && !"timeout".equals(code)) {
                // a backend that keeps breaking streams gets ejected; streams that were open when it was ejected
                // (sent before) are that outage, not a longer ejection each
                call.servedState().failure(code, null, call.servedSentNanos());
            }
            upstream.request().reset();
            // the part of an event the backend broke off in was held back (WholeEvents): the error is the next event
            // the client's SSE parser reads (after a blank line if an event too long to hold was let through)
            String event = (whole.insideEvent() ? "\n\n" : "") + "data: "
                    + OpenAiException.json(message, "server_error", null, code) + "\n\n";
            channel.write(new DefaultHttpContent(Unpooled.wrappedBuffer(event.getBytes(StandardCharsets.UTF_8))));
            ChannelFuture last = channel.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT);
            if (!call.keepAlive()) {
                last.addListener(ChannelFutureListener.CLOSE);
            }
        }

        /** Per chunk: time to first token, inter-token gaps, and the usage chunk if the client asked for one. */
        private void observe(byte[] bytes) {
            long now = System.nanoTime();
            if (firstChunkNanos == 0) {
                firstChunkNanos = now;
            } else if (call.metrics() != null) {
                call.metrics().interTokenLatency(call.servedModel(), call.servedBackend(), now - lastChunkNanos);
            }
            lastChunkNanos = now;
            lastDataNanos = now;
            long[] u = RequestRecord.usage(bytes);
            if (u != null) {
                usage = u;
            }
            String text = new String(bytes, StandardCharsets.ISO_8859_1);
            for (int i = text.indexOf("data:"); i >= 0; i = text.indexOf("data:", i + 5)) {
                if (!text.startsWith("data: [DONE]", i)) {
                    events++;
                }
            }
        }

        private boolean finish(String outcome) {
            if (!finished.compareAndSet(false, true)) {
                return false;
            }
            if (call.metrics() != null) {
                // without a usage chunk, completion tokens are counted as content events (one token each in vLLM)
                long[] tokens = usage != null ? usage : new long[] {-1, events};
                RequestRecord.done(call, call.metrics(), response.status(), outcome,
                        (firstChunkNanos == 0 ? System.nanoTime() : firstChunkNanos) - call.startNanos(),
                        firstChunkNanos == 0 ? 0 : lastChunkNanos - firstChunkNanos, tokens);
            }
            if (call.servedState() != null) {
                call.servedState().streamEnded();
            }
            if (idleTimer >= 0) {
                vertx.cancelTimer(idleTimer);
            }
            if (totalTimer >= 0) {
                vertx.cancelTimer(totalTimer);
            }
            channel.closeFuture().removeListener(onClientClose);
            call.answered();
            callback.done(false);
            return true;
        }
    }

    /** The OpenAI error answer for an exception. */
    record ErrorAnswer(int status, byte[] body, Long retryAfterSeconds) {

        static ErrorAnswer of(Throwable thrown, LlmCall call) {
            Throwable error = LlmSteps.rootCause(thrown);
            Long retryAfter = call.retryAfterSeconds();
            if (error instanceof OpenAiException e) {
                // a rate limit's 429 says when to come back
                return new ErrorAnswer(e.status(), e.toJson(), e.status() == 429 ? retryAfter : null);
            }
            if (error instanceof BackendException e) {
                if (e.retryAfterSeconds() != null) {
                    retryAfter = retryAfter == null ? e.retryAfterSeconds() : Math.max(retryAfter, e.retryAfterSeconds());
                }
                return new ErrorAnswer(statusOf(e), bodyOf(e), retryAfter);
            }
            if (error instanceof CallNotPermittedException) {
                return new ErrorAnswer(503, OpenAiException.json("The model is unavailable: its circuit breaker is open"
                        + " and it has no fallback.", "server_error", null, "model_unavailable")
                        .getBytes(StandardCharsets.UTF_8), retryAfter);
            }
            if (error instanceof DirectConsumerNotAvailableException) {
                // the model's route was removed while this request was on its way to it
                LlmCall c = call;
                String model = c.request() != null ? c.request().model() : "?";
                return new ErrorAnswer(404, OpenAiException.modelNotFound(model).toJson(), null);
            }
            LOG.error("unexpected error while routing", error);
            ErrorReports.capture(error, call);
            return new ErrorAnswer(500, OpenAiException.json("The router failed to handle the request.",
                    "server_error", null, "internal_error").getBytes(StandardCharsets.UTF_8), retryAfter);
        }

        private static int statusOf(BackendException e) {
            if (e.status() > 0) {
                return e.status();
            }
            return e.reason().contains("timeout") ? 504 : (e.reason().equals("no_backend_available") ? 503 : 502);
        }

        /** The backend's own error body when it is already OpenAI-shaped; otherwise one made for it. */
        private static byte[] bodyOf(BackendException e) {
            if (e.body() != null && e.body().length > 0) {
                try {
                    JsonNode node = JSON.readTree(e.body());
                    if (node != null && node.path("error").isObject()) {
                        return e.body();
                    }
                } catch (IOException ignored) {
                    // not JSON: wrapped below
                }
            }
            String type = e.status() == 429 ? "rate_limit_error" : "server_error";
            String code = e.status() > 0 ? "upstream_error" : e.reason();
            String message = e.status() > 0
                    ? "The backend answered " + e.status() + (e.body() != null && e.body().length > 0
                            ? ": " + new String(e.body(), 0, Math.min(e.body().length, 300), StandardCharsets.UTF_8) : "")
                    : "No backend could answer: " + e.getMessage();
            return OpenAiException.json(message, type, null, code).getBytes(StandardCharsets.UTF_8);
        }
    }
}
