package io.github.camelllmrouter.access;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

import io.github.bucket4j.Bucket;
import io.github.bucket4j.ConsumptionProbe;

/** Buckets of this replica alone (no Redis, or Redis unreachable and fail-open). */
final class LocalBuckets implements Buckets {

    private final Map<String, Bucket> buckets = new ConcurrentHashMap<>();

    private Bucket bucket(String name, long perMinute) {
        return buckets.computeIfAbsent(name, k -> Bucket.builder()
                .addLimit(limit -> limit.capacity(perMinute).refillIntervally(perMinute, Duration.ofMinutes(1)))
                .build());
    }

    @Override
    public CompletableFuture<ConsumptionProbe> take(String bucket, long perMinute, long tokens) {
        return CompletableFuture.completedFuture(bucket(bucket, perMinute).tryConsumeAndReturnRemaining(tokens));
    }

    @Override
    public CompletableFuture<Long> spend(String bucket, long perMinute, long tokens) {
        return CompletableFuture.completedFuture(bucket(bucket, perMinute).consumeIgnoringRateLimits(tokens));
    }

    @Override
    public CompletableFuture<Void> giveBack(String bucket, long perMinute, long tokens) {
        bucket(bucket, perMinute).addTokens(tokens);
        return CompletableFuture.completedFuture(null);
    }
}
