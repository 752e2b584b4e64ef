package io.github.camelllmrouter;

import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.github.camelllmrouter.demo.FakeOpenAiBackend;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Backends over https://: a gateway, or a model server behind TLS. Its certificate is checked against the JVM's
 * CAs and those of camel.component.llm.tls-ca-file; a certificate nobody vouches for is refused with a clear
 * error, before the request leaves; tls-verify = false trusts any; HTTP/2 is offered by ALPN.
 */
class BackendTlsTest {

    @TempDir
    static Path dir;
    static Path keys;
    static Path ca;
    static Path otherKeys;
    static Path otherCa;

    final RouterFixture f = new RouterFixture();

    /** A self-signed certificate for 127.0.0.1 and localhost, and one for another name only. */
    @BeforeAll
    static void certificate() throws Exception {
        keys = dir.resolve("backend.p12");
        ca = dir.resolve("ca.pem");
        TestCertificates.selfSigned(keys, ca, "localhost", "ip:127.0.0.1,dns:localhost");
        assertThat(Files.readString(ca)).startsWith("-----BEGIN CERTIFICATE-----");
        otherKeys = dir.resolve("other.p12");
        otherCa = dir.resolve("other.pem");
        TestCertificates.selfSigned(otherKeys, otherCa, "other.example", "dns:other.example");
    }

    /** A fake backend serving HTTPS with the key store {@code keys}, started, and stopped after the test. */
    private FakeOpenAiBackend tlsBackend(String name, Path keys) {
        FakeOpenAiBackend b = new FakeOpenAiBackend(f.vertx, name, "m").tls(keys.toString(), TestCertificates.PASSWORD);
        b.start(0);
        f.backends.add(b);
        return b;
    }

    @AfterEach
    void stop() {
        f.close();
    }

    private FakeOpenAiBackend tlsBackend(Map<String, String> config) throws Exception {
        FakeOpenAiBackend b = tlsBackend("tls-1", keys);
        assertThat(b.url()).startsWith("https://127.0.0.1:");
        f.start(config, "--static-backends", b.url(), "--static-models", "m");
        return b;
    }

    @Test
    void a_backend_whose_certificate_a_ca_file_vouches_for_serves_answers_and_streams() throws Exception {
        FakeOpenAiBackend b = tlsBackend(Map.of("camel.component.llm.tls-ca-file", ca.toString()));
        HttpResponse<String> r = f.post("/v1/chat/completions", RouterFixture.chat("m"));
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(r.headers().firstValue("x-served-by")).contains("tls-1");
        assertThat(r.body()).contains("Hello from tls-1");
        assertThat(b.last().model()).isEqualTo("m");
        assertThat(b.last().version()).isEqualTo("HTTP/1.1");

        // the stream's first chunk comes through the TLS connection while the backend is still generating
        b.chunks(6).chunkDelayMs(300);
        long t0 = System.nanoTime();
        HttpResponse<InputStream> s = f.http.send(HttpRequest.newBuilder(f.uri("/v1/chat/completions"))
                .timeout(Duration.ofSeconds(30)).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(RouterFixture.streamChat("m"))).build(),
                HttpResponse.BodyHandlers.ofInputStream());
        assertThat(s.statusCode()).isEqualTo(200);
        try (BufferedReader in = new BufferedReader(new InputStreamReader(s.body(), StandardCharsets.UTF_8))) {
            String first = in.readLine();
            long firstMs = (System.nanoTime() - t0) / 1_000_000;
            assertThat(first).startsWith("data: {");
            assertThat(b.activeRequests()).as("the backend is still generating").isEqualTo(1);
            assertThat(firstMs).isLessThan(1200); // six chunks 300 ms apart take 1.8 s
            String line;
            String last = null;
            while ((line = in.readLine()) != null) {
                if (!line.isEmpty()) {
                    last = line;
                }
            }
            assertThat(last).isEqualTo("data: [DONE]");
        }
    }

    @Test
    void a_certificate_nobody_vouches_for_is_refused_with_the_reason_and_nothing_reaches_the_backend() throws Exception {
        FakeOpenAiBackend b = tlsBackend(Map.of());
        HttpResponse<String> r = f.post("/v1/chat/completions", RouterFixture.chat("m"));
        assertThat(r.statusCode()).isBetween(502, 503);
        assertThat(r.headers().firstValue("content-type").orElseThrow()).startsWith("application/json");
        assertThat(r.body()).contains("\"error\"").contains("TLS handshake failed")
                .contains("certification path");
        assertThat(b.count()).isZero();
    }

    @Test
    void a_trusted_certificate_for_another_name_is_refused() throws Exception {
        FakeOpenAiBackend b = tlsBackend("tls-3", otherKeys);
        f.start(Map.of("camel.component.llm.tls-ca-file", otherCa.toString()),
                "--static-backends", b.url(), "--static-models", "m");
        HttpResponse<String> r = f.post("/v1/chat/completions", RouterFixture.chat("m"));
        assertThat(r.statusCode()).isBetween(502, 503);
        assertThat(r.body()).contains("TLS handshake failed").contains("127.0.0.1");
        assertThat(b.count()).isZero();
    }

    @Test
    void an_https_url_to_a_plain_http_server_says_so() throws Exception {
        FakeOpenAiBackend plain = f.backend("plain", "m");
        f.start(Map.of(), "--static-backends", plain.url().replace("http://", "https://"), "--static-models", "m");
        HttpResponse<String> r = f.post("/v1/chat/completions", RouterFixture.chat("m"));
        assertThat(r.statusCode()).isBetween(502, 503);
        assertThat(r.body()).contains("TLS handshake failed: the backend did not answer in TLS");
        assertThat(plain.count()).isZero();
    }

    @Test
    void an_https_backend_that_never_finishes_the_handshake_fails_over_within_the_connect_timeout() throws Exception {
        // the kernel takes the connection (backlog), and nothing ever answers the TLS hello
        try (ServerSocket silent = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
            FakeOpenAiBackend good = tlsBackend("tls-4", keys);
            f.start(Map.of("camel.component.llm.tls-ca-file", ca.toString(),
                    "camel.component.llm.connect-timeout-ms", "2000"), // the default; a cold first handshake may take 0.5 s
                    "--static-backends", "https://127.0.0.1:" + silent.getLocalPort() + "," + good.url(),
                    "--static-models", "m,m");
            for (int i = 0; i < 2; i++) { // one of them meets the silent backend first
                long t0 = System.nanoTime();
                HttpResponse<String> r = f.post("/v1/chat/completions", RouterFixture.chat("m"));
                long ms = (System.nanoTime() - t0) / 1_000_000;
                assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
                assertThat(r.headers().firstValue("x-served-by")).contains("tls-4");
                assertThat(ms).as("a 2 s connect timeout, not the TLS library's 10 s").isLessThan(8000);
            }
            // recorded as a connect timeout (a 504 when no other backend is left), as a TCP connect timeout is
            String silentUrl = "https://127.0.0.1:" + silent.getLocalPort();
            JsonNode health = new ObjectMapper().readTree(f.get("/health").body());
            JsonNode entry = null;
            for (JsonNode backend : health.path("backends")) {
                if (backend.path("url").asText().equals(silentUrl)) {
                    entry = backend;
                }
            }
            assertThat(entry).as(health.toString()).isNotNull();
            assertThat(entry.path("last_error").asText()).isEqualTo("connect_timeout");
        }
    }

    @Test
    void a_pooled_tls_connection_the_backend_closed_is_met_by_sending_again_on_a_new_one() throws Exception {
        FakeOpenAiBackend b = tlsBackend("tls-5", keys).closeReusedConnections(true);
        f.start(Map.of("camel.component.llm.tls-ca-file", ca.toString()),
                "--static-backends", b.url(), "--static-models", "m");
        for (int i = 0; i < 4; i++) { // one after the other: each from the second on meets the pooled connection
            HttpResponse<String> r = f.post("/v1/chat/completions", RouterFixture.chat("m"));
            assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
            assertThat(r.headers().firstValue("x-served-by")).contains("tls-5");
        }
        assertThat(b.closedReused()).as("the router met closed pooled connections").isPositive();
        assertThat(b.count("/v1/chat/completions")).isEqualTo(4);
    }

    @Test
    void with_checks_off_any_certificate_is_taken() throws Exception {
        FakeOpenAiBackend b = tlsBackend(Map.of("camel.component.llm.tls-verify", "false"));
        HttpResponse<String> r = f.post("/v1/chat/completions", RouterFixture.chat("m"));
        assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        assertThat(b.last().model()).isEqualTo("m");
    }

    @Test
    void http2_is_negotiated_by_alpn_on_an_https_backend() throws Exception {
        FakeOpenAiBackend b = tlsBackend(Map.of("camel.component.llm.tls-ca-file", ca.toString(),
                "camel.component.llm.http2", "true"));
        for (int i = 0; i < 3; i++) {
            HttpResponse<String> r = f.post("/v1/chat/completions", RouterFixture.chat("m"));
            assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
        }
        assertThat(b.last().version()).isEqualTo("HTTP/2");
        assertThat(b.connections()).isEqualTo(1);
    }

    @Test
    void a_ca_file_without_a_certificate_stops_the_start_with_its_name() throws Exception {
        Path empty = Files.writeString(dir.resolve("empty.pem"), "not a certificate\n");
        FakeOpenAiBackend b = tlsBackend("tls-2", keys);
        Throwable failure = null;
        try {
            f.start(Map.of("camel.component.llm.tls-ca-file", empty.toString()),
                    "--static-backends", b.url(), "--static-models", "m");
            f.post("/v1/chat/completions", RouterFixture.chat("m"));
        } catch (Exception e) {
            failure = e;
        }
        assertThat(failure).isNotNull();
        assertThat(failure).hasStackTraceContaining("empty.pem");
    }
}
