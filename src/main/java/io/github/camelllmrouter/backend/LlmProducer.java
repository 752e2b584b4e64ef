package io.github.camelllmrouter.backend;

import java.util.concurrent.CompletionException;

import io.github.camelllmrouter.http.LlmCall;
import io.github.camelllmrouter.http.RouterTracing;
import io.opentelemetry.api.trace.Span;
import io.vertx.core.http.HttpMethod;
import org.apache.camel.AsyncCallback;
import org.apache.camel.Exchange;
import org.apache.camel.support.DefaultAsyncProducer;

/** Sends the exchange's {@link LlmCall} to one backend without blocking; the answer becomes the body. */
class LlmProducer extends DefaultAsyncProducer {

    private final LlmEndpoint endpoint;

    LlmProducer(LlmEndpoint endpoint) {
        super(endpoint);
        this.endpoint = endpoint;
    }

    // Camel may stop a producer it never started (a route built, then removed): only a start is counted back
    private boolean counted;

    @Override
    protected void doStart() throws Exception {
        super.doStart();
        if (!counted) {
            counted = true;
            endpoint.started();
        }
    }

    @Override
    protected void doStop() throws Exception {
        if (counted) {
            counted = false;
            endpoint.stopped();
        }
        super.doStop();
    }

    @Override
    public boolean process(Exchange exchange, AsyncCallback callback) {
        LlmCall call = LlmCall.of(exchange);
        if (call == null || call.request() == null) {
            exchange.setException(new IllegalStateException("llm: needs a parsed request (exchange property llmCall)"));
            callback.done(true);
            return true;
        }
        call.nextAttempt();
        String model = call.request().model();
        long sent = System.nanoTime();
        Span span = RouterTracing.startAttempt(call, endpoint.base());
        endpoint.getComponent().client()
                .call(endpoint.base(), endpoint.backendId(), "GET".equals(call.method()) ? HttpMethod.GET : HttpMethod.POST,
                        call.path(), call.clientHeaders(), call.request().body(), call.request().contentType(),
                        endpoint.credential(), call.remainingMs(endpoint.getComponent().getRequestTimeBudgetMs()), call.clientGone())
                .whenComplete((response, error) -> {
                    call.addBackendNanos(System.nanoTime() - sent);
                    Throwable failure = error instanceof CompletionException ? error.getCause() : error;
                    RouterTracing.endAttempt(span,
                            response != null ? response.status() : failure instanceof BackendException b ? b.status() : 0,
                            failure instanceof BackendException b ? b.reason() : failure != null ? failure.getClass().getSimpleName() : null);
                    if (error != null) {
                        exchange.setException(error instanceof CompletionException ? error.getCause() : error);
                    } else {
                        call.served(endpoint.backendId(), model, endpoint.state(), sent);
                        exchange.getMessage().setBody(response);
                    }
                    callback.done(false);
                });
        return false;
    }
}
