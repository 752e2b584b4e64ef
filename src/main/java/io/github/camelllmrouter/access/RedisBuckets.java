package io.github.camelllmrouter.access;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import io.github.bucket4j.ConsumptionProbe;
import io.github.bucket4j.distributed.AsyncBucketProxy;
import io.github.bucket4j.distributed.ExpirationAfterWriteStrategy;
import io.github.bucket4j.distributed.proxy.AsyncProxyManager;
import io.github.bucket4j.distributed.proxy.optimization.Optimizations;
import io.github.bucket4j.redis.lettuce.Bucket4jLettuce;
import io.lettuce.core.ClientOptions;
import io.lettuce.core.RedisClient;
import io.lettuce.core.RedisURI;
import io.lettuce.core.TimeoutOptions;
import io.lettuce.core.api.StatefulRedisConnection;
import io.lettuce.core.codec.ByteArrayCodec;
import io.lettuce.core.codec.RedisCodec;
import io.lettuce.core.codec.StringCodec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Buckets in Redis, one set for every replica, through Bucket4j's Lettuce integration (compare-and-swap, no
 * thread waits: the commands are asynchronous). Redis is pinged every second; while it does not answer, the
 * router is "degraded" and {@link RateLimits} uses each replica's own buckets (fail open) or refuses (fail closed).
 */
final class RedisBuckets implements Buckets, AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(RedisBuckets.class);
    /** Opening the connection (TCP, the handshake) may take longer than a command: a busy replica just started. */
    private static final long CONNECT_MS = 2000;

    private final String where;
    private final RedisClient client;
    private final long timeoutMs;
    private volatile StatefulRedisConnection<String, byte[]> connection;
    private volatile AsyncProxyManager<String> buckets;
    private final ScheduledExecutorService pinger = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "rate-limit-redis-ping");
        t.setDaemon(true);
        return t;
    });
    private volatile boolean up;
    private volatile String lastError;

    /** @param url redis://[user:password@]host:port[/db] (rediss:// for TLS) */
    RedisBuckets(String url, long timeoutMs) {
        RedisURI uri = RedisURI.create(url);
        this.where = uri.getHost() + ":" + uri.getPort();
        // the URI's timeout bounds the connect and its handshake; commands get their own, below
        uri.setTimeout(Duration.ofMillis(Math.max(CONNECT_MS, timeoutMs)));
        this.client = RedisClient.create(uri);
        client.setOptions(ClientOptions.builder()
                .autoReconnect(true)
                // while the connection is down, commands fail at once instead of queueing behind it
                .disconnectedBehavior(ClientOptions.DisconnectedBehavior.REJECT_COMMANDS)
                .timeoutOptions(TimeoutOptions.enabled(Duration.ofMillis(timeoutMs)))
                .build());
        this.timeoutMs = timeoutMs;
        if (!connect()) {
            LOG.warn("rate limits: Redis at {} is unreachable ({}); each replica counts alone until it answers", where, lastError);
        }
        pinger.scheduleWithFixedDelay(this::ping, 1, 1, TimeUnit.SECONDS);
    }

    /** The first connection (Lettuce reconnects it by itself after that). */
    private boolean connect() {
        try {
            StatefulRedisConnection<String, byte[]> c = client.connect(RedisCodec.of(StringCodec.UTF8, ByteArrayCodec.INSTANCE));
            buckets = Bucket4jLettuce.casBasedBuilder(c)
                    .expirationAfterWrite(ExpirationAfterWriteStrategy.basedOnTimeForRefillingBucketUpToMax(Duration.ofSeconds(10)))
                    .requestTimeout(Duration.ofMillis(timeoutMs))
                    .build().asAsync();
            warmUp();
            connection = c;
            proxies.clear();
            up = true;
            lastError = null;
            return true;
        } catch (RuntimeException e) {
            up = false;
            lastError = e.getMessage();
            return false;
        }
    }

    /**
     * Bucket operations, as a request's, until one answers within a command's timeout (for at most the connect's
     * time): the first ones through Lettuce and Bucket4j load their code, which on a cold JVM can take longer
     * than that timeout, and a request whose command times out counts alone.
     */
    private void warmUp() {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(CONNECT_MS);
        Exception last;
        do {
            try {
                take("warm-up", 1, 1).get(CONNECT_MS, TimeUnit.MILLISECONDS);
                return;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            } catch (Exception e) {
                last = e;
            }
        } while (System.nanoTime() < deadline);
        LOG.warn("rate limits: Redis at {} answered no bucket operation within {} ms while connecting ({}); until it"
                + " does, a request whose command times out counts alone", where, timeoutMs, last.toString());
    }

    private void ping() {
        if (connection == null) {
            if (connect()) {
                LOG.info("rate limits: Redis at {} answers; limits are shared by every replica", where);
            }
            return;
        }
        try {
            connection.async().ping().get(2, TimeUnit.SECONDS);
            if (!up) {
                LOG.info("rate limits: Redis at {} answers again; limits are shared by every replica", where);
            }
            up = true;
            lastError = null;
        } catch (Exception e) {
            down(e);
        }
    }

    void down(Throwable e) {
        Throwable cause = e.getCause() != null && e instanceof ExecutionException ? e.getCause() : e;
        if (up) {
            LOG.warn("rate limits: Redis at {} does not answer ({}); until it does, each replica counts alone", where, cause.toString());
        }
        up = false;
        lastError = cause.toString();
    }

    boolean up() {
        return up && connection != null;
    }

    String where() {
        return where;
    }

    String lastError() {
        return lastError;
    }

    private final Map<String, AsyncBucketProxy> proxies = new ConcurrentHashMap<>();

    /**
     * One proxy per bucket, kept: Bucket4j's batching optimization then sends the concurrent requests of one
     * bucket (a busy key) to Redis as one command instead of one each.
     */
    private AsyncBucketProxy bucket(String name, long perMinute) {
        AsyncProxyManager<String> manager = buckets;
        return proxies.computeIfAbsent(name, n -> manager.builder().withOptimization(Optimizations.batching())
                .build("llm-router:rate:" + n, Buckets.perMinute(perMinute)));
    }

    @Override
    public CompletableFuture<ConsumptionProbe> take(String bucket, long perMinute, long tokens) {
        return bucket(bucket, perMinute).tryConsumeAndReturnRemaining(tokens);
    }

    @Override
    public CompletableFuture<Long> spend(String bucket, long perMinute, long tokens) {
        return bucket(bucket, perMinute).consumeIgnoringRateLimits(tokens);
    }

    @Override
    public CompletableFuture<Void> giveBack(String bucket, long perMinute, long tokens) {
        return bucket(bucket, perMinute).addTokens(tokens);
    }

    @Override
    public void close() {
        pinger.shutdownNow();
        if (connection != null) {
            connection.close();
        }
        client.shutdown(Duration.ZERO, Duration.ofSeconds(1));
    }
}
