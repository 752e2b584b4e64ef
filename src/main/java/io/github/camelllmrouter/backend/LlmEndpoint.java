package io.github.camelllmrouter.backend;

import java.net.URI;

import org.apache.camel.Consumer;
import org.apache.camel.Processor;
import org.apache.camel.Producer;
import org.apache.camel.support.DefaultEndpoint;

/** One model server: {@code llm:http://host:port[/base]?weight=N}. */
public class LlmEndpoint extends DefaultEndpoint {

    /** {@code llm:discovered}: the backends service discovery finds for the model. */
    public static final String DISCOVERED = "discovered";

    private final URI base;
    private final String backendId;
    private int weight = 1;
    private String type = "chat";
    private String apiKey;
    private String apiKeyHeader;
    private Credential credential;

    LlmEndpoint(String uri, LlmComponent component, String remaining) {
        super(uri, component);
        if (DISCOVERED.equals(remaining)) {
            // a placeholder: the load balancer puts the model's discovered backends here
            this.base = null;
            this.backendId = DISCOVERED;
            return;
        }
        String url = remaining.endsWith("/") ? remaining.substring(0, remaining.length() - 1) : remaining;
        this.base = URI.create(url);
        if (base.getHost() == null || !("http".equals(base.getScheme()) || "https".equals(base.getScheme()))) {
            throw new IllegalArgumentException("llm: needs an http(s) URL like llm:http://127.0.0.1:8000, got '" + remaining + "'");
        }
        this.backendId = url;
    }

    @Override
    public LlmComponent getComponent() {
        return (LlmComponent) super.getComponent();
    }

    @Override
    public Producer createProducer() {
        return new LlmProducer(this);
    }

    @Override
    public Consumer createConsumer(Processor processor) {
        throw new UnsupportedOperationException("llm: is a producer only");
    }

    public boolean isDiscovered() {
        return base == null;
    }

    public URI base() {
        return base;
    }

    public String backendId() {
        return backendId;
    }

    private volatile BackendState state;

    /** This backend's shared state, as of the last start of a producer (kept by in-flight requests after a stop). */
    public BackendState state() {
        BackendState s = state;
        return s != null ? s : getComponent().state(backendId);
    }

    void started() {
        if (base != null) {
            state = getComponent().acquire(backendId, type);
            getComponent().client().credential(backendId, credential);
        }
    }

    void stopped() {
        if (base != null) {
            getComponent().release(backendId);
        }
    }

    public String getType() {
        return type;
    }

    /** The model type this backend serves (--static-model-types): picks the health probe's request. */
    public void setType(String type) {
        this.type = type;
    }

    public String getApiKey() {
        return apiKey;
    }

    /**
     * This backend's own credential, as env:NAME or file:/path (never the key itself): sent to this backend only,
     * instead of the client's.
     */
    public void setApiKey(String apiKey) {
        this.apiKey = apiKey;
        makeCredential();
    }

    public String getApiKeyHeader() {
        return apiKeyHeader;
    }

    /** The header the credential goes in: authorization (as Bearer; the default), api-key, x-api-key, ... */
    public void setApiKeyHeader(String apiKeyHeader) {
        this.apiKeyHeader = apiKeyHeader;
        makeCredential();
    }

    /** This endpoint's own credential, or null: its requests carry it and never the client's key. */
    public Credential credential() {
        return credential;
    }

    private void makeCredential() {
        credential = apiKey == null || apiKey.isBlank() ? null : Credential.of(apiKey, apiKeyHeader, backendId);
    }

    public int getWeight() {
        return weight;
    }

    /** Share of this backend in its model's weighted split (0 = only used when the others are out). */
    public void setWeight(int weight) {
        if (weight < 0) {
            throw new IllegalArgumentException("weight must be >= 0, got " + weight);
        }
        this.weight = weight;
    }
}
