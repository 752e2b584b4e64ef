package io.github.camelllmrouter.backend;

import org.apache.camel.CamelContext;
import org.apache.camel.CamelContextAware;
import org.apache.camel.NamedNode;
import org.apache.camel.Processor;
import org.apache.camel.Route;
import org.apache.camel.component.resilience4j.ResilienceProcessor;
import org.apache.camel.component.resilience4j.ResilienceReifier;
import org.apache.camel.model.CircuitBreakerDefinition;
import org.apache.camel.processor.DefaultProcessorFactory;
import org.apache.camel.spi.ProcessorFactory;

/**
 * Builds the {@code circuitBreaker} EIP of the routes as a {@link ModelBreaker}: Camel's own Resilience4j reifier
 * reads the configuration ({@code camel.resilience4j.*}, a named {@code configuration}, the route's own
 * {@code resilience4jConfiguration}) and makes the steps and {@code onFallback}; the model breaker drives that
 * Resilience4j breaker without holding a thread and with the router's rules of what counts as a failure. Every
 * other EIP is left to Camel. It installs itself as the context's processor factory when it is bound as a bean
 * ({@code camel.beans.modelBreakers} in {@code config/application.properties}), under every Camel Main.
 */
public class ModelBreakerFactory implements ProcessorFactory, CamelContextAware {

    private final DefaultProcessorFactory camel = new DefaultProcessorFactory();
    private CamelContext context;

    /** Bound as a bean: installs itself as the context's processor factory, before any route is built. */
    @Override
    public void setCamelContext(CamelContext context) {
        if (this.context == context) {
            return; // adding the plugin sets the context again
        }
        this.context = context;
        context.getCamelContextExtension().addContextPlugin(ProcessorFactory.class, this);
    }

    @Override
    public CamelContext getCamelContext() {
        return context;
    }

    @Override
    public Processor createChildProcessor(Route route, NamedNode definition, boolean mandatory) throws Exception {
        return camel.createChildProcessor(route, definition, mandatory);
    }

    @Override
    public Processor createProcessor(Route route, NamedNode definition) throws Exception {
        if (definition instanceof CircuitBreakerDefinition breaker) {
            return new ModelBreaker((ResilienceProcessor) new ResilienceReifier(route, breaker).createProcessor());
        }
        return camel.createProcessor(route, definition);
    }

    @Override
    public Processor createProcessor(CamelContext context, String definitionName, Object[] args) throws Exception {
        return camel.createProcessor(context, definitionName, args);
    }
}
