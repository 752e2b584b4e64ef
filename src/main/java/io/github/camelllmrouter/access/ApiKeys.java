package io.github.camelllmrouter.access;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import io.github.camelllmrouter.http.LlmCall;
import io.github.camelllmrouter.http.StepProcessors;
import io.github.camelllmrouter.openai.OpenAiException;
import io.netty.handler.codec.http.HttpHeaders;
import org.apache.camel.CamelContext;
import org.apache.camel.CamelContextAware;
import org.apache.camel.Exchange;
import org.apache.camel.support.service.ServiceSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Inbound API keys ({@code --api-keys-file}; off without it, as the vLLM router is): the routes' steps that check
 * the caller's key before the body is read ({@link #authenticate}) and the model it asks for ({@link #authorize}).
 * The file is watched: a saved change is checked as a whole and swapped in, a change that does not pass changes
 * nothing (it is logged and shown in {@code /health}).
 */
public class ApiKeys extends ServiceSupport implements CamelContextAware {

    public static final String BEAN = "keys";
    /** The two steps as processors of their own ({@code process: { ref: keys.authenticate }}): {@link StepProcessors}. */
    public static final String AUTHENTICATE = "keys.authenticate";
    public static final String AUTHORIZE = "keys.authorize";
    private static final Logger LOG = LoggerFactory.getLogger(ApiKeys.class);

    private CamelContext context;
    private String file = "";
    private long pollIntervalMs = 250;
    private volatile KeysFile current;
    private volatile String lastError;
    private volatile Instant lastChange;
    private final AtomicLong applied = new AtomicLong();
    private final AtomicLong refused = new AtomicLong();
    private byte[] seen;
    private byte[] pending;
    private ScheduledExecutorService watcher;

    public void setFile(String file) {
        this.file = file == null ? "" : file.trim();
    }

    public void setPollIntervalMs(long pollIntervalMs) {
        this.pollIntervalMs = pollIntervalMs;
    }

    @Override
    public void setCamelContext(CamelContext context) {
        if (this.context != context) {
            this.context = context;
            ContextServices.join(context, this);
            StepProcessors.bind(context, AUTHENTICATE, this::authenticate);
            StepProcessors.bind(context, AUTHORIZE, this::authorize);
        }
    }

    @Override
    public CamelContext getCamelContext() {
        return context;
    }

    /** The keys in force; null when inbound keys are off. */
    public KeysFile current() {
        return current;
    }

    public static ApiKeys of(CamelContext context) {
        return context.getRegistry().lookupByNameAndType(BEAN, ApiKeys.class);
    }

    @Override
    protected void doStart() throws Exception {
        if (file.isEmpty() || current != null) {
            return;
        }
        Path path = Path.of(file);
        if (!Files.isRegularFile(path)) {
            throw new IllegalArgumentException("--api-keys-file " + file + " is not a file");
        }
        seen = Files.readAllBytes(path);
        current = KeysFile.parse(file, seen); // a bad file at start stops the router: it never fails open
        lastChange = Instant.now();
        LOG.info("API keys: {} keys from {} (version {})", current.bySha256().size(), file, current.version());
        watcher = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "api-keys-watch");
            t.setDaemon(true);
            return t;
        });
        watcher.scheduleWithFixedDelay(this::poll, pollIntervalMs, pollIntervalMs, TimeUnit.MILLISECONDS);
    }

    @Override
    protected void doStop() {
        if (watcher != null) {
            watcher.shutdownNow();
            watcher = null;
        }
    }

    /** Applies a change once two looks agree (the file has settled); nothing stops the watch. */
    private void poll() {
        try {
            look();
        } catch (RuntimeException e) {
            LOG.warn("watching the keys file {} failed: {} (the keys in force are kept)", file, e.toString());
        }
    }

    private void look() {
        byte[] now;
        try {
            now = Files.readAllBytes(Path.of(file));
        } catch (Exception e) {
            if (lastError == null || !lastError.contains("cannot be read")) {
                lastError = "keys file " + file + " cannot be read: " + e + " (the keys in force are kept)";
                LOG.warn(lastError);
            }
            return;
        }
        if (Arrays.equals(now, seen)) {
            pending = null;
            return;
        }
        if (!Arrays.equals(now, pending)) {
            pending = now;
            return;
        }
        seen = now;
        pending = null;
        try {
            KeysFile next = KeysFile.parse(file, now);
            current = next;
            lastError = null;
            lastChange = Instant.now();
            applied.incrementAndGet();
            LOG.info("API keys: {} keys from {} (version {}) now in force", next.bySha256().size(), file, next.version());
        } catch (IllegalArgumentException | StackOverflowError e) {
            lastError = (e instanceof StackOverflowError ? "keys file " + file + ": nested too deeply" : e.getMessage())
                    + " (the keys in force are kept)";
            refused.incrementAndGet();
            LOG.warn("API keys change refused: {}", lastError);
        }
    }

    /**
     * The route's step before the body is read: the caller's key ({@code Authorization: Bearer} or Anthropic's
     * {@code x-api-key}) must be in the file and not expired; 401 otherwise. The key is the router's: it is taken
     * off the headers that go to backends.
     */
    public void authenticate(Exchange exchange) {
        KeysFile keys = current;
        if (keys == null) {
            return;
        }
        LlmCall call = LlmCall.of(exchange);
        HttpHeaders headers = call.clientHeaders();
        String presented = presented(headers);
        headers.remove("authorization");
        headers.remove("x-api-key");
        if (presented == null) {
            throw unauthorized("You didn't provide an API key. Send it as 'Authorization: Bearer <key>' (or 'x-api-key: <key>').");
        }
        ApiKey key = keys.bySha256().get(KeysFile.sha256(presented));
        if (key == null) {
            throw unauthorized("Incorrect API key provided.");
        }
        if (key.expired(Instant.now())) {
            throw unauthorized("The API key '" + key.name() + "' expired at " + key.expires() + ".");
        }
        call.apiKey(key);
    }

    /** The route's step once the body names the model: a key may call only its models (403 otherwise). */
    public void authorize(Exchange exchange) {
        LlmCall call = LlmCall.of(exchange);
        ApiKey key = call.apiKey();
        String model = exchange.getVariable("model", String.class);
        if (key != null && !key.allows(model)) {
            throw new OpenAiException(403, "permission_error", "model_not_allowed", "model",
                    "The API key '" + key.name() + "' may not use the model '" + model + "'.");
        }
    }

    /** The model list's filter: with keys on, a key sees only its models. */
    public boolean visible(Exchange exchange, String model) {
        LlmCall call = LlmCall.of(exchange);
        ApiKey key = call == null ? null : call.apiKey();
        return key == null || key.allows(model);
    }

    static String presented(HttpHeaders headers) {
        String auth = headers.get("authorization");
        if (auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7) && !auth.substring(7).isBlank()) {
            return auth.substring(7).trim();
        }
        String x = headers.get("x-api-key");
        return x == null || x.isBlank() ? null : x.trim();
    }

    static OpenAiException unauthorized(String message) {
        return new OpenAiException(401, "invalid_request_error", "invalid_api_key", null, message);
    }

    /** For {@code /health}: where the keys come from, how many, and the last change's result. */
    public Map<String, Object> describe() {
        Map<String, Object> d = new LinkedHashMap<>();
        KeysFile k = current;
        d.put("file", file);
        d.put("version", k == null ? null : k.version());
        d.put("keys", k == null ? 0 : k.bySha256().size());
        d.put("changed_at", lastChange == null ? null : lastChange.toString());
        d.put("applied", applied.get());
        d.put("refused", refused.get());
        d.put("last_error", lastError);
        return d;
    }
}
