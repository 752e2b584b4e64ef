package io.github.camelllmrouter;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import io.github.camelllmrouter.demo.FakeOpenAiBackend;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** --routing-logic prefixaware --prefix-min-match-length: same prompt prefix, same backend, with bounded load. */
class PrefixAwareTest {

    final RouterFixture f = new RouterFixture();
    FakeOpenAiBackend[] b;

    @AfterEach
    void stop() {
        f.close();
    }

    static String body(String system, String user) {
        return "{\"model\":\"m-a\",\"messages\":[{\"role\":\"system\",\"content\":\"" + system + "\"},"
               + "{\"role\":\"user\",\"content\":\"" + user + "\"}]}";
    }

    String servedBy(String body) throws Exception {
        HttpResponse<String> r = f.post("/v1/chat/completions", body);
        assertThat(r.statusCode()).isEqualTo(200);
        return r.headers().firstValue("x-served-by").orElseThrow();
    }

    void start() throws Exception {
        b = new FakeOpenAiBackend[] {f.backend("p1", "m-a"), f.backend("p2", "m-a"), f.backend("p3", "m-a")};
        f.start(Map.of("camel.component.llm.first-byte-timeout-ms", "5000"),
                "--static-backends", b[0].url() + "," + b[1].url() + "," + b[2].url(), "--static-models", "m-a,m-a,m-a",
                "--routing-logic", "prefixaware", "--prefix-min-match-length", "64");
    }

    @Test
    void requests_sharing_a_prompt_prefix_reach_the_same_backend_and_prefixes_spread() throws Exception {
        start();
        Set<String> owners = new HashSet<>();
        for (int p = 0; p < 12; p++) {
            String system = "You are agent number " + p + ". Follow the house style guide and answer briefly, please.";
            String owner = servedBy(body(system, "first question"));
            for (int q = 0; q < 4; q++) {
                assertThat(servedBy(body(system, "follow-up " + q))).isEqualTo(owner);
            }
            owners.add(owner);
        }
        assertThat(owners).as("12 prefixes spread over the backends").hasSizeGreaterThan(1);
    }

    @Test
    void a_busy_owner_is_passed_over_so_one_hot_prefix_cannot_drown_it() throws Exception {
        start();
        String system = "A very popular system prompt shared by every user of one big application, long enough.";
        String owner = servedBy(body(system, "warm-up"));
        FakeOpenAiBackend ownerBackend = Arrays.stream(b).filter(x -> x.name().equals(owner)).findFirst().orElseThrow();
        ownerBackend.hang();
        CompletableFuture<HttpResponse<String>> stuck = f.http.sendAsync(HttpRequest.newBuilder(f.uri("/v1/chat/completions"))
                .timeout(Duration.ofSeconds(30)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body(system, "slow one"))).build(), HttpResponse.BodyHandlers.ofString());
        await().atMost(10, TimeUnit.SECONDS).until(() -> ownerBackend.activeRequests() == 1);
        HttpResponse<String> r = f.post("/v1/chat/completions", body(system, "while the owner is busy"));
        assertThat(r.headers().firstValue("x-served-by").orElseThrow()).isNotEqualTo(owner);
        assertThat(r.headers().firstValue("x-llm-router-attempts")).as("sent elsewhere at once, not after a timeout").contains("1");
        ownerBackend.healthy();
        stuck.get(30, TimeUnit.SECONDS);
    }
}
