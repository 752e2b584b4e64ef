package io.github.camelllmrouter;

import java.net.http.HttpResponse;

import io.github.camelllmrouter.demo.FakeOpenAiBackend;
import org.apache.camel.main.Main;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * An existing Camel Main application (not RouterMain) with the router on its classpath: it loads the router's
 * packaged routes and configuration next to its own routes and serves a model through them.
 */
class EmbeddingTest {

    final RouterFixture f = new RouterFixture();
    Main host;

    @AfterEach
    void stop() {
        if (host != null) {
            host.stop();
        }
        f.close();
    }

    @Test
    void a_host_camel_application_serves_a_model_through_the_router_routes() throws Exception {
        FakeOpenAiBackend backend = f.backend("emb", "emb-model");
        int port = RouterFixture.freePort();
        host = new Main();
        // the router's defaults (beans, llm: component, breakers), as packaged in its jar
        host.setPropertyPlaceholderLocations("classpath:application.properties");
        host.addOverrideProperty("camel.main.routes-include-pattern", "classpath:routes/openai-api.camel.yaml,classpath:embedded/*.camel.yaml");
        host.addOverrideProperty("router.host", "127.0.0.1");
        host.addOverrideProperty("router.port", Integer.toString(port));
        host.addOverrideProperty("emb.backend", backend.url());
        host.start();
        f.port = port;

        HttpResponse<String> r = f.post("/v1/chat/completions", RouterFixture.chat("emb-model"));
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.headers().firstValue("x-served-by")).contains("emb");
        assertThat(backend.last().model()).isEqualTo("emb-model");
        assertThat(f.get("/v1/models").body()).contains("\"emb-model\"");
        // and the host's own routes keep working beside the router's
        assertThat(host.getCamelContext().createProducerTemplate().requestBody("direct:orders", "42", String.class))
                .isEqualTo("order 42 accepted");
    }
}
