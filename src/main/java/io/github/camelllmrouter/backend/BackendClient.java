package io.github.camelllmrouter.backend;

import java.net.ConnectException;
import java.net.URI;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.IntPredicate;
import java.util.regex.Pattern;

import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;

import io.netty.channel.ConnectTimeoutException;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.ssl.NotSslRecordException;
import io.netty.handler.ssl.SslHandshakeTimeoutException;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpClient;
import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.http.HttpClientRequest;
import io.vertx.core.http.HttpClientResponse;
import io.vertx.core.http.HttpClosedException;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.http.PoolOptions;
import io.vertx.core.http.RequestOptions;
import io.vertx.core.http.StreamResetException;
import io.vertx.core.json.Json;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Calls model servers with Vert.x's non-blocking HTTP client. A call completes when the backend's headers
 * arrive: with the whole body for plain answers, or with the paused live response for event streams, so
 * nothing buffers a stream and no thread waits on an open one.
 */
public final class BackendClient implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(BackendClient.class);

    /** Hop-by-hop headers (RFC 9110 7.6.1) and those the client recomputes: never forwarded either way. */
    private static final Set<String> HOP_BY_HOP = Set.of("connection", "keep-alive", "proxy-connection",
            "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade", "host",
            "content-length", "accept-encoding", "expect", "http2-settings");

    /** Netty's native transport names the system call that failed: "finishConnect(..) failed with error(-111): ". */
    private static final Pattern NATIVE_CALL = Pattern.compile("^\\w+\\(\\.\\.\\) failed(?: with error\\(-?\\d+\\))?: ");

    private final Vertx vertx;
    private final HttpClient http;
    private final HttpClient fresh;
    private final Set<HttpConnection> unused = ConcurrentHashMap.newKeySet();
    private final LoopContexts loops;
    private final long firstByteTimeoutMs;
    private final long totalTimeoutMs;
    private final IntPredicate retryableStatus;
    private final boolean http2;

    /**
     * With HTTP/2, the most requests one backend connection carries at once (fewer if the backend says so, or if
     * fewer are allowed in flight). Each stream has its own flow-control window, and the connection's window is as
     * large as all of them together, so a stream held back for a slow client never holds back the other streams on
     * its connection.
     */
    private static final int STREAMS_PER_CONNECTION = 100;
    private static final int STREAM_WINDOW = 65_535;
    /** Vert.x's pool multiplies its HTTP/1.1 and HTTP/2 sizes in an int. */
    private static final int MAX_IN_FLIGHT = 200_000;

    public BackendClient(BackendClientOptions options) {
        HttpClientOptions http = new HttpClientOptions()
                .setConnectTimeout((int) options.connectTimeoutMs())
                // an https:// backend that takes the connection but not the handshake is a failed connect too
                .setSslHandshakeTimeout(options.connectTimeoutMs()).setSslHandshakeTimeoutUnit(TimeUnit.MILLISECONDS)
                .setKeepAlive(true)
                .setKeepAliveTimeout(options.idleConnectionTimeoutSeconds())
                .setTcpNoDelay(true)
                .setDecompressionSupported(false)
                .setMaxInitialLineLength(16 * 1024)
                .setMaxHeaderSize(64 * 1024);
        BackendTrust.apply(http, options.tlsCaFile(), options.tlsVerify()); // before the loops: it may refuse the file
        this.vertx = Vertx.vertx(new VertxOptions().setEventLoopPoolSize(options.eventLoops())
                .setPreferNativeTransport(options.nativeTransport()));
        int inFlight = Math.max(1, Math.min(MAX_IN_FLIGHT, options.maxConnectionsPerBackend()));
        PoolOptions pool = new PoolOptions().setHttp1MaxSize(inFlight).setMaxWaitQueueSize(-1);
        this.http2 = options.http2();
        if (http2) {
            // about the same number of requests in flight, over as few connections as carry them (a cold burst still
            // opens a connection per waiting request up to that number: a connection being opened takes no stream)
            int connections = (inFlight + STREAMS_PER_CONNECTION - 1) / STREAMS_PER_CONNECTION;
            http2(http, (inFlight + connections - 1) / connections, options.idleConnectionTimeoutSeconds());
            pool.setHttp2MaxSize(connections);
        }
        this.http = vertx.httpClientBuilder().with(http).with(pool).withConnectHandler(this::connected).build();
        // a request that met a stale pooled connection is sent again on a connection of its own (HTTP/1.1)
        this.fresh = vertx.httpClientBuilder().with(new HttpClientOptions(http).setKeepAlive(false)).with(pool)
                .withConnectHandler(BackendClient::quiet).build();
        this.firstByteTimeoutMs = options.firstByteTimeoutMs();
        this.totalTimeoutMs = options.totalTimeoutMs();
        this.retryableStatus = StatusCodes.parse(options.retryableStatusCodes());
        this.loops = new LoopContexts(vertx);
    }

    /**
     * HTTP/2 to the backends: prior knowledge (h2c) on http:// URLs, negotiated by ALPN on https:// (HTTP/1.1 when
     * the backend does not offer h2). Many requests and streams then share one connection, as Envoy's
     * {@code http2_protocol_options} does upstream; a client that goes away resets its own stream only.
     */
    private static void http2(HttpClientOptions http, int streamsPerConnection, int idleSeconds) {
        http.setProtocolVersion(HttpVersion.HTTP_2)
                .setHttp2ClearTextUpgrade(false)
                .setUseAlpn(true)
                .setHttp2MultiplexingLimit(streamsPerConnection)
                .setHttp2ConnectionWindowSize(streamsPerConnection * STREAM_WINDOW)
                .setHttp2KeepAliveTimeout(idleSeconds);
    }

    /** A new pooled connection: its first request is not a reuse. */
    private void connected(HttpConnection connection) {
        unused.add(connection);
        connection.closeHandler(v -> unused.remove(connection));
        quiet(connection);
    }

    /**
     * The failure of a connection that a dying backend resets or closes reaches each of its requests and streams,
     * which fail over, answer or cut for it (and the access log records it). Vert.x would also log it as an
     * unhandled error, an ERROR line for each connection; here it is a debug line.
     */
    private static void quiet(HttpConnection connection) {
        connection.exceptionHandler(failure -> LOG.debug("backend connection to {} failed: {}",
                connection.remoteAddress(), describe(failure)));
    }

    public Vertx vertx() {
        return vertx;
    }

    /** The client's event loops: the front door serves its connections on them too (FrontDoorComponent). */
    public EventLoopGroup eventLoops() {
        return vertx.nettyEventLoopGroup();
    }

    /** Whether the event loops are Netty's native (epoll) ones: the front door's server channel must match them. */
    public boolean nativeTransport() {
        return vertx.isNativeTransportEnabled();
    }

    public boolean isRetryable(int status) {
        return retryableStatus.test(status);
    }

    /**
     * Sends one request. The future fails with a {@link BackendException} for every retryable failure; any other
     * answer, 4xx included, completes it and goes back to the client as the backend sent it.
     */
    public CompletableFuture<BackendResponse> call(URI base, String backend, String path, HttpHeaders clientHeaders,
                                                   byte[] body, long budgetMs) {
        return call(base, backend, path, clientHeaders, body, budgetMs, null);
    }

    /**
     * @param clientGone completes when the client's connection closes: a call still waiting for its answer is
     *                   then abandoned and its connection closed, so the backend stops working on it
     */
    public CompletableFuture<BackendResponse> call(URI base, String backend, String path, HttpHeaders clientHeaders,
                                                   byte[] body, long budgetMs, CompletableFuture<Void> clientGone) {
        return call(base, backend, HttpMethod.POST, path, clientHeaders, body, "application/json", null, budgetMs, clientGone);
    }

    /**
     * @param method      POST, or GET for the few endpoints that are read with a body (/v1/audio/voices)
     * @param path        the client's path
     * @param contentType the body's: JSON, or the client's multipart/form-data with its boundary
     * @param own         the endpoint's own credential (its apiKey option), or null
     */
    public CompletableFuture<BackendResponse> call(URI base, String backend, HttpMethod method, String path,
                                                   HttpHeaders clientHeaders, byte[] body, String contentType,
                                                   Credential own, long budgetMs, CompletableFuture<Void> clientGone) {
        long firstByteTimeoutMs = Math.max(1, Math.min(this.firstByteTimeoutMs, budgetMs));
        CompletableFuture<BackendResponse> result = new CompletableFuture<>();
        RequestOptions ro = new RequestOptions()
                .setMethod(method)
                .setHost(base.getHost())
                .setPort(base.getPort() > 0 ? base.getPort() : ("https".equals(base.getScheme()) ? 443 : 80))
                .setSsl("https".equals(base.getScheme()))
                .setURI(joinPath(base.getRawPath(), path))
                // waiting for a pooled connection counts against the first byte too
                .setConnectTimeout(firstByteTimeoutMs);
        if (clientHeaders != null) {
            Set<String> named = connectionOptions(clientHeaders.get("connection"));
            for (var h : clientHeaders) {
                String name = h.getKey().toLowerCase(Locale.ROOT);
                if (!HOP_BY_HOP.contains(name) && !named.contains(name) && (own == null || !Credential.carriesKey(name))) {
                    ro.addHeader(h.getKey(), h.getValue());
                }
            }
        }
        if (own != null) {
            ro.putHeader(own.header(), own.headerValue());
        }
        ro.putHeader("content-type", contentType);
        send(http, ro, backend, body, firstByteTimeoutMs, clientGone, true, result);
        return result;
    }

    /**
     * How soon after sending a failure on a reused connection means the connection was stale (closed by the
     * backend while idle), not that the backend failed while working on the request: later than this, the request
     * is not sent again (it may have been processed).
     */
    private static final long STALE_WITHIN_MS = 500;

    /**
     * One try. A pooled keep-alive connection may have been closed by the backend while it was idle (a short
     * keep-alive timeout, a restart, a load balancer in between) just as the request went out on it: when the
     * request fails on a reused connection before any byte of an answer, and at once, the backend did not process
     * it, and it is sent once more on a new connection. Only that second failure counts. Over HTTP/2 the backend
     * says which requests it did not process (a GOAWAY below their stream, or REFUSED_STREAM): only those are sent
     * again, on a live connection of the pool.
     */
    private void send(HttpClient client, RequestOptions ro, String backend, byte[] body, long firstByteTimeoutMs,
                      CompletableFuture<Void> clientGone, boolean mayResend, CompletableFuture<BackendResponse> result) {
        loops.run(() -> {
            try {
                sendHere(client, ro, backend, body, firstByteTimeoutMs, clientGone, mayResend, result);
            } catch (RuntimeException e) {
                // (a closed client, a bad TLS setup) the request is answered with the failure, never left waiting:
                // a Vert.x dispatch would only log it
                result.completeExceptionally(transportFailure(backend, e, false));
            }
        });
    }

    private void sendHere(HttpClient client, RequestOptions ro, String backend, byte[] body, long firstByteTimeoutMs,
                          CompletableFuture<Void> clientGone, boolean mayResend, CompletableFuture<BackendResponse> result) {
        long started = System.nanoTime();
        client.request(ro).onComplete(ar -> {
            if (ar.failed()) {
                result.completeExceptionally(transportFailure(backend, ar.cause(), false));
                return;
            }
            HttpClientRequest req = ar.result();
            boolean reused = !unused.remove(req.connection());
            if (clientGone != null) {
                clientGone.thenRun(() -> {
                    if (!result.isDone()) {
                        result.completeExceptionally(new BackendException(backend, BackendException.CLIENT_CLOSED, 0, null,
                                null, null, "the client went away before " + backend + " answered"));
                        req.reset();
                    }
                });
            }
            long timer = vertx.setTimer(firstByteTimeoutMs, id -> {
                if (!result.isDone()) {
                    result.completeExceptionally(new BackendException(backend, "timeout", 0, null, null, null,
                            "no response from " + backend + " within " + firstByteTimeoutMs + " ms"));
                    req.reset(); // closes the connection (HTTP/2: resets the stream): the backend stops working on it
                }
            });
            req.send(Buffer.buffer(body)).onComplete(rr -> {
                vertx.cancelTimer(timer);
                long tookMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
                if (rr.succeeded()) {
                    onResponse(backend, req, rr.result(), result);
                } else if (mayResend && !result.isDone()
                           && (http2 ? notProcessed(rr.cause(), req) : reused && tookMs < STALE_WITHIN_MS)) {
                    long left = Math.max(1, firstByteTimeoutMs - tookMs);
                    // HTTP/2: the pool has let go of the connection the backend sent GOAWAY on, and picks or opens a
                    // live one (HTTP/2 has no connection of one's own: a client without keep-alive still pools)
                    send(http2 ? http : fresh, new RequestOptions(ro).setConnectTimeout(left), backend, body, left,
                            clientGone, false, result);
                } else {
                    result.completeExceptionally(transportFailure(backend, rr.cause(), true));
                }
            });
        });
    }

    /** HTTP/2: the backend said it did not process the request (RFC 9113 8.7), so it is safe to send again. */
    private static boolean notProcessed(Throwable failure, HttpClientRequest req) {
        if (failure instanceof StreamResetException reset) {
            return reset.getCode() == REFUSED_STREAM;
        }
        return failure instanceof HttpClosedException closed && closed.goAway() != null
                && closed.goAway().getLastStreamId() < req.streamId();
    }

    private static final long REFUSED_STREAM = 7;

    private void onResponse(String backend, HttpClientRequest req, HttpClientResponse resp,
                            CompletableFuture<BackendResponse> result) {
        if (result.isDone()) { // the first-byte timer won the race
            req.reset();
            return;
        }
        int status = resp.statusCode();
        String contentType = resp.getHeader("content-type");
        boolean eventStream = status < 300 && contentType != null
                && contentType.toLowerCase(Locale.ROOT).startsWith("text/event-stream");
        if (eventStream) {
            resp.pause();
            StreamFailure failure = new StreamFailure(vertx.getOrCreateContext());
            resp.exceptionHandler(failure);
            result.complete(new BackendResponse(backend, status, resp.headers(), null, resp, failure, this));
            return;
        }
        long timer = vertx.setTimer(totalTimeoutMs, id -> {
            if (!result.isDone()) {
                result.completeExceptionally(new BackendException(backend, "timeout", 0, null, null, null,
                        backend + " did not finish its answer within " + totalTimeoutMs + " ms"));
                req.reset();
            }
        });
        resp.body().onComplete(br -> {
            vertx.cancelTimer(timer);
            if (result.isDone()) {
                return;
            }
            if (br.failed()) {
                result.completeExceptionally(transportFailure(backend, br.cause(), true));
                return;
            }
            byte[] bytes = br.result().getBytes();
            if (retryableStatus.test(status)) {
                result.completeExceptionally(new BackendException(backend, "status_" + status, status, bytes,
                        contentType, retryAfter(resp.getHeader("retry-after")),
                        backend + " answered " + status));
            } else {
                result.complete(new BackendResponse(backend, status, resp.headers(), bytes, null, null, this));
            }
        });
    }

    private static BackendException transportFailure(String backend, Throwable cause, boolean connected) {
        String reason = cause instanceof ConnectException || !connected ? "connect_error" : "connection_closed";
        if (cause instanceof ConnectTimeoutException || causedBy(cause, SslHandshakeTimeoutException.class)) {
            reason = "connect_timeout";
        }
        return new BackendException(backend, reason, 0, null, null, null, backend + ": " + describe(cause));
    }

    /**
     * A transport failure in the words of the system ("Connection refused: /127.0.0.1:8000"), on epoll as on NIO;
     * a failed TLS handshake says why (an untrusted certificate, a name it is not for), not only that it failed.
     */
    static String describe(Throwable cause) {
        SSLException tls = null;
        Throwable root = cause;
        for (Throwable t = cause; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof SSLException e) {
                tls = e;
            }
            root = t;
        }
        if (tls != null) {
            if (root instanceof NotSslRecordException) { // its message is the bytes that came, in hex
                return "TLS handshake failed: the backend did not answer in TLS (a plain http:// server?)";
            }
            String what = tls instanceof SSLHandshakeException ? "TLS handshake failed: " : "TLS error: ";
            if (root instanceof CertificateExpiredException) {
                return what + "the backend's certificate has expired (" + root.getMessage() + ")";
            }
            if (root instanceof CertificateNotYetValidException) {
                return what + "the backend's certificate is not valid yet (" + root.getMessage() + ")";
            }
            return what + (root.getMessage() != null ? root.getMessage() : tls.getMessage());
        }
        String message = cause.getMessage();
        return message == null ? cause.getClass().getSimpleName() : NATIVE_CALL.matcher(message).replaceFirst("");
    }

    private static boolean causedBy(Throwable failure, Class<? extends Throwable> type) {
        for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (type.isInstance(t)) {
                return true;
            }
        }
        return false;
    }

    /** Retry-After as seconds: delta-seconds or an HTTP date. */
    static Long retryAfter(String value) {
        if (value == null || value.isBlank()) {
            return null;
        }
        try {
            return Math.max(0, Long.parseLong(value.trim()));
        } catch (NumberFormatException e) {
            try {
                ZonedDateTime at = ZonedDateTime.parse(value.trim(), DateTimeFormatter.RFC_1123_DATE_TIME);
                return Math.max(0, TimeUnit.MILLISECONDS.toSeconds(at.toInstant().toEpochMilli() - System.currentTimeMillis()));
            } catch (RuntimeException ignored) {
                return null;
            }
        }
    }

    /**
     * One active health check: {@code health} is GET /health, {@code models} GET /v1/models (both cheap), and
     * {@code request} a real one-token chat completion for the first model the backend lists, as the vLLM
     * router probes (it costs backend time). Completes with null when healthy, or with what was wrong.
     */
    public CompletableFuture<String> probe(URI base, String mode, String modelType, long timeoutMs) {
        CompletableFuture<String> result = new CompletableFuture<>();
        String path = "health".equals(mode) ? "/health" : "/v1/models";
        simple(base, HttpMethod.GET, path, null, timeoutMs).onComplete(ar -> {
            if (ar.failed()) {
                result.complete(describe(ar.cause()));
            } else if (ar.result().statusCode() != 200) {
                result.complete("status_" + ar.result().statusCode());
            } else if (!"request".equals(mode)) {
                result.complete(null);
            } else {
                String model = firstModel(ar.result().body());
                if (model == null) {
                    result.complete("no model in /v1/models");
                    return;
                }
                // the smallest real request of the backend's model type
                String[] ping = ProbeRequests.of(modelType, Json.encode(model));
                if (ping == null) {
                    result.complete(null); // no small request of this type: the model list answering is the probe
                    return;
                }
                simple(base, HttpMethod.POST, ping[0], ping[1], timeoutMs).onComplete(pr ->
                        result.complete(pr.failed() ? describe(pr.cause())
                                : pr.result().statusCode() == 200 ? null : "status_" + pr.result().statusCode()));
            }
        });
        return result;
    }

    /** GET {@code /metrics} of a backend (the vLLM engine's Prometheus text); completes with null on failure. */
    public CompletableFuture<String> scrape(URI base, long timeoutMs) {
        CompletableFuture<String> result = new CompletableFuture<>();
        simple(base, HttpMethod.GET, "/metrics", null, timeoutMs).onComplete(ar ->
                result.complete(ar.succeeded() && ar.result().statusCode() == 200 ? ar.result().body().toString() : null));
        return result;
    }

    /** The model ids a backend's /v1/models lists; completes with null when it cannot be read. */
    public CompletableFuture<List<String>> listModels(URI base, long timeoutMs) {
        CompletableFuture<List<String>> result = new CompletableFuture<>();
        simple(base, HttpMethod.GET, "/v1/models", null, timeoutMs).onComplete(ar -> {
            if (ar.failed() || ar.result().statusCode() != 200) {
                result.complete(null);
                return;
            }
            try {
                List<String> ids = new ArrayList<>();
                JsonArray data = ar.result().body().toJsonObject().getJsonArray("data");
                for (int i = 0; data != null && i < data.size(); i++) {
                    ids.add(data.getJsonObject(i).getString("id"));
                }
                result.complete(ids);
            } catch (RuntimeException notJson) {
                result.complete(null);
            }
        });
        return result;
    }

    private record Answer(int statusCode, Buffer body) {
    }

    /** The model cards of a backend's own {@code GET /v1/models}, by id, as it wrote them (vLLM's root, parent, ...). */
    public CompletableFuture<Map<String, JsonObject>> modelCards(URI base, long timeoutMs) {
        CompletableFuture<Map<String, JsonObject>> result = new CompletableFuture<>();
        simple(base, HttpMethod.GET, "/v1/models", null, timeoutMs).onComplete(ar -> {
            Map<String, JsonObject> cards = new LinkedHashMap<>();
            try {
                if (ar.succeeded() && ar.result().statusCode() == 200) {
                    JsonArray data = ar.result().body().toJsonObject().getJsonArray("data");
                    for (int i = 0; data != null && i < data.size(); i++) {
                        JsonObject card = data.getJsonObject(i);
                        if (card != null && card.getValue("id") instanceof String id) {
                            cards.put(id, card);
                        }
                    }
                }
            } catch (RuntimeException notAModelList) {
                cards.clear();
            }
            result.complete(cards);
        });
        return result;
    }

    /** A backend's answer to an engine control (/sleep, /wake_up, /is_sleeping). */
    public record ControlAnswer(int status, byte[] body) {
    }

    /**
     * An engine control, sent as the vLLM router sends it: to the engine's own path with the client's query (its
     * {@code id} taken out) and body, carrying the backend's credential or the probes' key (VLLM_API_KEY).
     */
    public CompletableFuture<ControlAnswer> control(URI base, HttpMethod method, String pathAndQuery, String body,
                                                    long timeoutMs) {
        CompletableFuture<ControlAnswer> result = new CompletableFuture<>();
        // on a connection of its own: controls are rare, and sleeping or waking an engine takes seconds
        simple(fresh, base, method, pathAndQuery, body == null || body.isEmpty() ? null : body, timeoutMs).onComplete(ar -> {
            if (ar.succeeded()) {
                result.complete(new ControlAnswer(ar.result().statusCode(), ar.result().body().getBytes()));
            } else {
                result.completeExceptionally(ar.cause());
            }
        });
        return result;
    }

    private volatile String probeApiKey;
    private final Map<String, Credential> credentials = new ConcurrentHashMap<>();

    /**
     * A backend's own credential for what the router sends it by itself (probes, scrapes, model lists, engine
     * controls): the last endpoint started for that URL says. Requests carry their endpoint's own.
     */
    public void credential(String backend, Credential credential) {
        if (credential == null) {
            credentials.remove(backend);
        } else {
            credentials.put(backend, credential);
        }
    }

    /** The API key health probes and engine scrapes present (VLLM_API_KEY by default), as the vLLM router does. */
    public void probeApiKey(String key) {
        this.probeApiKey = key == null || key.isBlank() ? null : key;
    }

    private Future<Answer> simple(URI base, HttpMethod method, String path, String body, long timeoutMs) {
        return simple(http, base, method, path, body, timeoutMs);
    }

    private Future<Answer> simple(HttpClient client, URI base, HttpMethod method, String path, String body,
                                                long timeoutMs) {
        RequestOptions ro = new RequestOptions().setMethod(method).setHost(base.getHost())
                .setPort(base.getPort() > 0 ? base.getPort() : ("https".equals(base.getScheme()) ? 443 : 80))
                .setSsl("https".equals(base.getScheme())).setURI(joinPath(base.getRawPath(), path))
                .setIdleTimeout(timeoutMs).putHeader("content-type", "application/json");
        Credential own = credentials.get(base.toString());
        if (own != null) {
            ro.putHeader(own.header(), own.headerValue());
        } else if (probeApiKey != null) {
            ro.putHeader("authorization", "Bearer " + probeApiKey);
        }
        return client.request(ro)
                .compose(req -> {
                    unused.remove(req.connection()); // a probe's connection is used: the next request on it reuses it
                    // a POST without a body says so (Content-Length: 0, as aiohttp sends it)
                    Future<HttpClientResponse> sent = body != null ? req.send(body)
                            : method == HttpMethod.POST ? req.putHeader("content-length", "0").send(Buffer.buffer()) : req.send();
                    // the body is asked for in the response's own callback: one step later, on another thread, a
                    // short answer can be over before anyone reads it, and then its future never completes
                    return sent.compose(resp -> resp.body().map(b -> new Answer(resp.statusCode(), b)));
                });
    }

    private static String firstModel(Buffer models) {
        try {
            JsonArray data = models.toJsonObject().getJsonArray("data");
            return data == null || data.isEmpty() ? null : data.getJsonObject(0).getString("id");
        } catch (RuntimeException notJson) {
            return null;
        }
    }

    /** The headers a Connection header names: hop-by-hop too (RFC 9110 7.6.1), never forwarded. */
    static Set<String> connectionOptions(String connection) {
        if (connection == null) {
            return Set.of();
        }
        Set<String> names = new HashSet<>();
        for (String token : connection.split(",")) {
            names.add(token.trim().toLowerCase(Locale.ROOT));
        }
        return names;
    }

    public static boolean isHopByHop(String header) {
        return HOP_BY_HOP.contains(header.toLowerCase(Locale.ROOT));
    }

    private static String joinPath(String basePath, String path) {
        if (basePath == null || basePath.isEmpty() || "/".equals(basePath)) {
            return path;
        }
        String b = basePath.endsWith("/") ? basePath.substring(0, basePath.length() - 1) : basePath;
        // a base URL that already ends in /v1 (as OpenAI clients are configured) is not given a second /v1
        if (b.endsWith("/v1") && path.startsWith("/v1/")) {
            return b + path.substring(3);
        }
        return b + path;
    }

    @Override
    public void close() {
        http.close();
        fresh.close();
        vertx.close();
    }
}
