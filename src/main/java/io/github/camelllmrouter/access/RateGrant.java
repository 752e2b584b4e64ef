package io.github.camelllmrouter.access;

import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * What a request that passed its limits holds until it is answered: a place among each scope's concurrent
 * requests, and one token of each tokens-per-minute bucket. When it ends, the places are given back and the
 * answer's tokens are spent (the bucket may go below 0: the next request then waits for the next window).
 */
public final class RateGrant {

    /** A tokens-per-minute bucket this request reserved one token of. */
    record TokenBucket(String bucket, long perMinute) {
    }

    private final Buckets store;
    private final List<TokenBucket> tokens;
    private final List<AtomicInteger> places;
    private final AtomicBoolean ended = new AtomicBoolean();

    RateGrant(Buckets store, List<TokenBucket> tokens, List<AtomicInteger> places) {
        this.store = store;
        this.tokens = tokens;
        this.places = places;
    }

    /** @param total the request's tokens: the answer's usage, or estimated when it has none */
    public void end(long total) {
        if (!ended.compareAndSet(false, true)) {
            return;
        }
        places.forEach(AtomicInteger::decrementAndGet);
        if (total > 1) {
            for (TokenBucket t : tokens) {
                store.spend(t.bucket(), t.perMinute(), total - 1); // one was taken when the request passed
            }
        }
    }
}
