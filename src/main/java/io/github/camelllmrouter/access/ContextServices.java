package io.github.camelllmrouter.access;

import org.apache.camel.CamelContext;

/** Beans of config/application.properties that live as long as the Camel context: started and stopped with it. */
final class ContextServices {

    private ContextServices() {
    }

    /**
     * Adds the bean to the context's services (Camel calls {@code setCamelContext} on it again while adding it:
     * the caller returns early when the context is the one it has).
     */
    static void join(CamelContext context, Object service) {
        try {
            context.addService(service, true, true);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
