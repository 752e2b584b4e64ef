package io.github.camelllmrouter.access;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

import io.github.bucket4j.ConsumptionProbe;
import io.github.camelllmrouter.backend.LlmComponent;
import io.github.camelllmrouter.http.LlmCall;
import io.github.camelllmrouter.openai.OpenAiException;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import org.apache.camel.AsyncCallback;
import org.apache.camel.AsyncProcessor;
import org.apache.camel.CamelContext;
import org.apache.camel.CamelContextAware;
import org.apache.camel.Exchange;
import org.apache.camel.support.AsyncProcessorSupport;
import org.apache.camel.support.SynchronizationAdapter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The routes' rate-limit step ({@code process: { ref: rateLimits }}), after the model is known: the limits of the
 * caller's key, of the key on that model, and of the model over every key (all from the keys file). Requests and
 * tokens per minute are Bucket4j buckets, in Redis when {@code router.rate-limit-redis-url} is set (one limit for
 * every replica) and in this process otherwise; concurrent requests are counted per replica. Over a limit: 429
 * with {@code Retry-After}. Every answer of a limited request carries OpenAI's {@code x-ratelimit-*} headers.
 */
public class RateLimits extends AsyncProcessorSupport implements AsyncProcessor, CamelContextAware {

    public static final String BEAN = "rateLimits";
    private static final Logger LOG = LoggerFactory.getLogger(RateLimits.class);

    private CamelContext context;
    private String redisUrl = "";
    private boolean failClosed;
    private long redisTimeoutMs = 250;
    private final LocalBuckets local = new LocalBuckets();
    private volatile RedisBuckets redis;
    private final Map<String, AtomicInteger> concurrent = new ConcurrentHashMap<>();
    private volatile ApiKeys keys;

    /** A set of limits and the name its buckets go by. */
    record Scope(String name, String key, String model, Limits limits) {
    }

    /** One bucket taken from for this request. */
    record Take(Scope scope, String kind, String bucket, long perMinute, CompletableFuture<ConsumptionProbe> probe) {
    }

    public void setRedisUrl(String redisUrl) {
        this.redisUrl = redisUrl == null ? "" : redisUrl.trim();
    }

    /** open (default): with Redis unreachable, each replica counts alone; closed: requests get 503. */
    public void setRedisFailure(String mode) {
        String m = mode == null ? "open" : mode.trim().toLowerCase(Locale.ROOT);
        if (!m.equals("open") && !m.equals("closed")) {
            throw new IllegalArgumentException("router.rate-limit-redis-failure must be open or closed, not '" + mode + "'");
        }
        this.failClosed = m.equals("closed");
    }

    public void setRedisTimeoutMs(long redisTimeoutMs) {
        this.redisTimeoutMs = redisTimeoutMs;
    }

    @Override
    public void setCamelContext(CamelContext context) {
        if (this.context != context) {
            this.context = context;
            ContextServices.join(context, this);
        }
    }

    @Override
    public CamelContext getCamelContext() {
        return context;
    }

    public static RateLimits of(CamelContext context) {
        return context.getRegistry().lookupByNameAndType(BEAN, RateLimits.class);
    }

    @Override
    protected void doStart() throws Exception {
        if (!redisUrl.isEmpty() && redis == null) {
            redis = new RedisBuckets(redisUrl, redisTimeoutMs);
            MeterRegistry registry = context.getRegistry().findSingleByType(MeterRegistry.class);
            if (registry != null) {
                Gauge.builder("llm_router_rate_limit_store_up", redis, r -> r.up() ? 1 : 0)
                        .description("1 while the shared rate-limit store (Redis) answers; 0: each replica counts alone"
                                + " (fail open) or limited requests are refused (fail closed)")
                        .tag("store", "redis").register(registry);
            }
        }
    }

    @Override
    protected void doStop() {
        if (redis != null) {
            redis.close();
            redis = null;
        }
    }

    @Override
    public boolean process(Exchange exchange, AsyncCallback callback) {
        try {
            return limit(exchange, callback);
        } catch (RuntimeException e) {
            // never a request left without an answer
            LOG.error("rate limits failed", e);
            exchange.setException(e);
            callback.done(true);
            return true;
        }
    }

    private boolean limit(Exchange exchange, AsyncCallback callback) {
        LlmCall call = LlmCall.of(exchange);
        KeysFile file = keys(exchange).current();
        List<Scope> scopes = file == null || call == null || call.request() == null ? List.of()
                : scopes(file, call.apiKey(), call.request().requestedModel());
        if (scopes.isEmpty()) {
            callback.done(true);
            return true;
        }
        // concurrent requests: counted here, per replica
        List<AtomicInteger> places = new ArrayList<>();
        for (Scope s : scopes) {
            Integer max = s.limits().maxConcurrentRequests();
            if (max != null) {
                AtomicInteger n = concurrent.computeIfAbsent(s.name(), k -> new AtomicInteger());
                if (n.incrementAndGet() > max) {
                    n.decrementAndGet();
                    places.forEach(AtomicInteger::decrementAndGet);
                    refuse(exchange, call, s, "concurrent", 1, "Too many concurrent requests for " + describe(s)
                            + ": limit " + max + ".");
                    callback.done(true);
                    return true;
                }
                places.add(n);
            }
        }
        RedisBuckets shared = redis;
        boolean sharedUp = shared != null && shared.up(); // read once: it may change meanwhile
        if (shared != null && !sharedUp && failClosed) {
            places.forEach(AtomicInteger::decrementAndGet);
            exchange.setException(new OpenAiException(503, "server_error", "rate_limit_store_unavailable", null,
                    "The rate-limit store is unreachable and the router is configured to refuse limited requests"
                    + " meanwhile (router.rate-limit-redis-failure=closed)."));
            callback.done(true);
            return true;
        }
        Buckets store = sharedUp ? shared : local;
        List<Take> takes;
        CompletableFuture<?> all;
        try {
            takes = take(store, scopes);
            all = CompletableFuture.allOf(takes.stream().map(Take::probe).toArray(CompletableFuture[]::new));
            if (all.isDone()) {
                decide(exchange, call, store, takes, places, all);
                callback.done(true);
                return true;
            }
        } catch (RuntimeException failed) {
            release(call, places);
            throw failed;
        }
        all.whenComplete((v, e) -> call.onLoop(() -> {
            try {
                decide(exchange, call, store, takes, places, all);
            } catch (RuntimeException failed) {
                LOG.error("rate limits failed", failed);
                release(call, places);
                exchange.setException(failed);
            }
            callback.done(false);
        }));
        return false;
    }

    /** Gives back the places of a request that got no grant (a grant gives them back when it ends). */
    private static void release(LlmCall call, List<AtomicInteger> places) {
        if (call.grant() == null) {
            places.forEach(AtomicInteger::decrementAndGet);
        }
    }

    private static List<Take> take(Buckets store, List<Scope> scopes) {
        List<Take> takes = new ArrayList<>();
        for (Scope s : scopes) {
            Long rpm = s.limits().requestsPerMinute();
            if (rpm != null) {
                String bucket = s.name() + ":rpm:" + rpm;
                takes.add(new Take(s, "requests", bucket, rpm, store.take(bucket, rpm, 1)));
            }
            Long tpm = s.limits().tokensPerMinute();
            if (tpm != null) {
                String bucket = s.name() + ":tpm:" + tpm;
                takes.add(new Take(s, "tokens", bucket, tpm, store.take(bucket, tpm, 1)));
            }
        }
        return takes;
    }

    private void decide(Exchange exchange, LlmCall call, Buckets store, List<Take> takes, List<AtomicInteger> places,
                        CompletableFuture<?> all) {
        if (all.isCompletedExceptionally()) {
            // Redis failed under this request: counted again on this replica's buckets, or refused (fail closed)
            RedisBuckets shared = redis;
            if (shared != null && store == shared) {
                shared.down(failure(all));
            }
            for (Take t : takes) {
                if (!t.probe().isCompletedExceptionally()) {
                    store.giveBack(t.bucket(), t.perMinute(), 1);
                }
            }
            if (failClosed) {
                places.forEach(AtomicInteger::decrementAndGet);
                exchange.setException(new OpenAiException(503, "server_error", "rate_limit_store_unavailable", null,
                        "The rate-limit store is unreachable (router.rate-limit-redis-failure=closed)."));
                return;
            }
            List<Take> again = take(local, takes.stream().map(Take::scope).distinct().toList());
            decide(exchange, call, local, again, places, CompletableFuture.completedFuture(null));
            return;
        }
        Take refusedBy = null;
        for (Take t : takes) {
            if (!t.probe().join().isConsumed() && (refusedBy == null
                    || t.probe().join().getNanosToWaitForRefill() > refusedBy.probe().join().getNanosToWaitForRefill())) {
                refusedBy = t;
            }
        }
        call.limitHeaders(headers(takes));
        if (refusedBy != null) {
            for (Take t : takes) {
                if (t.probe().join().isConsumed()) {
                    store.giveBack(t.bucket(), t.perMinute(), 1);
                }
            }
            places.forEach(AtomicInteger::decrementAndGet);
            long waitS = Math.max(1, (long) Math.ceil(refusedBy.probe().join().getNanosToWaitForRefill() / 1e9));
            refuse(exchange, call, refusedBy.scope(), refusedBy.kind(), waitS, "Rate limit reached for " + describe(refusedBy.scope())
                    + " on " + refusedBy.kind() + " per minute: limit " + refusedBy.perMinute() + ". Please try again in "
                    + waitS + "s.");
            return;
        }
        List<RateGrant.TokenBucket> tokens = takes.stream().filter(t -> t.kind().equals("tokens"))
                .map(t -> new RateGrant.TokenBucket(t.bucket(), t.perMinute())).toList();
        RateGrant grant = new RateGrant(store, tokens, places);
        call.grant(grant);
        // the answer's end spends its tokens and gives the places back (RequestRecord); whatever way the exchange
        // ends, its places are given back (ending twice does nothing)
        exchange.getExchangeExtension().addOnCompletion(new SynchronizationAdapter() {
            @Override
            public void onDone(Exchange done) {
                grant.end(0);
            }
        });
    }

    private static Throwable failure(CompletableFuture<?> all) {
        try {
            all.join();
            return new IllegalStateException("failed");
        } catch (CompletionException e) {
            return e.getCause() != null ? e.getCause() : e;
        }
    }

    private void refuse(Exchange exchange, LlmCall call, Scope scope, String limit, long retryAfterSeconds, String message) {
        call.retryAfterSeconds(retryAfterSeconds);
        LOG.info("rate limited request={} key={} model={} limit={} scope={}", call.requestId(),
                call.apiKey() == null ? "none" : call.apiKey().name(), call.request().requestedModel(), limit, scope.name());
        exchange.getContext().getComponent("llm", LlmComponent.class).metrics()
                .rateLimited(call.apiKey() == null ? "none" : call.apiKey().name(), scope.model() == null ? "any" : scope.model(), limit);
        // OpenAI's rate-limit errors have type "requests" or "tokens"
        exchange.setException(new OpenAiException(429, "tokens".equals(limit) ? "tokens" : "requests",
                "rate_limit_exceeded", null, message));
    }

    /** OpenAI's x-ratelimit-* headers: the tightest bucket of each kind. */
    static Map<String, String> headers(List<Take> takes) {
        Map<String, String> h = new LinkedHashMap<>();
        for (String kind : List.of("requests", "tokens")) {
            Take tightest = null;
            for (Take t : takes) {
                if (t.kind().equals(kind) && (tightest == null
                        || t.probe().join().getRemainingTokens() < tightest.probe().join().getRemainingTokens())) {
                    tightest = t;
                }
            }
            if (tightest != null) {
                ConsumptionProbe p = tightest.probe().join();
                // a tokens bucket gave one token as a reservation: it is not used yet
                long remaining = p.getRemainingTokens() + (kind.equals("tokens") && p.isConsumed() ? 1 : 0);
                h.put("x-ratelimit-limit-" + kind, Long.toString(tightest.perMinute()));
                h.put("x-ratelimit-remaining-" + kind, Long.toString(Math.max(0, Math.min(tightest.perMinute(), remaining))));
                h.put("x-ratelimit-reset-" + kind, duration(p.getNanosToWaitForReset()));
            }
        }
        return h;
    }

    /** As OpenAI writes them: 1s, 6m0s, 20ms. */
    static String duration(long nanos) {
        Duration d = Duration.ofNanos(Math.max(0, nanos));
        if (d.toMillis() < 1000) {
            return d.toMillis() + "ms";
        }
        long s = d.toSeconds();
        if (s < 60) {
            return String.format(Locale.ROOT, "%.3fs", d.toMillis() / 1000.0).replaceAll("\\.?0+s$", "s");
        }
        return (s / 60) + "m" + (s % 60) + "s";
    }

    private static String describe(Scope s) {
        if (s.key() != null && s.model() != null) {
            return "key '" + s.key() + "' on model '" + s.model() + "'";
        }
        return s.key() != null ? "key '" + s.key() + "'" : "model '" + s.model() + "'";
    }

    static List<Scope> scopes(KeysFile file, ApiKey key, String model) {
        List<Scope> scopes = new ArrayList<>(3);
        if (key != null && key.limits() != null && !key.limits().none()) {
            scopes.add(new Scope("key:" + key.name(), key.name(), null, key.limits()));
        }
        Limits onModel = key == null ? null : key.limitsOn(model);
        if (onModel != null && !onModel.none()) {
            scopes.add(new Scope("key:" + key.name() + ":model:" + model, key.name(), model, onModel));
        }
        Limits ofModel = file.limitsOf(model);
        if (ofModel != null && !ofModel.none()) {
            scopes.add(new Scope("model:" + model, null, model, ofModel));
        }
        return scopes;
    }

    private ApiKeys keys(Exchange exchange) {
        ApiKeys k = keys;
        if (k == null) {
            k = ApiKeys.of(exchange.getContext());
            keys = k;
        }
        return k;
    }

    /** For {@code /health}: where the buckets are and whether that store answers. */
    public Map<String, Object> describe() {
        Map<String, Object> d = new LinkedHashMap<>();
        RedisBuckets r = redis;
        if (r == null) {
            d.put("store", "local");
            d.put("status", "ok");
        } else {
            d.put("store", "redis");
            d.put("redis", r.where());
            d.put("status", r.up() ? "ok" : "degraded");
            d.put("on_redis_failure", failClosed ? "closed: limited requests get 503" : "open: each replica counts alone");
            if (!r.up()) {
                d.put("last_error", r.lastError());
            }
        }
        return d;
    }
}
