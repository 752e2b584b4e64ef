package io.github.camelllmrouter;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import io.github.camelllmrouter.backend.HashRing;
import io.github.camelllmrouter.demo.FakeOpenAiBackend;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** --routing-logic session --session-key: consistent hashing, measured over thousands of keys and over HTTP. */
class SessionRoutingTest {

    static final List<String> URLS = List.of("http://10.0.0.1:8000", "http://10.0.0.2:8000", "http://10.0.0.3:8000",
            "http://10.0.0.4:8000");
    final RouterFixture f = new RouterFixture();

    @AfterEach
    void stop() {
        f.close();
    }

    static Map<String, String> assign(List<String> urls, int keys) {
        HashRing ring = new HashRing(urls, Collections.nCopies(urls.size(), 1));
        Map<String, String> owner = new HashMap<>();
        for (int k = 0; k < keys; k++) {
            owner.put("session-" + k, urls.get(ring.pick("session-" + k, i -> true)));
        }
        return owner;
    }

    @Test
    void keys_spread_evenly_and_removing_one_of_n_backends_moves_only_its_keys() {
        int keys = 20000;
        Map<String, String> before = assign(URLS, keys);
        Map<String, Long> share = new HashMap<>();
        before.values().forEach(u -> share.merge(u, 1L, Long::sum));
        assertThat(share.values()).allSatisfy(n -> assertThat(n).isBetween(keys / 4 - keys / 16L, keys / 4 + keys / 16L));

        List<String> without = new ArrayList<>(URLS);
        without.remove("http://10.0.0.3:8000");
        Map<String, String> after = assign(without, keys);
        long moved = before.keySet().stream().filter(k -> !before.get(k).equals(after.get(k))).count();
        assertThat(before.keySet().stream().filter(k -> !before.get(k).equals(after.get(k))))
                .allMatch(k -> before.get(k).equals("http://10.0.0.3:8000"));
        assertThat((double) moved / keys).isBetween(0.25 - 0.06, 0.25 + 0.06);
    }

    @Test
    void every_replica_makes_the_same_choice_whatever_the_order_of_its_backends() {
        List<String> shuffled = new ArrayList<>(URLS);
        Collections.reverse(shuffled);
        assertThat(assign(shuffled, 5000)).isEqualTo(assign(URLS, 5000));
    }

    @Test
    void a_session_sticks_to_its_backend_moves_when_it_is_down_and_comes_back_after() throws Exception {
        FakeOpenAiBackend[] b = {f.backend("s1", "m-a"), f.backend("s2", "m-a"), f.backend("s3", "m-a")};
        f.start(Map.of("camel.component.llm.eject-consecutive-failures", "1", "camel.component.llm.eject-base-ms", "300"),
                "--static-backends", b[0].url() + "," + b[1].url() + "," + b[2].url(), "--static-models", "m-a,m-a,m-a",
                "--routing-logic", "session", "--session-key", "x-session-id");
        Map<String, String> home = new HashMap<>();
        for (int s = 0; s < 30; s++) {
            String key = "user-" + s;
            String first = servedBy(key);
            for (int i = 0; i < 3; i++) {
                assertThat(servedBy(key)).isEqualTo(first);
            }
            home.put(key, first);
        }
        assertThat(new HashSet<>(home.values())).as("30 sessions use every backend").hasSize(3);

        String key = "user-7";
        FakeOpenAiBackend owner = Arrays.stream(b).filter(x -> x.name().equals(home.get(key))).findFirst().orElseThrow();
        int port = owner.port();
        owner.stop();
        String moved = servedBy(key);
        assertThat(moved).isNotEqualTo(owner.name());
        for (int i = 0; i < 3; i++) {
            assertThat(servedBy(key)).isEqualTo(moved);
        }
        // sessions of the other backends did not move
        home.forEach((k, served) -> {
            if (!served.equals(owner.name())) {
                assertThat(servedByUnchecked(k)).isEqualTo(served);
            }
        });
        owner.start(port);
        await().atMost(10, TimeUnit.SECONDS).until(() -> servedBy(key).equals(owner.name()));

        // no session header: round robin
        List<String> anonymous = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            anonymous.add(f.post("/v1/chat/completions", RouterFixture.chat("m-a")).headers().firstValue("x-served-by").orElseThrow());
        }
        assertThat(anonymous).containsExactlyInAnyOrder("s1", "s2", "s3");
    }

    String servedBy(String session) throws Exception {
        var r = f.post("/v1/chat/completions", RouterFixture.chat("m-a"), "x-session-id", session);
        assertThat(r.statusCode()).isEqualTo(200);
        return r.headers().firstValue("x-served-by").orElseThrow();
    }

    String servedByUnchecked(String session) {
        try {
            return servedBy(session);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
