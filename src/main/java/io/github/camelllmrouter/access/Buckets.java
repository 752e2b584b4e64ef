package io.github.camelllmrouter.access;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;

import io.github.bucket4j.BucketConfiguration;
import io.github.bucket4j.ConsumptionProbe;

/**
 * Where the rate-limit buckets live: in this process ({@link LocalBuckets}) or in Redis, shared by every replica
 * ({@link RedisBuckets}). A bucket is named by its scope and its size, so a limit changed in the keys file starts
 * a new bucket. Each holds {@code perMinute} tokens and is filled again one minute after its window began.
 */
interface Buckets {

    /** Takes {@code tokens} if that many are left. */
    CompletableFuture<ConsumptionProbe> take(String bucket, long perMinute, long tokens);

    /** Takes tokens whether or not they are left (tokens counted after the answer): the balance may go below 0. */
    CompletableFuture<Long> spend(String bucket, long perMinute, long tokens);

    /** Gives back tokens taken for a request that was refused by another limit. */
    CompletableFuture<Void> giveBack(String bucket, long perMinute, long tokens);

    static BucketConfiguration perMinute(long tokens) {
        return BucketConfiguration.builder()
                .addLimit(limit -> limit.capacity(tokens).refillIntervally(tokens, Duration.ofMinutes(1)))
                .build();
    }
}
