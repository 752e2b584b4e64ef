package io.github.camelllmrouter;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** target/camel-llm-router.jar run with java -jar, as the README tells a user to. */
class FatJarIT {

    static final Path JAR = Path.of("target/camel-llm-router.jar").toAbsolutePath();
    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    final List<Process> processes = new ArrayList<>();

    @AfterEach
    void stop() {
        processes.forEach(Process::destroy);
    }

    Process java(Path dir, String... args) throws Exception {
        return java(dir, Map.of(), args);
    }

    Process java(Path dir, Map<String, String> env, String... args) throws Exception {
        Process p = RouterFixture.launch(dir, dir.resolve("out-" + processes.size() + ".log"), env, args);
        processes.add(p);
        return p;
    }

    void awaitUp(int port) {
        RouterFixture.awaitUp(http, port);
    }

    HttpResponse<String> chat(int port, String model) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/chat/completions"))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(RouterFixture.chat(model))).build(), HttpResponse.BodyHandlers.ofString());
    }

    List<Long> streamArrivals(int port, String model) throws Exception {
        long t0 = System.nanoTime();
        HttpResponse<InputStream> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/chat/completions"))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(RouterFixture.streamChat(model))).build(), HttpResponse.BodyHandlers.ofInputStream());
        List<Long> at = new ArrayList<>();
        String last = null;
        try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = in.readLine()) != null) {
                if (line.startsWith("data:")) {
                    at.add(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
                    last = line;
                }
            }
        }
        assertThat(last).isEqualTo("data: [DONE]");
        return at;
    }

    @Test
    void serves_two_models_an_alias_and_streams_with_the_vllm_flags(@TempDir Path dir) throws Exception {
        assertThat(JAR).exists();
        int p1 = RouterFixture.freePort();
        int p2 = RouterFixture.freePort();
        int port = RouterFixture.freePort();
        java(dir, "-cp", JAR.toString(), "io.github.camelllmrouter.demo.FakeBackendMain", "--port", "" + p1, "--name", "b1",
                "--models", "m-a", "--chunks", "10", "--chunk-delay-ms", "100");
        java(dir, "-cp", JAR.toString(), "io.github.camelllmrouter.demo.FakeBackendMain", "--port", "" + p2, "--name", "b2",
                "--models", "m-b");
        java(dir, "-jar", JAR.toString(), "--port", "" + port, "--service-discovery", "static",
                "--static-backends", "http://127.0.0.1:" + p1 + ",http://127.0.0.1:" + p2,
                "--static-models", "m-a,m-b", "--static-aliases", "alias-x:m-a", "--static-model-types", "chat,chat",
                "--routing-logic", "roundrobin",
                // tracing on, towards a collector that is not there: spans are dropped, requests still served
                "--otel-endpoint", "http://127.0.0.1:1", "--otel-service-name", "router-it");
        awaitUp(port);
        assertThat(chat(port, "m-a").headers().firstValue("x-served-by")).contains("b1");
        assertThat(chat(port, "m-b").headers().firstValue("x-served-by")).contains("b2");
        HttpResponse<String> alias = chat(port, "alias-x");
        assertThat(alias.headers().firstValue("x-served-by")).contains("b1");
        assertThat(alias.body()).contains("\"model\":\"m-a\"");
        List<Long> at = streamArrivals(port, "m-a");
        assertThat(at).hasSize(11);
        assertThat(at.get(9) - at.get(0)).as("chunks arrive as generated: %s", at).isGreaterThan(700);
    }

    @Test
    void answers_out_of_the_box_on_demo_backends_from_any_directory(@TempDir Path dir) throws Exception {
        int port = RouterFixture.freePort();
        java(dir, "-jar", JAR.toString(), "--port", "" + port, "--log-format", "json");
        awaitUp(port);
        HttpResponse<String> r = chat(port, "demo");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).contains("demo-small");
        // --log-format json: every log line is a JSON object, the access-log line included
        Path log = dir.resolve("out-0.log");
        await().atMost(10, TimeUnit.SECONDS).until(() -> Files.readString(log).contains("model_requested"));
        List<String> lines = Files.readAllLines(log).stream().filter(l -> l.startsWith("{")).toList();
        assertThat(lines).isNotEmpty();
        for (String line : lines) {
            new ObjectMapper().readTree(line);
        }
        assertThat(streamArrivals(port, "demo-large")).hasSizeGreaterThan(2);
        assertThat(Files.list(dir).map(Path::getFileName).map(Path::toString)).noneMatch(n -> n.equals("routes"));
    }

    @Test
    void the_demo_is_served_from_routes_demo_models_and_an_edit_of_it_applies_within_two_seconds(@TempDir Path dir)
            throws Exception {
        // a fresh clone's layout: routes/ with the API route and the demo's model routes, no backends configured
        Path routes = Files.createDirectories(dir.resolve("routes"));
        Files.copy(Path.of("routes/openai-api.camel.yaml"), routes.resolve("openai-api.camel.yaml"));
        Path demo = routes.resolve("demo-models.camel.yaml");
        Files.copy(Path.of("routes/demo-models.camel.yaml"), demo);
        int port = RouterFixture.freePort();
        java(dir, "-jar", JAR.toString(), "--port", "" + port);
        awaitUp(port);
        Set<String> before = new HashSet<>();
        for (int i = 0; i < 4; i++) {
            before.add(chat(port, "demo-small").headers().firstValue("x-served-by").orElse("?"));
        }
        assertThat(before).containsExactlyInAnyOrder("demo-backend-1", "demo-backend-2");
        HttpResponse<String> large = chat(port, "demo-large");
        assertThat(large.headers().firstValue("x-served-by")).contains("demo-backend-3");

        // the README's edits: a weight, then demo-large pointed at a backend that is not there
        Files.writeString(demo, Files.readString(demo).replace("demo-backend-2}}?weight=1", "demo-backend-2}}?weight=0"));
        await().atMost(2, TimeUnit.SECONDS).pollInterval(Duration.ofMillis(20)).until(() -> {
            for (int i = 0; i < 4; i++) {
                if (!chat(port, "demo-small").headers().firstValue("x-served-by").orElse("").equals("demo-backend-1")) {
                    return false;
                }
            }
            return true;
        });
        Files.writeString(demo, Files.readString(demo).replace("llm:{{router.demo-backend-3}}", "llm:http://127.0.0.1:9"));
        await().atMost(2, TimeUnit.SECONDS).pollInterval(Duration.ofMillis(20)).until(() ->
                chat(port, "demo-large").headers().firstValue("x-llm-router-fallback-from").orElse("").equals("demo-large"));
        HttpResponse<String> fellBack = chat(port, "demo-large");
        assertThat(fellBack.headers().firstValue("x-llm-router-model")).contains("demo-small");
        assertThat(fellBack.body()).contains("\"model\":\"demo-small\"");
    }

    @Test
    void with_backends_configured_the_demo_file_is_ignored(@TempDir Path dir) throws Exception {
        Path routes = Files.createDirectories(dir.resolve("routes"));
        Files.copy(Path.of("routes/openai-api.camel.yaml"), routes.resolve("openai-api.camel.yaml"));
        Files.copy(Path.of("routes/demo-models.camel.yaml"), routes.resolve("demo-models.camel.yaml"));
        int p1 = RouterFixture.freePort();
        int port = RouterFixture.freePort();
        java(dir, "-cp", JAR.toString(), "io.github.camelllmrouter.demo.FakeBackendMain", "--port", "" + p1, "--name", "b1", "--models", "m-a");
        java(dir, "-jar", JAR.toString(), "--port", "" + port, "--static-backends", "http://127.0.0.1:" + p1, "--static-models", "m-a");
        awaitUp(port);
        assertThat(chat(port, "m-a").headers().firstValue("x-served-by")).contains("b1");
        assertThat(chat(port, "demo").statusCode()).isEqualTo(404);
        HttpResponse<String> health = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/health")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(health.body()).doesNotContain("demo-models").contains("\"failed\":0");
    }

    @Test
    void startup_says_what_a_user_needs_in_a_few_lines_and_camels_summary_only_at_debug(@TempDir Path dir) throws Exception {
        int p1 = RouterFixture.freePort();
        java(dir, "-cp", JAR.toString(), "io.github.camelllmrouter.demo.FakeBackendMain", "--port", "" + p1, "--name", "b1", "--models", "m-a");
        int port = RouterFixture.freePort();
        Process router = java(dir, "-jar", JAR.toString(), "--host", "127.0.0.1", "--port", "" + port, "--static-backends",
                "http://127.0.0.1:" + p1 + ",http://127.0.0.1:" + p1, "--static-models", "m-a,m-b", "--static-fallback-models", "m-a:m-b");
        awaitUp(port);
        Path log = dir.resolve("out-1.log");
        await().atMost(10, TimeUnit.SECONDS).until(() -> Files.readString(log).contains("discovery:"));
        List<String> lines = Files.readAllLines(log).stream().filter(l -> !l.isBlank() && !l.startsWith("WARNING:")).toList();
        assertThat(lines).as("the whole startup output:%n%s", String.join("\n", lines)).hasSizeLessThanOrEqualTo(6);
        String text = String.join("\n", lines);
        assertThat(text).contains("camel-llm-router ").contains("listening on http://127.0.0.1:" + port)
                .contains("model m-a: http://127.0.0.1:" + p1).contains("falls back to m-b").contains("discovery: static")
                .doesNotContain("Auto-configuration summary");
        router.destroy();
        router.waitFor(30, TimeUnit.SECONDS);

        int debugPort = RouterFixture.freePort();
        java(dir, "-jar", JAR.toString(), "--host", "127.0.0.1", "--port", "" + debugPort, "--log-level", "debug",
                "--static-backends", "http://127.0.0.1:" + p1, "--static-models", "m-a");
        awaitUp(debugPort);
        assertThat(Files.readString(dir.resolve("out-2.log"))).contains("Auto-configuration summary");
    }

    @Test
    void the_environment_never_changes_the_configuration(@TempDir Path dir) throws Exception {
        int p1 = RouterFixture.freePort();
        java(dir, "-cp", JAR.toString(), "io.github.camelllmrouter.demo.FakeBackendMain", "--port", "" + p1, "--name", "b1", "--models", "m-a");
        int port = RouterFixture.freePort();
        // what Kubernetes injects into every pod of a namespace with a Service named "router"
        java(dir, Map.of("ROUTER_PORT", "tcp://10.96.0.5:80", "ROUTER_HOST", "10.96.0.5", "ROUTER_SERVICE_PORT", "80",
                        "ROUTER_STATIC_BACKENDS", "http://10.96.0.9:1", "ROUTER_DEMO", "true"),
                "-jar", JAR.toString(), "--host", "127.0.0.1", "--port", "" + port,
                "--static-backends", "http://127.0.0.1:" + p1, "--static-models", "m-a");
        awaitUp(port);
        HttpResponse<String> r = chat(port, "m-a");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("x-served-by")).contains("b1");
        assertThat(chat(port, "demo").statusCode()).isEqualTo(404);
    }

    @Test
    void streams_that_finish_during_shutdown_are_in_the_access_log(@TempDir Path dir) throws Exception {
        int p1 = RouterFixture.freePort();
        java(dir, "-cp", JAR.toString(), "io.github.camelllmrouter.demo.FakeBackendMain", "--port", "" + p1, "--name", "b1",
                "--models", "m-a", "--chunks", "15", "--chunk-delay-ms", "200");
        int port = RouterFixture.freePort();
        Process router = java(dir, "-jar", JAR.toString(), "--host", "127.0.0.1", "--port", "" + port,
                "--static-backends", "http://127.0.0.1:" + p1, "--static-models", "m-a");
        awaitUp(port);
        awaitUp(p1);
        List<CompletableFuture<String>> streams = new ArrayList<>();
        List<CountDownLatch> started = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            String id = "shutdown-" + i;
            CountDownLatch first = new CountDownLatch(1);
            started.add(first);
            streams.add(CompletableFuture.supplyAsync(() -> {
                try {
                    HttpResponse<InputStream> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/chat/completions"))
                            .header("Content-Type", "application/json").header("x-request-id", id)
                            .POST(HttpRequest.BodyPublishers.ofString(RouterFixture.streamChat("m-a"))).build(), HttpResponse.BodyHandlers.ofInputStream());
                    StringBuilder all = new StringBuilder();
                    try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
                        for (String line = in.readLine(); line != null; line = in.readLine()) {
                            first.countDown();
                            all.append(line).append('\n');
                        }
                    }
                    return all.toString();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }));
        }
        for (CountDownLatch first : started) {
            assertThat(first.await(20, TimeUnit.SECONDS)).isTrue();
        }
        router.destroy(); // SIGTERM while the ten streams are in flight
        for (CompletableFuture<String> stream : streams) {
            assertThat(stream.get(30, TimeUnit.SECONDS)).contains("data: [DONE]");
        }
        assertThat(router.waitFor(30, TimeUnit.SECONDS)).isTrue();
        String log = Files.readString(dir.resolve("out-1.log"));
        for (int i = 0; i < 10; i++) {
            assertThat(log).as("access line of stream %d", i).containsPattern("request_id=shutdown-" + i + " .*outcome=success");
        }
    }

    @Test
    void in_the_fat_jar_a_saved_route_file_changes_routing_within_two_seconds(@TempDir Path dir) throws Exception {
        int p1 = RouterFixture.freePort();
        int p2 = RouterFixture.freePort();
        int port = RouterFixture.freePort();
        java(dir, "-cp", JAR.toString(), "io.github.camelllmrouter.demo.FakeBackendMain", "--port", "" + p1, "--name", "b1", "--models", "m-live");
        java(dir, "-cp", JAR.toString(), "io.github.camelllmrouter.demo.FakeBackendMain", "--port", "" + p2, "--name", "b2", "--models", "m-live");
        // a working directory as a user has it: routes/ beside the jar's defaults, watched
        Path routes = Files.createDirectories(dir.resolve("routes"));
        Files.copy(Path.of("routes/openai-api.camel.yaml"), routes.resolve("openai-api.camel.yaml"));
        Path file = routes.resolve("m-live.camel.yaml");
        Files.writeString(file, LiveRoutesTest.route("m-live", null, "http://127.0.0.1:" + p1 + "=1"));
        java(dir, "-jar", JAR.toString(), "--port", "" + port, "--static-backends", "http://127.0.0.1:" + p1,
                "--static-models", "m-other");
        awaitUp(port);
        awaitUp(p1);
        awaitUp(p2);
        assertThat(chat(port, "m-live").headers().firstValue("x-served-by")).contains("b1");

        Files.writeString(file, LiveRoutesTest.route("m-live", null, "http://127.0.0.1:" + p1 + "=0", "http://127.0.0.1:" + p2 + "=1"));
        await().atMost(2, TimeUnit.SECONDS).pollInterval(Duration.ofMillis(20))
                .until(() -> chat(port, "m-live").headers().firstValue("x-served-by").orElse("").equals("b2"));
        Files.delete(file);
        await().atMost(2, TimeUnit.SECONDS).pollInterval(Duration.ofMillis(20)).until(() -> chat(port, "m-live").statusCode() == 404);
        assertThat(chat(port, "m-other").statusCode()).isEqualTo(200);
    }

    /**
     * The official OpenAI Node SDK (pinned in src/test/openai-node) against the fat jar: models, an alias, a stream
     * that arrives chunk by chunk, completions, embeddings, its error classes, then the fallback with a backend down.
     */
    @Test
    void the_official_openai_client_gets_answers_streams_errors_and_the_fallback(@TempDir Path dir) throws Exception {
        Path client = Path.of("target/openai-node").toAbsolutePath();
        Files.createDirectories(client);
        for (String f : List.of("package.json", "package-lock.json", "check.mjs")) {
            Files.copy(Path.of("src/test/openai-node", f), client.resolve(f), StandardCopyOption.REPLACE_EXISTING);
        }
        Assumptions.assumeTrue(new ProcessBuilder("node", "--version").start().waitFor() == 0,
                "Node.js is not installed");
        run(client, "npm", "ci", "--no-audit", "--no-fund"); // exactly the lock file's packages, from the npm registry
        int p1 = RouterFixture.freePort();
        int p2 = RouterFixture.freePort();
        int port = RouterFixture.freePort();
        Process b1 = java(dir, "-cp", JAR.toString(), "io.github.camelllmrouter.demo.FakeBackendMain", "--port", "" + p1,
                "--name", "b1", "--models", "m-a", "--chunks", "10", "--chunk-delay-ms", "100");
        java(dir, "-cp", JAR.toString(), "io.github.camelllmrouter.demo.FakeBackendMain", "--port", "" + p2,
                "--name", "b2", "--models", "m-b");
        java(dir, "-jar", JAR.toString(), "--port", "" + port, "--static-backends",
                "http://127.0.0.1:" + p1 + ",http://127.0.0.1:" + p2, "--static-models", "m-a,m-b",
                "--static-aliases", "fast:m-a", "--static-fallback-models", "m-a:m-b");
        awaitUp(port);
        awaitUp(p1);
        awaitUp(p2);
        String base = "http://127.0.0.1:" + port + "/v1";
        run(client, "node", "check.mjs", base, "serve");
        b1.destroy();
        b1.waitFor();
        run(client, "node", "check.mjs", base, "fallback");
    }

    /** Runs a command to its end (at most 3 minutes); fails with its output unless it exits with 0. */
    static void run(Path dir, String... cmd) throws Exception {
        Path out = Files.createTempFile(dir, "run-", ".log");
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).redirectOutput(out.toFile()).start();
        if (!p.waitFor(3, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new AssertionError(String.join(" ", cmd) + " took more than 3 minutes:\n" + Files.readString(out));
        }
        assertThat(p.exitValue()).as("%s said:%n%s", String.join(" ", cmd), Files.readString(out)).isZero();
    }
}
