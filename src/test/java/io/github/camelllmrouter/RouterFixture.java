package io.github.camelllmrouter;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import io.github.camelllmrouter.demo.FakeOpenAiBackend;
import io.vertx.core.Vertx;

import static org.awaitility.Awaitility.await;

/**
 * A router started from the real config/ and routes/ with vLLM-style flags, in front of fake OpenAI backends
 * that record what they receive and say who served.
 */
public final class RouterFixture implements AutoCloseable {

    public final Vertx vertx = Vertx.vertx();
    public final List<FakeOpenAiBackend> backends = new ArrayList<>();
    public final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    public RouterMain router;
    public int port;

    public FakeOpenAiBackend backend(String name, String... models) {
        FakeOpenAiBackend b = new FakeOpenAiBackend(vertx, name, models);
        b.start(0);
        backends.add(b);
        return b;
    }

    public RouterFixture start(Map<String, String> config, String... flags) throws Exception {
        port = freePort();
        List<String> args = new ArrayList<>(List.of("--port", Integer.toString(port), "--host", "127.0.0.1"));
        args.addAll(List.of(flags));
        // no engine scrapes unless a test asks (--engine-stats-interval): they would count as backend requests
        Map<String, String> withDefaults = new HashMap<>(Map.of("router.engine-stats-interval", "0"));
        withDefaults.putAll(config);
        router = RouterMain.start(withDefaults, args.toArray(new String[0]));
        return this;
    }

    /** Backends a1, a2 serving m-a and b1 serving m-b, with m-b as m-a's fallback. */
    public FakeOpenAiBackend[] startWithFallback() throws Exception {
        FakeOpenAiBackend a1 = backend("a1", "m-a");
        FakeOpenAiBackend a2 = backend("a2", "m-a");
        FakeOpenAiBackend b1 = backend("b1", "m-b");
        start(Map.of(), "--static-backends", a1.url() + "," + a2.url() + "," + b1.url(), "--static-models", "m-a,m-a,m-b",
                "--static-fallback-models", "m-a:m-b");
        return new FakeOpenAiBackend[] {a1, a2, b1};
    }

    public URI uri(String path) {
        return URI.create("http://127.0.0.1:" + port + path);
    }

    public HttpResponse<String> post(String path, String body, String... headers) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body));
        if (headers.length > 0) {
            b.headers(headers);
        }
        return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    public HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(30)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    /** Who answered a chat request for {@code model}: the backend's name, or "status N" for an error. */
    public String servedBy(String model, String... headers) {
        try {
            HttpResponse<String> r = post("/v1/chat/completions", chat(model), headers);
            return r.statusCode() == 200 ? r.headers().firstValue("x-served-by").orElse("?") : "status " + r.statusCode();
        } catch (Exception e) {
            return e.toString();
        }
    }

    public static String chat(String model) {
        return "{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    }

    public static String streamChat(String model) {
        return "{\"model\":\"" + model + "\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    }

    /** A hand-written model route, as a user puts in routes/: one backend, and an optional fallback model. */
    public static String modelRouteYaml(String model, String backendUrl, String fallback) {
        String yaml = "- route:\n"
                + "    id: \"model-" + model + "\"\n"
                + "    from:\n"
                + "      uri: \"model:" + model + "\"\n"
                + "      steps:\n"
                + "        - circuitBreaker:\n"
                + "            steps:\n"
                + "              - loadBalance:\n"
                + "                  customLoadBalancer:\n"
                + "                    ref: \"#class:io.github.camelllmrouter.backend.BackendBalancer\"\n"
                + "                  steps:\n"
                + "                    - to: \"llm:" + backendUrl + "?weight=1\"\n";
        if (fallback != null) {
            yaml += "            onFallback:\n"
                    + "              steps:\n"
                    + "                - bean:\n"
                    + "                    ref: llm\n"
                    + "                    method: \"fallback(${exchange}, '" + fallback + "')\"\n"
                    + "                - to: \"model:" + fallback + "\"\n";
        }
        return yaml;
    }

    /** A java process (the fat jar, a fake backend) with its output in {@code log}. */
    public static Process launch(Path dir, Path log, Map<String, String> env, String... args)
            throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder builder = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile());
        builder.environment().putAll(env);
        return builder.start();
    }

    /** Waits until a router (or fake backend) on this port answers /health with 200. */
    public static void awaitUp(HttpClient http, int port) {
        await().atMost(60, TimeUnit.SECONDS).pollInterval(Duration.ofMillis(200))
                .ignoreExceptions().until(() -> http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/health"))
                        .build(), HttpResponse.BodyHandlers.ofString()).statusCode() == 200);
    }

    public static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @Override
    public void close() {
        if (router != null) {
            router.stop();
        }
        backends.forEach(FakeOpenAiBackend::stop);
        vertx.close();
    }
}
