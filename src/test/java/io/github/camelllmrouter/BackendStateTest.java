package io.github.camelllmrouter;

import java.time.Duration;

import io.github.camelllmrouter.backend.BackendState;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Outlier ejection: the ejection time grows while the backend keeps failing (a failed trial after an ejection
 * ejects it again at once, for longer), and a success forgets its history.
 */
class BackendStateTest {

    static long ejectedForMs(BackendState s) {
        Object v = s.describe().get("ejected_for_ms");
        return v == null ? 0 : ((Number) v).longValue();
    }

    @Test
    void ejection_time_grows_while_the_backend_keeps_failing_and_a_success_forgets_it() {
        BackendState s = new BackendState("http://b:1", new BackendState.OutlierPolicy(2, 200, 10000));
        assertThat(s.failure("status_503", null)).isFalse();
        assertThat(s.failure("status_503", null)).isTrue();
        assertThat(ejectedForMs(s)).isBetween(1L, 200L);
        await().atMost(Duration.ofSeconds(5)).until(s::available);
        assertThat(s.failure("status_503", null)).as("the trial after the ejection fails: out again at once").isTrue();
        assertThat(ejectedForMs(s)).as("second ejection in a row: twice the base").isBetween(201L, 400L);
        await().atMost(Duration.ofSeconds(5)).until(s::available);
        s.success();
        assertThat(s.describe().get("ejections")).isEqualTo(0);
        assertThat(s.failure("status_503", null)).as("recovered: one failure is not an ejection again").isFalse();
        assertThat(s.failure("status_503", null)).isTrue();
        assertThat(ejectedForMs(s)).as("the next outage starts at the base time").isBetween(1L, 200L);
    }

    @Test
    void a_retry_after_keeps_the_backend_out_for_exactly_that_long_and_is_not_an_ejection() {
        BackendState s = new BackendState("http://b:1", new BackendState.OutlierPolicy(1, 60000, 300000));
        assertThat(s.failure("status_429", 2L)).isTrue();
        assertThat(ejectedForMs(s)).isBetween(1000L, 2000L);
        assertThat(s.describe().get("status")).isEqualTo("retry_after");
        assertThat(s.describe().get("ejections")).isEqualTo(0);
    }

    @Test
    void retry_after_is_honoured_but_capped_at_the_longest_ejection() {
        BackendState s = new BackendState("http://b:1", new BackendState.OutlierPolicy(100, 200, 5000));
        assertThat(s.failure("status_429", 86400L)).isTrue();
        assertThat(ejectedForMs(s)).isBetween(4000L, 5000L);
    }

    @Test
    void an_answer_to_a_request_sent_before_the_backend_was_taken_out_does_not_bring_it_back() {
        BackendState s = new BackendState("http://b:1", new BackendState.OutlierPolicy(1, 60000, 300000));
        long sentBefore = System.nanoTime();
        assertThat(s.failure("status_429", 30L)).isTrue();
        s.success(sentBefore); // a long generation that started earlier finishes
        assertThat(s.available()).as("still waiting out its Retry-After").isFalse();
        s.success(System.nanoTime()); // a request sent since (a breaker's trial) answers
        assertThat(s.available()).isTrue();
    }
}
