package io.github.camelllmrouter;

import java.net.http.HttpClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import com.anthropic.client.AnthropicClient;
import com.anthropic.client.okhttp.AnthropicOkHttpClient;
import com.anthropic.core.http.StreamResponse;
import com.anthropic.errors.NotFoundException;
import com.anthropic.models.messages.Message;
import com.anthropic.models.messages.MessageCreateParams;
import com.anthropic.models.messages.RawMessageStreamEvent;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.models.responses.Response;
import com.openai.models.responses.ResponseCreateParams;
import com.openai.models.responses.ResponseStreamEvent;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The official Java SDKs against the fat jar: OpenAI's Responses API and Anthropic's Messages API, plain and
 * streamed (the text arriving while the backend still generates), through an alias and through a fallback.
 */
class SdkIT {

    static final Path JAR = Path.of("target/camel-llm-router.jar").toAbsolutePath();
    final List<Process> processes = new ArrayList<>();
    final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    @AfterEach
    void stop() {
        processes.forEach(Process::destroy);
    }

    Process java(Path dir, String name, String... args) throws Exception {
        Process p = RouterFixture.launch(dir, dir.resolve(name + ".log"), Map.of(), args);
        processes.add(p);
        return p;
    }

    void awaitUp(int port) {
        RouterFixture.awaitUp(http, port);
    }

    @Test
    void the_openai_and_anthropic_java_sdks_get_responses_and_messages_plain_streamed_and_through_a_fallback(@TempDir Path dir)
            throws Exception {
        int p1 = RouterFixture.freePort();
        int p2 = RouterFixture.freePort();
        int port = RouterFixture.freePort();
        Process b1 = java(dir, "b1", "-cp", JAR.toString(), "io.github.camelllmrouter.demo.FakeBackendMain", "--port", "" + p1,
                "--name", "b1", "--models", "m-a", "--chunks", "8", "--chunk-delay-ms", "150");
        java(dir, "b2", "-cp", JAR.toString(), "io.github.camelllmrouter.demo.FakeBackendMain", "--port", "" + p2,
                "--name", "b2", "--models", "m-b");
        java(dir, "router", "-jar", JAR.toString(), "--port", "" + port, "--host", "127.0.0.1", "--static-backends",
                "http://127.0.0.1:" + p1 + ",http://127.0.0.1:" + p2, "--static-models", "m-a,m-b",
                "--static-aliases", "fast:m-a", "--static-fallback-models", "m-a:m-b", "--engine-stats-interval", "0");
        awaitUp(p1);
        awaitUp(p2);
        awaitUp(port);
        OpenAIClient openai = OpenAIOkHttpClient.builder().baseUrl("http://127.0.0.1:" + port + "/v1").apiKey("sk-client")
                .maxRetries(0).timeout(Duration.ofSeconds(30)).build();
        AnthropicClient anthropic = AnthropicOkHttpClient.builder().baseUrl("http://127.0.0.1:" + port).apiKey("sk-client")
                .maxRetries(0).timeout(Duration.ofSeconds(30)).build();

        // the Responses API, plain, through the alias
        Response response = openai.responses().create(ResponseCreateParams.builder().model("fast").input("hi").build());
        assertThat(response.model().asString()).isEqualTo("m-a");
        assertThat(response.output().get(0).asMessage().content().get(0).asOutputText().text()).contains("b1");
        assertThat(response.usage().orElseThrow().inputTokens()).isEqualTo(5);

        // streamed: the deltas arrive as the backend makes them
        long t0 = System.nanoTime();
        List<Long> at = new ArrayList<>();
        StringBuilder text = new StringBuilder();
        String[] completedModel = new String[1];
        try (com.openai.core.http.StreamResponse<ResponseStreamEvent> stream = openai.responses().createStreaming(
                ResponseCreateParams.builder().model("m-a").input("hi").build())) {
            stream.stream().forEach(e -> {
                e.outputTextDelta().ifPresent(d -> {
                    at.add(TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
                    text.append(d.delta());
                });
                e.completed().ifPresent(c -> completedModel[0] = c.response().model().asString());
            });
        }
        assertThat(text.toString()).isEqualTo("w0 w1 w2 w3 w4 w5 w6 w7 ");
        assertThat(completedModel[0]).isEqualTo("m-a");
        assertThat(at.get(at.size() - 1) - at.get(0)).as("deltas as generated: %s", at).isGreaterThan(700);

        // the Messages API, plain and streamed
        MessageCreateParams ask = MessageCreateParams.builder().model("m-a").maxTokens(16).addUserMessage("hi").build();
        Message message = anthropic.messages().create(ask);
        assertThat(message.content().get(0).asText().text()).contains("b1");
        assertThat(message.usage().outputTokens()).isEqualTo(3);
        StringBuilder streamed = new StringBuilder();
        long[] first = {-1};
        long s0 = System.nanoTime();
        try (StreamResponse<RawMessageStreamEvent> stream = anthropic.messages().createStreaming(ask)) {
            stream.stream().forEach(e -> e.contentBlockDelta().ifPresent(d -> d.delta().text().ifPresent(t -> {
                if (first[0] < 0) {
                    first[0] = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - s0);
                }
                streamed.append(t.text());
            })));
        }
        long total = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - s0);
        assertThat(streamed.toString()).isEqualTo("w0 w1 w2 w3 w4 w5 w6 w7 ");
        assertThat(first[0]).as("the first text came %d ms into a %d ms stream", first[0], total).isLessThan(total - 500);

        // an unknown model: the Anthropic SDK raises its own error class (the router's error in Anthropic's shape)
        assertThatThrownBy(() -> anthropic.messages().create(MessageCreateParams.builder().model("no-such-model")
                .maxTokens(16).addUserMessage("hi").build())).isInstanceOf(NotFoundException.class);
        assertThatThrownBy(() -> openai.responses().create(ResponseCreateParams.builder().model("no-such-model").input("hi").build()))
                .isInstanceOf(com.openai.errors.NotFoundException.class);

        // b1 gone: both APIs answered by the fallback model, with model rewritten
        b1.destroy();
        b1.waitFor();
        Response fallback = openai.responses().create(ResponseCreateParams.builder().model("m-a").input("hi").build());
        assertThat(fallback.model().asString()).isEqualTo("m-b");
        assertThat(fallback.output().get(0).asMessage().content().get(0).asOutputText().text()).contains("b2");
        Message fallbackMessage = anthropic.messages().create(ask);
        assertThat(fallbackMessage.model().asString()).isEqualTo("m-b");
        assertThat(fallbackMessage.content().get(0).asText().text()).contains("b2");
    }
}
