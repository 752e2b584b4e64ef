package io.github.camelllmrouter;

import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.camelllmrouter.access.KeysFile;
import io.github.camelllmrouter.demo.FakeOpenAiBackend;
import io.lettuce.core.RedisClient;
import io.lettuce.core.api.StatefulRedisConnection;
import io.vertx.core.Vertx;
import io.vertx.core.net.NetServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Three replicas of the fat jar on loopback share one key's limit through a real Redis server (Debian's
 * redis-server, which .ci/run installs): traffic spread over the three gets no more than the limit. With Redis
 * gone, they keep serving on their own limits and say so; when it is back, they share again.
 */
class SharedLimitsIT {

    static final Path JAR = Path.of("target/camel-llm-router.jar").toAbsolutePath();
    static final String KEY = "sk-shared-limit-key";
    static final ObjectMapper JSON = new ObjectMapper();
    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    final List<Process> processes = new ArrayList<>();
    final Vertx vertx = Vertx.vertx();
    Process redis;

    @AfterEach
    void stop() {
        processes.forEach(Process::destroy);
        if (redis != null) {
            redis.destroy();
        }
        vertx.close();
    }

    Process redis(Path dir, int port) throws Exception {
        String server = Files.isExecutable(Path.of("/usr/bin/redis-server")) ? "/usr/bin/redis-server" : "redis-server";
        Process p = new ProcessBuilder(server, "--port", Integer.toString(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", dir.toString()).redirectErrorStream(true)
                .redirectOutput(dir.resolve("redis-" + port + ".log").toFile()).start();
        await().atMost(10, TimeUnit.SECONDS).pollInterval(Duration.ofMillis(50)).ignoreExceptions().until(() -> {
            try (Socket s = new Socket("127.0.0.1", port)) {
                return true;
            }
        });
        return p;
    }

    /**
     * A TCP relay to Redis that holds back Redis's first answer on each connection by {@code delayMs}: a connection
     * whose handshake takes longer than a command's timeout (a busy machine, a far Redis).
     */
    int slowHandshake(int redisPort, long delayMs) throws Exception {
        NetServer server = vertx.createNetServer().connectHandler(in -> {
            in.pause();
            vertx.createNetClient().connect(redisPort, "127.0.0.1").onSuccess(out -> {
                boolean[] first = {true};
                out.handler(b -> {
                    if (first[0]) {
                        first[0] = false;
                        out.pause();
                        vertx.setTimer(delayMs, t -> {
                            in.write(b);
                            out.resume();
                        });
                    } else {
                        in.write(b);
                    }
                });
                in.handler(out::write);
                in.closeHandler(v -> out.close());
                out.closeHandler(v -> in.close());
                in.resume();
            }).onFailure(e -> in.close());
        });
        return server.listen(0, "127.0.0.1").toCompletionStage().toCompletableFuture().get(10, TimeUnit.SECONDS).actualPort();
    }

    int router(Path dir, String backend, Path keys, int redisPort) throws Exception {
        int port = RouterFixture.freePort();
        List<String> cmd = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m", "-jar",
                JAR.toString(), "--port", Integer.toString(port), "--host", "127.0.0.1", "--static-backends", backend,
                "--static-models", "m-a", "--api-keys-file", keys.toString(),
                "--rate-limit-redis-url", "redis://127.0.0.1:" + redisPort, "--engine-stats-interval", "0");
        processes.add(new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(dir.resolve("router-" + port + ".log").toFile()).start());
        return port;
    }

    void awaitUp(int port) {
        RouterFixture.awaitUp(http, port);
    }

    CompletableFuture<HttpResponse<String>> chat(int port) {
        return http.sendAsync(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/chat/completions"))
                .header("Content-Type", "application/json").header("Authorization", "Bearer " + KEY)
                .POST(HttpRequest.BodyPublishers.ofString(RouterFixture.chat("m-a"))).build(), HttpResponse.BodyHandlers.ofString());
    }

    /** 10 rounds of one request to each replica at once: how many got 200, and every status seen. */
    List<Integer> spread(int[] ports, int rounds) throws Exception {
        List<Integer> statuses = new ArrayList<>();
        for (int i = 0; i < rounds; i++) {
            List<CompletableFuture<HttpResponse<String>>> round = new ArrayList<>();
            for (int port : ports) {
                round.add(chat(port));
            }
            for (CompletableFuture<HttpResponse<String>> r : round) {
                statuses.add(r.get(30, TimeUnit.SECONDS).statusCode());
            }
        }
        return statuses;
    }

    String health(int port) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/health")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
    }

    @Test
    void three_replicas_share_one_keys_limit_through_redis_and_serve_on_alone_while_it_is_gone(@TempDir Path dir)
            throws Exception {
        int redisPort = RouterFixture.freePort();
        redis = redis(dir, redisPort);
        FakeOpenAiBackend backend = new FakeOpenAiBackend(vertx, "b1", "m-a");
        backend.start(0);
        Path keys = dir.resolve("keys.yaml");
        Files.writeString(keys, "keys:\n  - name: shared\n    sha256: " + KeysFile.sha256(KEY)
                + "\n    limits: { requests_per_minute: 10 }\n");
        int[] ports = {router(dir, backend.url(), keys, redisPort), router(dir, backend.url(), keys, redisPort),
                router(dir, backend.url(), keys, redisPort)};
        for (int port : ports) {
            awaitUp(port);
        }

        List<Integer> statuses = spread(ports, 10);
        assertThat(statuses).as("30 requests over 3 replicas, 10 per minute for the key").containsOnly(200, 429);
        assertThat(statuses.stream().filter(s -> s == 200).count()).isEqualTo(10);
        assertThat(backend.count()).isEqualTo(10);
        for (int port : ports) {
            assertThat(JSON.readTree(health(port)).path("rate_limits").path("status").asText()).isEqualTo("ok");
        }

        // Redis goes away: each replica serves on, counting alone (its own 10), and says so
        redis.destroy();
        redis.waitFor(10, TimeUnit.SECONDS);
        for (int port : ports) {
            await().atMost(10, TimeUnit.SECONDS).pollInterval(Duration.ofMillis(200)).until(() ->
                    JSON.readTree(health(port)).path("rate_limits").path("status").asText().equals("degraded"));
        }
        List<Integer> alone = spread(ports, 4);
        assertThat(alone).as("fail open: served on per-replica limits").containsOnly(200);
        String metrics = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + ports[0] + "/metrics")).build(),
                HttpResponse.BodyHandlers.ofString()).body();
        assertThat(metrics).contains("llm_router_rate_limit_store_up{store=\"redis\"} 0.0");

        // and back: shared again (a new Redis has a new count: 10 more, over the three together)
        redis = redis(dir, redisPort);
        for (int port : ports) {
            await().atMost(15, TimeUnit.SECONDS).pollInterval(Duration.ofMillis(200)).until(() ->
                    JSON.readTree(health(port)).path("rate_limits").path("status").asText().equals("ok"));
        }
        List<Integer> again = spread(ports, 10);
        assertThat(again.stream().filter(s -> s == 200).count()).isEqualTo(10);
    }

    @Test
    void a_redis_whose_handshake_takes_longer_than_a_commands_timeout_is_shared_from_the_start(@TempDir Path dir)
            throws Exception {
        int redisPort = RouterFixture.freePort();
        redis = redis(dir, redisPort);
        int slow = slowHandshake(redisPort, 700);
        FakeOpenAiBackend backend = new FakeOpenAiBackend(vertx, "b1", "m-a");
        backend.start(0);
        Path keys = dir.resolve("keys.yaml");
        Files.writeString(keys, "keys:\n  - name: shared\n    sha256: " + KeysFile.sha256(KEY)
                + "\n    limits: { requests_per_minute: 10 }\n");
        // commands time out after 250 ms (the default); the handshake takes 700 ms
        int port = router(dir, backend.url(), keys, slow);
        awaitUp(port);
        await().atMost(5, TimeUnit.SECONDS).pollInterval(Duration.ofMillis(200)).untilAsserted(() ->
                assertThat(JSON.readTree(health(port)).path("rate_limits").path("status").asText()).isEqualTo("ok"));
        HttpResponse<String> answer = chat(port).get(30, TimeUnit.SECONDS);
        assertThat(answer.statusCode()).isEqualTo(200);
        assertThat(answer.headers().firstValue("x-ratelimit-remaining-requests")).hasValue("9");
        assertThat(backend.count()).isEqualTo(1);
        // counted in Redis, not by the replica alone
        RedisClient client = RedisClient.create("redis://127.0.0.1:" + redisPort);
        try (StatefulRedisConnection<String, String> c = client.connect()) {
            assertThat(c.sync().keys("llm-router:rate:key:shared:*")).isNotEmpty();
        } finally {
            client.shutdown();
        }
    }
}
