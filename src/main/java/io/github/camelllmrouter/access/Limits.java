package io.github.camelllmrouter.access;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * The limits of an API key, of a model, or of a key on a model (a field left out is no limit): requests and
 * tokens per minute (fixed one-minute windows, as OpenAI's and LiteLLM's rpm and tpm are counted) and requests
 * being answered at once.
 */
public record Limits(Long requestsPerMinute, Long tokensPerMinute, Integer maxConcurrentRequests) {

    @JsonCreator
    public Limits(@JsonProperty("requests_per_minute") Long requestsPerMinute,
                  @JsonProperty("tokens_per_minute") Long tokensPerMinute,
                  @JsonProperty("max_concurrent_requests") Integer maxConcurrentRequests) {
        positive("requests_per_minute", requestsPerMinute);
        positive("tokens_per_minute", tokensPerMinute);
        positive("max_concurrent_requests", maxConcurrentRequests == null ? null : maxConcurrentRequests.longValue());
        this.requestsPerMinute = requestsPerMinute;
        this.tokensPerMinute = tokensPerMinute;
        this.maxConcurrentRequests = maxConcurrentRequests;
    }

    /** Bucket4j refills at most one token a nanosecond. */
    static final long MAX_PER_MINUTE = 60_000_000_000L;

    private static void positive(String field, Long value) {
        if (value != null && (value <= 0 || value > MAX_PER_MINUTE)) {
            throw new IllegalArgumentException(field + " must be a whole number from 1 to " + MAX_PER_MINUTE + ", not " + value);
        }
    }

    public boolean none() {
        return requestsPerMinute == null && tokensPerMinute == null && maxConcurrentRequests == null;
    }
}
