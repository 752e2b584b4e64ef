package io.github.camelllmrouter.catalogue;

import java.util.concurrent.atomic.AtomicInteger;

import org.apache.camel.Processor;
import org.apache.camel.support.DefaultConsumer;

/**
 * A route serving a model. It counts the requests inside it, so that a reload can retire it (no new requests)
 * and remove it once the count is zero.
 */
public class ModelConsumer extends DefaultConsumer {

    private final AtomicInteger inside = new AtomicInteger();
    private volatile boolean retired;

    ModelConsumer(ModelEndpoint endpoint, Processor processor) {
        super(endpoint, processor);
    }

    @Override
    public ModelEndpoint getEndpoint() {
        return (ModelEndpoint) super.getEndpoint();
    }

    @Override
    protected void doStart() throws Exception {
        super.doStart();
        retired = false;
        getEndpoint().getComponent().add(getEndpoint().getName(), this);
    }

    @Override
    protected void doStop() throws Exception {
        getEndpoint().getComponent().remove(getEndpoint().getName(), this);
        super.doStop();
    }

    /** Takes no new request from now on; those inside finish here. */
    public void retire() {
        retired = true;
    }

    public boolean isRetired() {
        return retired;
    }

    /** Requests inside this route now. */
    public int inside() {
        return inside.get();
    }

    /** A request enters; false when the route was retired meanwhile (the caller then asks for the current one). */
    boolean enter() {
        inside.incrementAndGet();
        if (retired) {
            inside.decrementAndGet();
            return false;
        }
        return true;
    }

    void exit() {
        inside.decrementAndGet();
    }
}
