package io.github.camelllmrouter.demo;

import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.github.camelllmrouter.demo.FakeAnswers.Parsed;
import io.vertx.core.AbstractVerticle;
import io.vertx.core.Context;
import io.vertx.core.DeploymentOptions;
import io.vertx.core.Future;
import io.vertx.core.MultiMap;
import io.vertx.core.Promise;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpConnection;
import io.vertx.core.http.HttpHeaders;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerOptions;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.http.HttpVersion;
import io.vertx.core.net.PfxOptions;

/**
 * A fake OpenAI-compatible model server for the demo mode, the tests and the benchmark: fixed answers, SSE
 * streams paced by timers, scripted faults, and a record of every request it received.
 *
 * <p>Everything runs on Vert.x event loops and nothing ever blocks there, except {@link #start(int)} and
 * {@link #stop()}, which wait for the listener and must be called from an ordinary thread. The behaviour knobs may
 * be turned from any thread at any time; each request reads them once, when it is answered.
 */
public final class FakeOpenAiBackend {

    public enum Fault { NONE, STATUS, HANG, DROP, CUT, STALL }

    /**
     * One request as it arrived; {@code headers} is a copy, {@code model} is null when the body names none, and
     * {@code version} is the HTTP version it came in ("HTTP/1.1", "HTTP/2").
     */
    public record Received(String method, String path, MultiMap headers, String body, String model, String query,
                           String version) {
    }

    private volatile String host = "127.0.0.1";
    private static final int DEFAULT_CHUNKS = 5;
    private static final int DEFAULT_MAX_RECORDS = 10_000;
    private static final long AWAIT_SECONDS = 30;
    private static final AtomicInteger SHARED_PORT_KEYS = new AtomicInteger();

    private static final CharSequence SERVED_BY = HttpHeaders.createOptimized("x-served-by");
    private static final CharSequence APPLICATION_JSON = HttpHeaders.createOptimized("application/json");
    private static final CharSequence EVENT_STREAM = HttpHeaders.createOptimized("text/event-stream");
    private static final CharSequence NO_CACHE = HttpHeaders.createOptimized("no-cache");
    private static final CharSequence PROMETHEUS_TEXT =
            HttpHeaders.createOptimized("text/plain; version=0.0.4; charset=utf-8");
    private static final String HEALTH_OK = "{\"status\":\"ok\"}";
    private static final String HEALTH_FAILING = "{\"status\":\"unavailable\"}";

    private enum Endpoint {
        CHAT, COMPLETIONS, EMBEDDINGS, OTHER, MODELS, HEALTH, METRICS, SLEEP, WAKE_UP, IS_SLEEPING, NOT_FOUND;

        boolean isModel() {
            return this == CHAT || this == COMPLETIONS || this == EMBEDDINGS || this == OTHER;
        }
    }

    /** The other JSON endpoints a vLLM server has that the vLLM router proxies by model. */
    private static final Set<String> OTHER_JSON = Set.of("/v1/responses", "/v1/messages", "/tokenize",
            "/detokenize", "/v1/rerank", "/rerank", "/v1/score", "/score", "/v1/images/generations", "/v1/images/edits",
            "/v1/audio/transcriptions", "/v1/audio/translations", "/v1/audio/speech");
    /** The model field of a multipart/form-data body. */
    private static final Pattern FORM_MODEL = Pattern.compile(
            "name=\"model\"\r\n(?:[^\r\n]+\r\n)*\r\n([^\r]*)\r\n");
    private static final Pattern FORM_STREAM_TRUE = Pattern.compile(
            "name=\"stream\"\r\n(?:[^\r\n]+\r\n)*\r\ntrue\r\n");
    /** What /v1/audio/speech answers: every byte value, so that a relay that changes one is seen. */
    public static final byte[] SPEECH = speech();

    private static byte[] speech() {
        byte[] b = new byte[4096];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) (i * 31 + 7);
        }
        return b;
    }

    /** The fault to apply and how many more requests it applies to ({@code remaining < 0}: no limit). */
    private record FaultPlan(Fault fault, int status, String body, Map<String, String> headers, int afterChunks,
                             int remaining) {
        static final FaultPlan HEALTHY = new FaultPlan(Fault.NONE, 0, null, Map.of(), 0, -1);

        FaultPlan withRemaining(int n) {
            return new FaultPlan(fault, status, body, headers, afterChunks, n);
        }

        boolean failsHealthChecks() {
            return fault == Fault.DROP || fault == Fault.HANG || (fault == Fault.STATUS && status >= 500);
        }
    }

    private final Vertx vertx;
    private final String name;
    private final List<String> servedModels;
    private final String quotedName;
    private final String quotedHello;
    private final String defaultModel;
    private final String modelsJson;

    private volatile int chunks = DEFAULT_CHUNKS;
    private volatile long chunkDelayMs;
    private volatile long headersDelayMs;
    private volatile long modelsDelayMs;
    private volatile boolean stopped;
    private volatile boolean closeReused;
    private volatile long idleTimeoutMs;
    private volatile PfxOptions tls;
    private final Set<HttpConnection> servedConnections = ConcurrentHashMap.newKeySet();
    private final Set<HttpConnection> openConnections = ConcurrentHashMap.newKeySet();
    private final AtomicInteger closedReused = new AtomicInteger();
    private volatile int maxRecords = DEFAULT_MAX_RECORDS;
    private volatile int instances = Math.max(1, Runtime.getRuntime().availableProcessors());
    private final AtomicReference<FaultPlan> faultPlan = new AtomicReference<>(FaultPlan.HEALTHY);

    private final ArrayDeque<Received> records = new ArrayDeque<>(); // guarded by itself
    private final AtomicInteger count = new AtomicInteger();
    private final AtomicInteger active = new AtomicInteger();
    private final AtomicInteger clientDisconnects = new AtomicInteger();
    private final AtomicInteger connections = new AtomicInteger();
    private final AtomicLong ids = new AtomicLong();

    private final int sharedRandomPortKey = -1 - SHARED_PORT_KEYS.getAndIncrement() % 60_000;
    private String deployment; // guarded by this
    private volatile int port = -1;

    private volatile boolean sleeping;

    public FakeOpenAiBackend(Vertx vertx, String name, String... servedModels) {
        this.vertx = vertx;
        this.name = name;
        this.servedModels = List.of(servedModels);
        this.quotedName = FakeAnswers.quote(name);
        this.quotedHello = FakeAnswers.quote("Hello from " + name);
        this.defaultModel = servedModels.length > 0 ? servedModels[0] : null;
        this.modelsJson = FakeAnswers.models(this.servedModels, System.currentTimeMillis() / 1000, quotedName);
    }

    // ---------------------------------------------------------------------------------------------- lifecycle

    /**
     * Listens on 127.0.0.1 ({@code port} 0: any free port) and returns once it accepts connections. The listener
     * is deployed {@link #instances(int)} times on the same port so connections spread over several event loops.
     */
    public synchronized int start(int port) {
        return start(host, port);
    }

    /** Listens on another loopback address (127.0.0.2, ...): several fakes can then share one port, like pods. */
    public synchronized int start(String host, int port) {
        this.host = host;
        requireOffEventLoop("start");
        if (deployment != null) {
            throw new IllegalStateException("fake backend " + name + " is already listening on " + url());
        }
        // Vert.x gives every server asking for port 0 a port of its own, but lets servers asking for the same
        // negative port share one random port: the key must be unique per backend, or two would share a port
        int listenPort = port != 0 ? port : sharedRandomPortKey;
        AtomicInteger bound = new AtomicInteger();
        stopped = false;
        deployment = await(vertx.deployVerticle(() -> new Listener(listenPort, bound),
                new DeploymentOptions().setInstances(instances)));
        this.port = bound.get();
        return this.port;
    }

    /** Closes the listener and every open connection; hung and stalled requests end there. */
    public synchronized void stop() {
        if (deployment == null) {
            return;
        }
        stopped = true; // a request that still reaches a closing connection gets no answer, as from a dead server
        // closed at once, as a server that dies closes them (undeploying alone lets HTTP/2 streams finish first)
        openConnections.forEach(HttpConnection::close);
        Future<Void> closed = vertx.undeploy(deployment);
        deployment = null;
        if (!Context.isOnEventLoopThread()) {
            await(closed);
        }
    }

    public String name() {
        return name;
    }

    /** The port of the last {@link #start(int)}, -1 before that. */
    public int port() {
        return port;
    }

    public String url() {
        if (port < 0) {
            throw new IllegalStateException("fake backend " + name + " was never started");
        }
        return (tls != null ? "https://" : "http://") + host + ":" + port;
    }

    public List<String> servedModels() {
        return servedModels;
    }

    // ------------------------------------------------------------------------------------------- behaviour

    /** SSE content events per streamed answer (default 5). */
    public FakeOpenAiBackend chunks(int chunks) {
        if (chunks < 0) {
            throw new IllegalArgumentException("chunks < 0");
        }
        this.chunks = chunks;
        return this;
    }

    /** Pause between two stream events (default 0: all written at once). */
    public FakeOpenAiBackend chunkDelayMs(long ms) {
        this.chunkDelayMs = requireNonNegative(ms);
        return this;
    }

    /** Wait this long before answering GET /v1/models (a server slow to say what it serves). */
    public FakeOpenAiBackend modelsDelayMs(long ms) {
        this.modelsDelayMs = requireNonNegative(ms);
        return this;
    }

    /** Pause between reading a model request and acting on it, faults included (default 0). */
    public FakeOpenAiBackend headersDelayMs(long ms) {
        this.headersDelayMs = requireNonNegative(ms);
        return this;
    }

    /** Answer the model endpoints with this status, body (null: an OpenAI-style error) and extra headers. */
    public FakeOpenAiBackend failWithStatus(int status, String body, Map<String, String> headers) {
        Map<String, String> h = headers == null ? Map.of() : Map.copyOf(headers);
        return setFault(new FaultPlan(Fault.STATUS, status, body, h, 0, -1));
    }

    public FakeOpenAiBackend failWithStatus(int status) {
        return failWithStatus(status, null, null);
    }

    /** Read the request, then never answer; the connection stays open until the client gives up. */
    public FakeOpenAiBackend hang() {
        return setFault(new FaultPlan(Fault.HANG, 0, null, Map.of(), 0, -1));
    }

    /** Read the request, then close the connection without a response. */
    public FakeOpenAiBackend drop() {
        return setFault(new FaultPlan(Fault.DROP, 0, null, Map.of(), 0, -1));
    }

    /**
     * Send this many stream events, then close the connection: no {@code [DONE]}, no chunked terminator. A plain
     * answer is cut after half its declared body instead.
     */
    public FakeOpenAiBackend cutAfter(int chunks) {
        return setFault(new FaultPlan(Fault.CUT, 0, null, Map.of(), requireNonNegative(chunks), -1));
    }

    /** Send this many stream events, then go silent with the connection open (a plain answer: half its body). */
    public FakeOpenAiBackend stallAfter(int chunks) {
        return setFault(new FaultPlan(Fault.STALL, 0, null, Map.of(), requireNonNegative(chunks), -1));
    }

    /** Apply the configured fault (set before or after this call) to the next {@code n} model requests only. */
    public FakeOpenAiBackend failTimes(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("failTimes needs n >= 1; call healthy() to stop failing");
        }
        faultPlan.updateAndGet(p -> p.withRemaining(n));
        return this;
    }

    public FakeOpenAiBackend healthy() {
        faultPlan.set(FaultPlan.HEALTHY);
        return this;
    }

    /** The fault the next model request would get. */
    public Fault fault() {
        return faultPlan.get().fault();
    }

    /**
     * Close a kept-alive connection, without an answer, when a second request arrives on it: what a server does
     * whose keep-alive timeout closed the connection just as the client sent its next request on it.
     */
    public FakeOpenAiBackend closeReusedConnections(boolean on) {
        this.closeReused = on;
        return this;
    }

    /**
     * Serve HTTPS with the key and certificate of a PKCS#12 file, offering HTTP/2 and HTTP/1.1 by ALPN; applies
     * from the next start.
     */
    public FakeOpenAiBackend tls(String pkcs12Path, String password) {
        this.tls = new PfxOptions().setPath(pkcs12Path).setPassword(password);
        return this;
    }

    /** Close connections idle this long (a server's keep-alive timeout; 0: never); applies from the next start. */
    public FakeOpenAiBackend idleTimeoutMs(long ms) {
        this.idleTimeoutMs = requireNonNegative(ms);
        return this;
    }

    /** Requests that met {@link #closeReusedConnections(boolean)} and were closed unanswered. */
    public int closedReused() {
        return closedReused.get();
    }

    /** How many {@link Received} records are kept, oldest dropped first (default 10,000); count() counts all. */
    public FakeOpenAiBackend maxRecords(int max) {
        this.maxRecords = requireNonNegative(max);
        synchronized (records) {
            trimRecords();
        }
        return this;
    }

    /** How many listener instances (event loops) {@link #start(int)} deploys; default: one per CPU. */
    public FakeOpenAiBackend instances(int instances) {
        if (instances < 1) {
            throw new IllegalArgumentException("instances < 1");
        }
        this.instances = instances;
        return this;
    }

    // ------------------------------------------------------------------------------------------ observation

    /** The kept records, oldest first. Health probes and metric scrapes are requests too: filter by path. */
    public List<Received> received() {
        synchronized (records) {
            return List.copyOf(records);
        }
    }

    /** The kept records for one path, e.g. {@code /v1/chat/completions}. */
    public List<Received> received(String path) {
        synchronized (records) {
            return records.stream().filter(r -> r.path().equals(path)).toList();
        }
    }

    /** Every request received since the last reset, whatever its path. */
    public int count() {
        return count.get();
    }

    /** Kept requests for one path. */
    public int count(String path) {
        return received(path).size();
    }

    /** The newest record, or null. */
    public Received last() {
        synchronized (records) {
            return records.peekLast();
        }
    }

    /** Model requests whose client went away before the answer was complete. */
    public int clientDisconnects() {
        return clientDisconnects.get();
    }

    /** Connections accepted since the start (HTTP/2 carries many requests on one). */
    public int connections() {
        return connections.get();
    }

    /** Model requests received and not yet answered in full (hung and stalled ones included). */
    public int activeRequests() {
        return active.get();
    }

    /** Forgets the records and counters and restores the default behaviour (requests in flight carry on). */
    public FakeOpenAiBackend reset() {
        synchronized (records) {
            records.clear();
        }
        count.set(0);
        clientDisconnects.set(0);
        chunks = DEFAULT_CHUNKS;
        chunkDelayMs = 0;
        headersDelayMs = 0;
        modelsDelayMs = 0;
        faultPlan.set(FaultPlan.HEALTHY);
        return this;
    }

    // ---------------------------------------------------------------------------------------------- serving

    private final class Listener extends AbstractVerticle {
        private final int port;
        private final AtomicInteger bound;

        Listener(int port, AtomicInteger bound) {
            this.port = port;
            this.bound = bound;
        }

        @Override
        public void start(Promise<Void> started) {
            HttpServerOptions options = new HttpServerOptions().setHost(host).setPort(port).setTcpNoDelay(true)
                    .setCompressionSupported(false).setDecompressionSupported(false)
                    .setIdleTimeout((int) idleTimeoutMs).setIdleTimeoutUnit(TimeUnit.MILLISECONDS);
            if (tls != null) {
                options.setSsl(true).setKeyCertOptions(tls).setUseAlpn(true);
            }
            vertx.createHttpServer(options).connectionHandler(FakeOpenAiBackend.this::opened)
                    .requestHandler(FakeOpenAiBackend.this::handle).listen()
                    .onSuccess(server -> {
                        bound.set(server.actualPort());
                        started.complete();
                    })
                    .onFailure(started::fail);
        }
    }

    private void opened(HttpConnection connection) {
        connections.incrementAndGet();
        openConnections.add(connection);
        connection.closeHandler(v -> {
            openConnections.remove(connection);
            servedConnections.remove(connection);
        });
    }

    private void handle(HttpServerRequest req) {
        if (stopped) {
            req.connection().close();
            return;
        }
        if (closeReused) {
            HttpConnection connection = req.connection();
            if (!servedConnections.add(connection)) {
                closedReused.incrementAndGet();
                if (req.version() == HttpVersion.HTTP_2) {
                    // as a server closing an idle HTTP/2 connection does: its GOAWAY says this stream was not processed
                    connection.goAway(0, req.streamId() - 2);
                }
                connection.close();
                return;
            }
        }
        Call call = new Call(req, endpoint(req.method(), req.path()));
        req.response().putHeader(SERVED_BY, name).closeHandler(v -> call.clientGone());
        req.body().onComplete(ar -> {
            if (ar.succeeded()) {
                call.received(ar.result());
            } else {
                call.clientGone();
            }
        });
    }

    /** A form's model and stream fields as the JSON the answers are made from. */
    private static String formAsJson(String form) {
        Matcher m = FORM_MODEL.matcher(form);
        boolean stream = FORM_STREAM_TRUE.matcher(form).find();
        return m.find() ? "{\"model\":" + FakeAnswers.quote(m.group(1)) + (stream ? ",\"stream\":true" : "") + "}" : "{}";
    }

    private static Endpoint endpoint(HttpMethod method, String path) {
        if (method == HttpMethod.POST) {
            switch (path) {
                case "/v1/chat/completions": return Endpoint.CHAT;
                case "/v1/completions": return Endpoint.COMPLETIONS;
                case "/v1/embeddings": return Endpoint.EMBEDDINGS;
                case "/sleep": return Endpoint.SLEEP;
                case "/wake_up": return Endpoint.WAKE_UP;
                default: return OTHER_JSON.contains(path) ? Endpoint.OTHER : Endpoint.NOT_FOUND;
            }
        }
        if (method == HttpMethod.GET) {
            switch (path) {
                case "/v1/models": return Endpoint.MODELS;
                case "/health": return Endpoint.HEALTH;
                case "/metrics": return Endpoint.METRICS;
                case "/v1/audio/voices": return Endpoint.OTHER;
                case "/is_sleeping": return Endpoint.IS_SLEEPING;
                default: return Endpoint.NOT_FOUND;
            }
        }
        return Endpoint.NOT_FOUND;
    }

    /** Takes the fault for one model request, counting down a {@link #failTimes(int)} budget. */
    private FaultPlan takeFault() {
        return faultPlan.getAndUpdate(p -> p.fault() == Fault.NONE || p.remaining() < 0 ? p
                : p.remaining() <= 1 ? FaultPlan.HEALTHY : p.withRemaining(p.remaining() - 1));
    }

    private FakeOpenAiBackend setFault(FaultPlan plan) {
        // a failTimes() budget given before the fault itself still applies to it
        faultPlan.updateAndGet(p -> plan.withRemaining(p.remaining()));
        return this;
    }

    private void record(Received r) {
        synchronized (records) {
            records.addLast(r);
            trimRecords();
        }
    }

    private void trimRecords() {
        while (records.size() > maxRecords) {
            records.pollFirst();
        }
    }

    /**
     * One request in flight. It lives on the event loop that owns its connection (request, timer and close
     * handlers all run there), so its fields need no synchronisation.
     */
    private final class Call {
        private final HttpServerRequest req;
        private final HttpServerResponse resp;
        private final Endpoint endpoint;
        private boolean done;
        private long timer = -1;
        private Future<Void> lastWrite;

        // stream state
        private String prefix;
        private boolean chat;
        private int next;
        private int total;
        private int stopAt;
        private long gap;
        private boolean cut;
        private boolean includeUsage;

        Call(HttpServerRequest req, Endpoint endpoint) {
            this.req = req;
            this.resp = req.response();
            this.endpoint = endpoint;
            if (endpoint.isModel()) {
                active.incrementAndGet();
            }
        }

        void received(Buffer buffer) {
            if (done) {
                return;
            }
            String contentType = req.getHeader(HttpHeaders.CONTENT_TYPE);
            boolean form = contentType != null && contentType.startsWith("multipart/form-data");
            // a form is kept byte for byte (ISO-8859-1 maps each byte to one char)
            String body = buffer.length() == 0 ? "" : buffer.toString(form ? StandardCharsets.ISO_8859_1 : StandardCharsets.UTF_8);
            Parsed parsed = form ? FakeAnswers.parse(formAsJson(body)) : FakeAnswers.parse(body);
            count.incrementAndGet();
            if (maxRecords > 0) {
                record(new Received(req.method().name(), req.path(),
                        MultiMap.caseInsensitiveMultiMap().addAll(req.headers()), body, parsed.model(), req.query(),
                        req.version() == HttpVersion.HTTP_2 ? "HTTP/2" : "HTTP/1.1"));
            }
            switch (endpoint) {
                case HEALTH -> {
                    boolean failing = faultPlan.get().failsHealthChecks();
                    end(failing ? 503 : 200, APPLICATION_JSON, failing ? HEALTH_FAILING : HEALTH_OK);
                }
                case MODELS -> {
                    if (modelsDelayMs > 0) {
                        vertx.setTimer(modelsDelayMs, t -> end(200, APPLICATION_JSON, modelsJson));
                    } else {
                        end(200, APPLICATION_JSON, modelsJson);
                    }
                }
                case METRICS -> end(200, PROMETHEUS_TEXT, FakeAnswers.metrics(servedModels, active.get()));
                // vLLM's sleep mode (--enable-sleep-mode): 200 with no body; is_sleeping says the state
                case SLEEP -> {
                    sleeping = true;
                    end(200, null, "");
                }
                case WAKE_UP -> {
                    sleeping = false;
                    end(200, null, "");
                }
                case IS_SLEEPING -> end(200, APPLICATION_JSON, "{\"is_sleeping\":" + sleeping + "}");
                case NOT_FOUND -> end(404, APPLICATION_JSON, FakeAnswers.error(404, "not_found_error",
                        "no route for " + req.method().name() + " " + req.path()));
                default -> {
                    FaultPlan plan = takeFault();
                    if (plan.fault() == Fault.HANG) {
                        return;
                    }
                    long delay = headersDelayMs;
                    if (delay > 0) {
                        timer = vertx.setTimer(delay, t -> answer(parsed, plan));
                    } else {
                        answer(parsed, plan);
                    }
                }
            }
        }

        private void answer(Parsed parsed, FaultPlan plan) {
            timer = -1;
            if (done) {
                return;
            }
            String model = FakeAnswers.quote(parsed.model() != null ? parsed.model() : defaultModel);
            switch (plan.fault()) {
                case DROP -> {
                    finish();
                    req.connection().close();
                }
                case STATUS -> {
                    plan.headers().forEach(resp::putHeader);
                    CharSequence type = resp.headers().contains(HttpHeaders.CONTENT_TYPE) ? null : APPLICATION_JSON;
                    String body = plan.body() != null ? plan.body()
                            : FakeAnswers.error(plan.status(), "server_error", "fake failure from " + name);
                    end(plan.status(), type, body);
                }
                default -> {
                    if (endpoint == Endpoint.OTHER) {
                        other(model, parsed);
                    } else if (parsed.stream() && endpoint != Endpoint.EMBEDDINGS) {
                        startStream(parsed, model, plan);
                    } else {
                        plain(model, plan, parsed);
                    }
                }
            }
        }

        private void plain(String model, FaultPlan plan, Parsed parsed) {
            String user = parsed.user();
            long created = System.currentTimeMillis() / 1000;
            // the OpenAI "user" field is echoed, so a test can tell each request's answer from the others'
            String quotedHello = user == null ? FakeOpenAiBackend.this.quotedHello : FakeAnswers.quote("Hello from " + name + " to " + user);
            String json = switch (endpoint) {
                case CHAT -> FakeAnswers.chatCompletion(ids.incrementAndGet(), created, model, quotedHello);
                case COMPLETIONS -> FakeAnswers.textCompletion(ids.incrementAndGet(), created, model, quotedHello);
                default -> FakeAnswers.embeddings(model, parsed.base64());
            };
            if (plan.fault() != Fault.CUT && plan.fault() != Fault.STALL) {
                end(200, APPLICATION_JSON, json);
                return;
            }
            Buffer whole = Buffer.buffer(json);
            resp.putHeader(HttpHeaders.CONTENT_TYPE, APPLICATION_JSON)
                    .putHeader(HttpHeaders.CONTENT_LENGTH, String.valueOf(whole.length()));
            lastWrite = resp.write(whole.getBuffer(0, whole.length() / 2));
            if (plan.fault() == Fault.CUT) {
                cut();
            }
        }

        /**
         * The other endpoints: a JSON answer naming the path, model and server, with Responses/Messages-style
         * usage; {@code stream: true} on /v1/responses or /v1/messages gets that API's named SSE events.
         */
        private void other(String model, Parsed parsed) {
            String path = req.path();
            if (path.equals("/v1/audio/speech")) {
                finish();
                resp.setStatusCode(200).putHeader(HttpHeaders.CONTENT_TYPE, "audio/mpeg").end(Buffer.buffer(SPEECH));
                return;
            }
            if (parsed.stream() && (path.equals("/v1/audio/transcriptions") || path.equals("/v1/audio/translations"))) {
                // vLLM's streamed transcription: transcription.chunk events, then [DONE]
                resp.setChunked(true).putHeader(HttpHeaders.CONTENT_TYPE, EVENT_STREAM).putHeader(HttpHeaders.CACHE_CONTROL, NO_CACHE);
                lastWrite = resp.writeHead();
                List<String> events = FakeAnswers.transcriptionEvents(model, chunks);
                next = 0;
                emitNamed(events);
                return;
            }
            if (parsed.stream() && (path.equals("/v1/responses") || path.equals("/v1/messages"))) {
                resp.setChunked(true).putHeader(HttpHeaders.CONTENT_TYPE, EVENT_STREAM).putHeader(HttpHeaders.CACHE_CONTROL, NO_CACHE);
                lastWrite = resp.writeHead();
                List<String> events = FakeAnswers.namedEvents(path, model, chunks);
                next = 0;
                emitNamed(events);
                return;
            }
            end(200, APPLICATION_JSON, FakeAnswers.other(path, model, quotedName));
        }

        private void emitNamed(List<String> events) {
            timer = -1;
            while (!done && next < events.size()) {
                lastWrite = resp.write(events.get(next++));
                if (chunkDelayMs > 0 && next < events.size()) {
                    timer = vertx.setTimer(chunkDelayMs, t -> emitNamed(events));
                    return;
                }
            }
            if (!done) {
                finish();
                resp.end();
            }
        }

        private void startStream(Parsed parsed, String model, FaultPlan plan) {
            chat = endpoint == Endpoint.CHAT;
            total = chunks;
            gap = chunkDelayMs;
            includeUsage = parsed.includeUsage();
            cut = plan.fault() == Fault.CUT;
            stopAt = cut || plan.fault() == Fault.STALL ? Math.min(plan.afterChunks(), total) : -1;
            prefix = FakeAnswers.streamPrefix(chat, ids.incrementAndGet(), System.currentTimeMillis() / 1000, model);
            resp.setChunked(true).putHeader(HttpHeaders.CONTENT_TYPE, EVENT_STREAM)
                    .putHeader(HttpHeaders.CACHE_CONTROL, NO_CACHE);
            // a real server sends its headers before the first token is ready, which a slow first chunk exposes
            lastWrite = resp.writeHead();
            emit();
        }

        /** Writes the events that are due now; with a gap, schedules itself for the next one. */
        private void emit() {
            timer = -1;
            while (!done) {
                if (next == stopAt) {
                    if (cut) {
                        cut();
                    }
                    return;  // a stall just stops writing
                }
                if (next == total) {
                    if (includeUsage) {
                        resp.write(FakeAnswers.streamUsage(prefix, total));
                    }
                    finish();
                    resp.end(FakeAnswers.DONE);
                    return;
                }
                lastWrite = resp.write(FakeAnswers.streamChunk(prefix, chat, next, total));
                next++;
                if (gap > 0 && next < total) {
                    timer = vertx.setTimer(gap, t -> emit());
                    return;
                }
            }
        }

        /** Closes the connection once what was written has reached the socket, so the client does see it. */
        private void cut() {
            finish();
            lastWrite.onComplete(ar -> req.connection().close());
        }

        private void end(int status, CharSequence contentType, String body) {
            finish();
            resp.setStatusCode(status);
            if (contentType != null) {
                resp.putHeader(HttpHeaders.CONTENT_TYPE, contentType);
            }
            resp.end(body);
        }

        private void finish() {
            done = true;
            if (endpoint.isModel()) {
                active.decrementAndGet();
            }
        }

        /** The connection closed (or the body could not be read) before the answer was complete. */
        void clientGone() {
            if (done) {
                return;
            }
            finish();
            if (timer >= 0) {
                vertx.cancelTimer(timer);
                timer = -1;
            }
            if (endpoint.isModel()) {
                clientDisconnects.incrementAndGet();
            }
        }
    }

    // -------------------------------------------------------------------------------------------- helpers

    private static void requireOffEventLoop(String what) {
        if (Context.isOnEventLoopThread()) {
            throw new IllegalStateException(what + "() waits for the server; call it off the event loop");
        }
    }

    private static long requireNonNegative(long v) {
        if (v < 0) {
            throw new IllegalArgumentException("negative value: " + v);
        }
        return v;
    }

    private static int requireNonNegative(int v) {
        if (v < 0) {
            throw new IllegalArgumentException("negative value: " + v);
        }
        return v;
    }

    private static <T> T await(Future<T> future) {
        try {
            return future.toCompletionStage().toCompletableFuture().get(AWAIT_SECONDS, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        } catch (ExecutionException e) {
            throw new IllegalStateException(e.getCause().getMessage(), e.getCause());
        } catch (TimeoutException e) {
            throw new IllegalStateException("no answer from Vert.x within " + AWAIT_SECONDS + "s", e);
        }
    }
}
