package io.github.camelllmrouter.catalogue;

import io.github.camelllmrouter.openai.OpenAiException;
import org.apache.camel.AsyncCallback;
import org.apache.camel.Exchange;
import org.apache.camel.support.DefaultAsyncProducer;

/** Hands the exchange to the route that serves the model now (the newest one that is not retired). */
class ModelProducer extends DefaultAsyncProducer {

    private final ModelEndpoint endpoint;

    ModelProducer(ModelEndpoint endpoint) {
        super(endpoint);
        this.endpoint = endpoint;
    }

    @Override
    public boolean process(Exchange exchange, AsyncCallback callback) {
        for (;;) {
            ModelConsumer consumer = endpoint.getComponent().current(endpoint.getName());
            if (consumer == null) {
                exchange.setException(OpenAiException.modelNotFound(endpoint.getName()));
                callback.done(true);
                return true;
            }
            if (consumer.enter()) {
                try {
                    return consumer.getAsyncProcessor().process(exchange, doneSync -> {
                        consumer.exit();
                        callback.done(doneSync);
                    });
                } catch (RuntimeException e) {
                    consumer.exit();
                    exchange.setException(e);
                    callback.done(true);
                    return true;
                }
            }
        }
    }
}
