package io.github.camelllmrouter.backend;

import java.util.List;

import io.github.camelllmrouter.http.LlmCall;
import io.github.resilience4j.circuitbreaker.CallNotPermittedException;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreaker.State;
import io.github.resilience4j.circuitbreaker.IllegalStateTransitionException;
import org.apache.camel.AsyncCallback;
import org.apache.camel.AsyncProcessor;
import org.apache.camel.CamelContext;
import org.apache.camel.CamelContextAware;
import org.apache.camel.Exchange;
import org.apache.camel.ExchangePropertyKey;
import org.apache.camel.Navigate;
import org.apache.camel.Processor;
import org.apache.camel.Traceable;
import org.apache.camel.component.resilience4j.ResilienceProcessor;
import org.apache.camel.processor.Pipeline;
import org.apache.camel.spi.IdAware;
import org.apache.camel.spi.RouteIdAware;
import org.apache.camel.support.AsyncProcessorConverterHelper;
import org.apache.camel.support.AsyncProcessorSupport;
import org.apache.camel.support.ExchangeHelper;
import org.apache.camel.support.service.ServiceHelper;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A model route's circuit breaker: the {@code circuitBreaker} EIP, with Resilience4j's breaker (its
 * configuration, registry and metrics are Camel's) driven without blocking, so no thread waits for a backend.
 * What it counts follows the model's backends:
 * <ul>
 * <li>a request the model as a whole could not serve is a failure; one whose client hung up is nothing (no
 * failure, no fallback), and so is one that left every backend out of rotation (ejected, waiting out a
 * Retry-After, failing its health check): outlier detection sends the model's requests to the fallback by
 * itself, and lets them back as soon as a backend is, which an open breaker would hold back;</li>
 * <li>a half-open breaker's trial request may use backends that are out of rotation (the trial is the probe),
 * and one trial that succeeds closes the breaker;</li>
 * <li>an open breaker half-opens as soon as one of its model's backends is back in rotation (its ejection time
 * ended, or its health check passed), not only when its own open time is over.</li>
 * </ul>
 */
public class ModelBreaker extends AsyncProcessorSupport
        implements CamelContextAware, Navigate<Processor>, IdAware, RouteIdAware, Traceable {

    private static final Logger LOG = LoggerFactory.getLogger(ModelBreaker.class);

    private final ResilienceProcessor resilience;
    private final AsyncProcessor steps;
    private final AsyncProcessor fallback;
    /** When this breaker was seen to open (0: not open). */
    private volatile long openedAtNanos;
    /** The model's load balancer among the steps (null: none, the breaker then follows only its own counts). */
    private volatile BackendBalancer balancer;
    /** The steps are the model's balancer and nothing else: they run on the exchange itself, not a copy. */
    private volatile boolean onlyBalancer;

    ModelBreaker(ResilienceProcessor resilience) {
        this.resilience = resilience;
        List<Processor> next = resilience.next();
        this.steps = AsyncProcessorConverterHelper.convert(next.get(0));
        this.fallback = next.size() > 1 ? AsyncProcessorConverterHelper.convert(next.get(1)) : null;
    }

    @Override
    public boolean process(Exchange exchange, AsyncCallback callback) {
        CircuitBreaker breaker = resilience.getCircuitBreaker();
        LlmCall entering = LlmCall.of(exchange);
        if (entering != null) {
            entering.countIncoming(); // the model after its aliases, before any fallback
        }
        halfOpenIfABackendCameBack(breaker, exchange);
        State before = breaker.getState();
        if (!breaker.tryAcquirePermission()) {
            exchange.setProperty(ExchangePropertyKey.CIRCUIT_BREAKER_RESPONSE_SHORT_CIRCUITED, true);
            exchange.setProperty(ExchangePropertyKey.CIRCUIT_BREAKER_RESPONSE_REJECTED, true);
            return fallback(exchange, breaker, CallNotPermittedException.createCallNotPermittedException(breaker), callback);
        }
        // a trial holds a half-open permit: the breaker was half-open, or half-opened in tryAcquirePermission (its
        // open time was over); a request let through while closed is none, whatever the state is by now
        boolean trial = before == State.HALF_OPEN || before == State.OPEN && breaker.getState() == State.HALF_OPEN;
        LlmCall call = LlmCall.of(exchange);
        if (call != null) {
            call.trial(trial);
        }
        // as Camel's breaker, the protected steps run on a copy, so the fallback starts from the exchange as it was
        // before them; steps that are only the model's balancer need none (a failed attempt leaves nothing but its
        // exception there, see BackendBalancer.send)
        Exchange copy = onlyBalancer ? exchange : ExchangeHelper.createCopy(exchange, true);
        long start = breaker.getCurrentTimestamp();
        steps.process(copy, doneSync -> {
            try {
                done(exchange, copy, breaker, start, trial, callback);
            } catch (RuntimeException e) {
                exchange.setException(e); // never leave the request without an answer
                callback.done(false);
            }
        });
        return false;
    }

    private void done(Exchange exchange, Exchange copy, CircuitBreaker breaker, long start, boolean trial,
                      AsyncCallback callback) {
        Throwable error = copy.getException();
        long took = breaker.getCurrentTimestamp() - start;
        if (error == null) {
            breaker.onSuccess(took, breaker.getTimestampUnit());
            if (trial) {
                transition(breaker, State.CLOSED);
            }
            if (copy != exchange) {
                ExchangeHelper.copyResults(exchange, copy);
            }
            exchange.setProperty(ExchangePropertyKey.CIRCUIT_BREAKER_RESPONSE_SUCCESSFUL_EXECUTION, true);
            exchange.setProperty(ExchangePropertyKey.CIRCUIT_BREAKER_RESPONSE_STATE, breaker.getState().name());
            callback.done(false);
            return;
        }
        // read, and taken off: a fallback model's breaker must not see this model's outage as its own
        boolean outOfRotation = Boolean.TRUE.equals(copy.removeProperty(BackendBalancer.OUT_OF_ROTATION));
        BackendException failure = BackendException.find(error);
        String reason = failure != null ? failure.reason() : null;
        if (BackendException.CLIENT_CLOSED.equals(reason)) {
            breaker.releasePermission(); // nobody's failure, and nobody left to answer
            exchange.setException(error);
            callback.done(false);
            return;
        }
        if (outOfRotation && !trial) {
            breaker.releasePermission(); // outlier detection's call (every backend is out), not the breaker's
        } else {
            breaker.onError(took, breaker.getTimestampUnit(), error);
            if (trial) {
                transition(breaker, State.OPEN);
                openedAtNanos = System.nanoTime(); // open again from now: a backend must come back after this
            } else if (breaker.getState() == State.OPEN && openedAtNanos == 0) {
                openedAtNanos = System.nanoTime();
            }
        }
        fallback(exchange, breaker, error, callback);
    }

    private boolean fallback(Exchange exchange, CircuitBreaker breaker, Throwable error, AsyncCallback callback) {
        exchange.setProperty(ExchangePropertyKey.CIRCUIT_BREAKER_RESPONSE_SUCCESSFUL_EXECUTION, false);
        exchange.setProperty(ExchangePropertyKey.CIRCUIT_BREAKER_RESPONSE_STATE, breaker.getState().name());
        if (fallback == null) {
            // no onFallback: the client gets the error (an open breaker's is a 503), never an empty success
            exchange.setException(error);
            callback.done(false);
            return false;
        }
        exchange.setProperty(ExchangePropertyKey.CIRCUIT_BREAKER_RESPONSE_FROM_FALLBACK, true);
        // as Camel's breaker: the fallback sees what failed (nothing, when the breaker did not let the call through)
        exchange.setProperty(ExchangePropertyKey.EXCEPTION_CAUGHT, error instanceof CallNotPermittedException ? null : error);
        exchange.setException(null);
        fallback.process(exchange, doneSync -> callback.done(false));
        return false;
    }

    /**
     * An open breaker whose model has a backend back in rotation since it opened (its ejection time ended, or its
     * health check passed) lets the next request through as a trial, rather than wait out its own open time.
     */
    private void halfOpenIfABackendCameBack(CircuitBreaker breaker, Exchange exchange) {
        if (breaker.getState() != State.OPEN) {
            openedAtNanos = 0;
            return;
        }
        long opened = openedAtNanos;
        if (opened == 0) {
            openedAtNanos = System.nanoTime(); // opened before this route version saw it
            return;
        }
        BackendBalancer b = balancer;
        if (b != null && b.returnedSince(exchange, opened) && transition(breaker, State.HALF_OPEN)) {
            openedAtNanos = 0;
        }
    }

    private static BackendBalancer findBalancer(Processor p) {
        if (p instanceof BackendBalancer b) {
            return b;
        }
        if (p instanceof Navigate<?> n && n.hasNext() && n.next() != null) {
            for (Object child : n.next()) {
                BackendBalancer b = child instanceof Processor c ? findBalancer(c) : null;
                if (b != null) {
                    return b;
                }
            }
        }
        return null;
    }

    private boolean transition(CircuitBreaker breaker, State to) {
        State from = breaker.getState();
        if (from == to || from == State.DISABLED || from == State.FORCED_OPEN || from == State.METRICS_ONLY) {
            return false;
        }
        try {
            switch (to) {
                case CLOSED -> breaker.transitionToClosedState();
                case OPEN -> breaker.transitionToOpenState();
                case HALF_OPEN -> breaker.transitionToHalfOpenState();
                default -> throw new IllegalArgumentException(to.name());
            }
            LOG.info("breaker {} {} -> {}", breaker.getName(), from, to);
            return true;
        } catch (IllegalStateTransitionException raced) {
            return false; // another request moved it first
        }
    }

    @Override
    protected void doBuild() throws Exception {
        ServiceHelper.buildService(resilience);
    }

    @Override
    protected void doInit() throws Exception {
        ServiceHelper.initService(resilience);
    }

    @Override
    protected void doStart() throws Exception {
        ServiceHelper.startService(resilience); // creates the Resilience4j breaker in Camel's registry (and its meters)
        balancer = findBalancer(steps);
        onlyBalancer = isOnlyBalancer(steps);
    }

    /**
     * True when {@code p} is a balancer, wrapped (plain channels, a pipeline of one step) but with no other step,
     * and no error handler or interceptor woven in (they may leave state of their own on the exchange).
     */
    static boolean isOnlyBalancer(Processor p) {
        Processor step = PlainChannels.inside(p);
        if (step instanceof BackendBalancer) {
            return true;
        }
        if (step instanceof Pipeline pipeline) {
            List<Processor> next = pipeline.next();
            return next != null && next.size() == 1 && isOnlyBalancer(next.get(0));
        }
        return false;
    }

    /** Whether the protected steps run on the exchange itself (see {@link #isOnlyBalancer}). */
    public boolean runsWithoutCopy() {
        return onlyBalancer;
    }

    @Override
    protected void doStop() throws Exception {
        ServiceHelper.stopService(resilience);
    }

    @Override
    protected void doShutdown() throws Exception {
        ServiceHelper.stopAndShutdownService(resilience);
    }

    /** The Resilience4j breaker (null until started). */
    public CircuitBreaker circuitBreaker() {
        return resilience.getCircuitBreaker();
    }

    @Override
    public CamelContext getCamelContext() {
        return resilience.getCamelContext();
    }

    @Override
    public void setCamelContext(CamelContext camelContext) {
        resilience.setCamelContext(camelContext);
    }

    @Override
    public List<Processor> next() {
        return resilience.next();
    }

    @Override
    public boolean hasNext() {
        return true;
    }

    @Override
    public String getId() {
        return resilience.getId();
    }

    @Override
    public void setId(String id) {
        resilience.setId(id);
    }

    @Override
    public String getRouteId() {
        return resilience.getRouteId();
    }

    @Override
    public void setRouteId(String routeId) {
        resilience.setRouteId(routeId);
    }

    @Override
    public String getTraceLabel() {
        return resilience.getTraceLabel();
    }
}
