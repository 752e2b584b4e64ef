package io.github.camelllmrouter;

import java.time.Duration;

import io.github.camelllmrouter.backend.BackendState;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** Outlier ejection: the ejection time grows with repeat ejections and shrinks again while healthy. */
class BackendStateTest {

    static long ejectedForMs(BackendState s) {
        Object v = s.describe().get("ejected_for_ms");
        return v == null ? 0 : ((Number) v).longValue();
    }

    @Test
    void ejection_time_grows_on_repeat_and_shrinks_after_staying_healthy() {
        BackendState s = new BackendState("http://b:1", new BackendState.OutlierPolicy(1, 200, 10000));
        assertThat(s.failure("status_503", null)).isTrue();
        assertThat(ejectedForMs(s)).isBetween(1L, 200L);
        await().atMost(Duration.ofSeconds(5)).until(s::available);
        s.success();
        assertThat(s.failure("status_503", null)).isTrue();
        assertThat(ejectedForMs(s)).as("second ejection: twice the base").isBetween(201L, 400L);
        await().atMost(Duration.ofSeconds(5)).until(s::available);
        s.success();
        // healthy for more than two base times: the multiplier comes back down
        await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(50)).until(() -> {
            s.success();
            return s.describe().get("ejections").equals(0);
        });
        assertThat(s.failure("status_503", null)).isTrue();
        assertThat(ejectedForMs(s)).as("back to the base time").isBetween(1L, 200L);
    }

    @Test
    void retry_after_is_honoured_but_capped_at_the_longest_ejection() {
        BackendState s = new BackendState("http://b:1", new BackendState.OutlierPolicy(100, 200, 5000));
        assertThat(s.failure("status_429", 86400L)).isTrue();
        assertThat(ejectedForMs(s)).isBetween(4000L, 5000L);
    }
}
