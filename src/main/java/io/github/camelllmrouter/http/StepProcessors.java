package io.github.camelllmrouter.http;

import org.apache.camel.CamelContext;
import org.apache.camel.Processor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Binds a bean's step as a processor of its own ({@code process: { ref: keys.authenticate }}), which Camel calls
 * directly, where a {@code bean:} step finds its method by name on every request. The name is the bean's and the
 * method's; it is bound only while free, so a bean the host application bound under it (or a second instance of
 * the router's bean) never silently takes the place of the first.
 */
public final class StepProcessors {

    private static final Logger LOG = LoggerFactory.getLogger(StepProcessors.class);

    private StepProcessors() {
    }

    public static void bind(CamelContext context, String name, Processor step) {
        Object bound = context.getRegistry().lookupByName(name);
        if (bound == null) {
            context.getRegistry().bind(name, Processor.class, step);
        } else {
            LOG.warn("'{}' is bound already (to {}): the routes' step of that name stays that one", name,
                    bound.getClass().getName());
        }
    }
}
