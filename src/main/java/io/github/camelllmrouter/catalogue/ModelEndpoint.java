package io.github.camelllmrouter.catalogue;

import org.apache.camel.Consumer;
import org.apache.camel.MultipleConsumersSupport;
import org.apache.camel.Processor;
import org.apache.camel.Producer;
import org.apache.camel.support.DefaultEndpoint;

/** {@code model:<name>}: see {@link ModelComponent}. */
public class ModelEndpoint extends DefaultEndpoint implements MultipleConsumersSupport {

    private final String name;

    ModelEndpoint(String uri, ModelComponent component, String name) {
        super(uri, component);
        this.name = name;
    }

    public String getName() {
        return name;
    }

    @Override
    public ModelComponent getComponent() {
        return (ModelComponent) super.getComponent();
    }

    /** A reload runs the new version of a model's route beside the old one until the old one is drained. */
    @Override
    public boolean isMultipleConsumersSupported() {
        return true;
    }

    @Override
    public Producer createProducer() {
        return new ModelProducer(this);
    }

    @Override
    public Consumer createConsumer(Processor processor) throws Exception {
        ModelConsumer consumer = new ModelConsumer(this, processor);
        configureConsumer(consumer);
        return consumer;
    }
}
