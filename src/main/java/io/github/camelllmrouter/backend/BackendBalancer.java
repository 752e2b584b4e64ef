package io.github.camelllmrouter.backend;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Consumer;

import io.github.camelllmrouter.catalogue.DiscoveredBackends;
import io.github.camelllmrouter.http.LlmCall;
import io.github.camelllmrouter.openai.OpenAiException;
import org.apache.camel.AsyncCallback;
import org.apache.camel.AsyncProcessor;
import org.apache.camel.AsyncProducer;
import org.apache.camel.CamelContext;
import org.apache.camel.Channel;
import org.apache.camel.Exchange;
import org.apache.camel.Processor;
import org.apache.camel.model.CircuitBreakerDefinition;
import org.apache.camel.model.ModelCamelContext;
import org.apache.camel.model.ProcessorDefinition;
import org.apache.camel.model.RouteDefinition;
import org.apache.camel.processor.SendProcessor;
import org.apache.camel.processor.loadbalancer.LoadBalancerSupport;
import org.apache.camel.support.ExchangeHelper;
import org.apache.camel.support.service.ServiceHelper;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The load balancer of a model route: a weighted split over the model's backends (smooth weighted round robin,
 * as nginx does, so a 3:1 split is an exact, repeatable sequence) that skips ejected backends and fails over
 * to another backend of the same model on a retryable failure, up to {@code rerouteAttempts} extra tries.
 * Used from YAML as {@code loadBalance: { customLoadBalancer: { ref: "#class:...BackendBalancer" } }} over
 * {@code to: llm:...?weight=N} steps. When no backend can take the request it fails, so the model's circuit
 * breaker (and its fallback) sees one failure for the whole model, never one per bad backend.
 */
public class BackendBalancer extends LoadBalancerSupport {

    private static final Logger LOG = LoggerFactory.getLogger(BackendBalancer.class);

    private static final Set<String> ROUTING_LOGICS = Set.of("roundrobin", "session", "least-loaded", "prefixaware");

    /** Exchange property set when a request failed and left no backend of the model in rotation. */
    public static final String OUT_OF_ROTATION = "llmRouterOutOfRotation";

    private final Integer rerouteAttempts;
    private volatile Pool fixed;
    private volatile boolean discovers;
    private final Map<String, Pool> discoveredPools = new ConcurrentHashMap<>();
    private final Map<String, AsyncProcessor> discoveredProducers = new ConcurrentHashMap<>();
    private volatile DiscoveredBackends watched;
    private final Consumer<String> onDeparted = this::departed;

    /** The backends a request chooses from, with their hash ring (and, for discovered ones, the registry version). */
    private record Pool(Target[] targets, HashRing ring, long version) {
        static Pool of(List<Target> list, long version) {
            return new Pool(list.toArray(new Target[0]), new HashRing(list.stream().map(x -> x.endpoint.backendId()).toList(),
                    list.stream().map(Target::weight).toList()), version);
        }
    }
    private volatile Boolean lastResort;
    private final Object lock = new Object();

    public BackendBalancer() {
        this(null);
    }

    /** @param rerouteAttempts extra backends to try after the first fails (the vLLM router's failover reroutes) */
    public BackendBalancer(Integer rerouteAttempts) {
        this(rerouteAttempts, null, null);
    }

    /** A model route with a routing logic of its own: {@code BackendBalancer(2, 'least-loaded')}. */
    public BackendBalancer(Integer rerouteAttempts, String routingLogic) {
        this(rerouteAttempts, routingLogic, null);
    }

    /**
     * A model route with a routing logic of its own, whatever {@code --routing-logic} says for the others:
     * {@code ref: "#class:io.github.camelllmrouter.backend.BackendBalancer(2, 'session', 'x-user-id')"}.
     *
     * @param routingLogic roundrobin, session, least-loaded or prefixaware (null: the router's)
     * @param sessionKey   the request header that pins a session (session, least-loaded; null: the router's)
     */
    public BackendBalancer(Integer rerouteAttempts, String routingLogic, String sessionKey) {
        if (routingLogic != null && !ROUTING_LOGICS.contains(routingLogic)) {
            throw new IllegalArgumentException("routing logic must be roundrobin, session, least-loaded or prefixaware, got '"
                    + routingLogic + "'");
        }
        this.rerouteAttempts = rerouteAttempts;
        this.routingLogic = routingLogic;
        this.sessionKey = sessionKey == null || sessionKey.isBlank() ? null : sessionKey.trim();
    }

    private final String routingLogic;
    private final String sessionKey;

    private String routingLogic(LlmComponent component) {
        return routingLogic != null ? routingLogic : component.getRoutingLogic();
    }

    private Pool fixedPool() {
        Pool p = fixed;
        if (p == null) {
            synchronized (lock) {
                if (fixed == null) {
                    List<Target> list = new ArrayList<>();
                    for (AsyncProcessor proc : doGetProcessors()) {
                        LlmEndpoint e = endpointOf(proc);
                        if (e.isDiscovered()) {
                            discovers = true;
                        } else {
                            list.add(new Target(proc, e));
                        }
                    }
                    fixed = Pool.of(list, 0);
                }
                p = fixed;
            }
        }
        return p;
    }

    /** The fixed backends, plus (with a {@code to: llm:discovered} step) the model's discovered ones right now. */
    private Pool pool(Exchange exchange) {
        Pool base = fixedPool();
        if (!discovers) {
            return base;
        }
        DiscoveredBackends registry = exchange.getContext().getRegistry()
                .lookupByNameAndType(DiscoveredBackends.BEAN,
                        DiscoveredBackends.class);
        if (registry == null) {
            return base;
        }
        if (watched == null) {
            synchronized (lock) {
                if (watched == null && !isStoppingOrStopped()) { // a request left in a stopped route registers nothing
                    watched = registry;
                    registry.onRemoved(onDeparted);
                }
            }
        }
        String model = LlmCall.of(exchange).request().model();
        long version = registry.version();
        Pool cached = discoveredPools.get(model);
        if (cached != null && cached.version() == version || isStoppingOrStopped()) {
            return cached != null ? cached : base; // a stopped route starts no producer it would not stop
        }
        // under the lock, as departed() is: a producer is started only for a backend the registry has now, and
        // stopped only when the registry no longer has it
        synchronized (lock) {
            List<Target> list = new ArrayList<>(List.of(base.targets()));
            for (String url : registry.backendsOf(model)) {
                LlmEndpoint e = exchange.getContext().getEndpoint("llm:" + url, LlmEndpoint.class);
                AsyncProcessor producer = discoveredProducers.computeIfAbsent(url, u -> {
                    try {
                        AsyncProducer ap = e.createAsyncProducer();
                        ServiceHelper.startService(ap);
                        return ap;
                    } catch (Exception ex) {
                        throw new IllegalStateException(ex);
                    }
                });
                list.add(new Target(producer, e));
            }
            Pool fresh = Pool.of(list, version);
            discoveredPools.put(model, fresh);
            return fresh;
        }
    }

    /** A discovered backend left: its producer stops, so its state and meters go once its requests finish. */
    private void departed(String url) {
        synchronized (lock) {
            DiscoveredBackends registry = watched;
            if (registry != null && registry.backends().contains(url)) {
                return; // back already (a pod that turned unready, then ready)
            }
            AsyncProcessor producer = discoveredProducers.remove(url);
            if (producer != null) {
                ServiceHelper.stopService(producer);
            }
        }
    }

    @Override
    protected void doStop() throws Exception {
        synchronized (lock) {
            DiscoveredBackends registry = watched;
            if (registry != null) {
                registry.removeListener(onDeparted);
                watched = null; // registered again if the route starts again
            }
            discoveredProducers.values().forEach(ServiceHelper::stopService);
            discoveredProducers.clear();
            discoveredPools.clear();
        }
        super.doStop();
    }

    /** Whether every fixed backend's attempts run on the request's own exchange (nothing woven around them). */
    public boolean attemptsWithoutCopy() {
        for (Target t : fixedPool().targets()) {
            if (!t.plain) {
                return false;
            }
        }
        return true;
    }

    private static LlmEndpoint endpointOf(Processor p) {
        Processor current = p;
        while (current instanceof Channel channel) {
            current = channel.getNextProcessor();
        }
        if (current instanceof SendProcessor send && send.getEndpoint() instanceof LlmEndpoint e) {
            return e;
        }
        throw new IllegalArgumentException("BackendBalancer balances llm: endpoints only, got " + current);
    }

    /**
     * Panic mode, as Envoy's: a model whose route has no fallback is the last resort, so when all its backends are
     * out of rotation they are tried anyway rather than refusing the request without trying.
     */
    private boolean lastResort(CamelContext context) {
        Boolean b = lastResort;
        if (b == null) {
            RouteDefinition def = getRouteId() == null ? null
                    : ((ModelCamelContext) context).getRouteDefinition(getRouteId());
            b = def == null || !hasFallback(def.getOutputs());
            lastResort = b;
        }
        return b;
    }

    private static boolean hasFallback(List<ProcessorDefinition<?>> outputs) {
        for (ProcessorDefinition<?> p : outputs) {
            if (p instanceof CircuitBreakerDefinition cb && cb.getOnFallback() != null) {
                return true;
            }
            if (hasFallback(p.getOutputs())) {
                return true;
            }
        }
        return false;
    }

    /**
     * Any backend not tried yet, in rotation or not (panic, or a breaker's trial), but one waiting out the
     * Retry-After it gave: it said when to come back.
     */
    private Target anyUntried(Target[] all, boolean[] tried) {
        synchronized (lock) {
            for (int k = 0; k < all.length; k++) {
                int i = (panicCursor++ & Integer.MAX_VALUE) % all.length;
                if (!tried[i] && all[i].weight() > 0 && all[i].state().retryAfterRemainingMs() == 0 && !all[i].state().asleep()) {
                    return all[i];
                }
            }
            return null;
        }
    }

    private int panicCursor;

    /** True when no backend of the model (for this request) is in rotation. */
    public boolean allOutOfRotation(Exchange exchange) {
        for (Target t : pool(exchange).targets()) {
            if (t.state().available()) {
                return false;
            }
        }
        return true;
    }

    /** True when a backend of the model came back in rotation after {@code sinceNanos} and has not answered since. */
    public boolean returnedSince(Exchange exchange, long sinceNanos) {
        for (Target t : pool(exchange).targets()) {
            long at = t.state().returnedAtNanos();
            if (at != 0 && at - sinceNanos > 0) {
                return true;
            }
        }
        return false;
    }

    @Override
    public boolean process(Exchange exchange, AsyncCallback callback) {
        LlmCall call = LlmCall.of(exchange);
        if (call != null) {
            call.countIncoming(); // a model route without a breaker
        }
        new Attempts(exchange, callback, pool(exchange)).next();
        return false;
    }

    /**
     * With {@code routing-logic=session} and the session header present: the key's backend on the hash ring (or
     * the next one along it); otherwise smooth weighted round robin over the targets that are allowed and available.
     */
    private Target pick(Pool pool, boolean[] tried, String sessionKey, String prefix, boolean leastLoaded) {
        Target[] all = pool.targets();
        HashRing ring = pool.ring();
        if (sessionKey != null) {
            int i = ring.pick(sessionKey, x -> !tried[x] && all[x].state().available());
            if (i >= 0) {
                return all[i];
            }
        }
        if (prefix != null) {
            // consistent hashing with bounded load: a backend with more than its share of the model's requests
            // in flight (1.25 × the mean, rounded up) is passed over, so one hot prefix cannot drown a backend
            int inFlight = 0;
            for (Target t : all) {
                inFlight += t.state().inFlight() + t.state().streaming();
            }
            int bound = (int) Math.ceil(1.25 * (inFlight + 1) / all.length);
            int i = ring.pick(prefix, x -> !tried[x] && all[x].state().available() && all[x].state().inFlight() + all[x].state().streaming() < bound);
            if (i >= 0) {
                return all[i];
            }
        }
        if (leastLoaded) {
            Target t = powerOfTwoChoices(all, tried);
            if (t != null) {
                return t;
            }
        }
        synchronized (lock) {
            Target best = null;
            int total = 0;
            for (int i = 0; i < all.length; i++) {
                Target t = all[i];
                if (tried[i] || t.weight() == 0 || !t.state().available()) {
                    continue;
                }
                t.current += t.weight();
                total += t.weight();
                if (best == null || t.current > best.current) {
                    best = t;
                }
            }
            if (best != null) {
                best.current -= total;
                return best;
            }
            // weight 0 marks a standby backend: used only when every weighted one is out
            for (int i = 0; i < all.length; i++) {
                if (!tried[i] && all[i].weight() == 0 && all[i].state().available()) {
                    return all[i];
                }
            }
            return null;
        }
    }

    /**
     * Least loaded: two different backends drawn at random (in proportion to their weights) among the available
     * ones, and the one with fewer requests in flight wins. Avoids both herding on one "least busy" backend and a
     * full scan, and needs no shared state between router replicas.
     */
    private static Target powerOfTwoChoices(Target[] all, boolean[] tried) {
        int total = 0;
        for (int i = 0; i < all.length; i++) {
            if (!tried[i] && all[i].weight() > 0 && all[i].state().available()) {
                total += all[i].weight();
            }
        }
        if (total == 0) {
            return null;
        }
        Target a = draw(all, tried, total, null);
        if (a.weight() == total) {
            return a; // the only one
        }
        Target b = draw(all, tried, total - a.weight(), a);
        return b == null || a.state().load() <= b.state().load() ? a : b;
    }

    private static Target draw(Target[] all, boolean[] tried, int total, Target except) {
        int r = ThreadLocalRandom.current().nextInt(total);
        for (int i = 0; i < all.length; i++) {
            if (all[i] != except && !tried[i] && all[i].weight() > 0 && all[i].state().available()) {
                r -= all[i].weight();
                if (r < 0) {
                    return all[i];
                }
            }
        }
        // a backend left rotation between the sum and the draw: take any that is still eligible
        for (int i = all.length - 1; i >= 0; i--) {
            if (all[i] != except && !tried[i] && all[i].weight() > 0 && all[i].state().available()) {
                return all[i];
            }
        }
        return except;
    }

    private int maxReroutes(LlmComponent component) {
        return rerouteAttempts != null ? rerouteAttempts : component.getMaxFailoverAttempts();
    }

    private final class Attempts {
        final Exchange exchange;
        final AsyncCallback callback;
        final Target[] all;
        final boolean[] tried;
        final LlmCall call;
        final LlmComponent component;
        int reroutes;
        BackendException last;

        final Pool pool;

        Attempts(Exchange exchange, AsyncCallback callback, Pool pool) {
            this.exchange = exchange;
            this.callback = callback;
            this.pool = pool;
            this.all = pool.targets();
            this.tried = new boolean[all.length];
            this.call = LlmCall.of(exchange);
            // the targets' own component (a lookup by name, per request, only for a pool with none)
            this.component = all.length > 0 ? all[0].endpoint.getComponent()
                    : exchange.getContext().getComponent("llm", LlmComponent.class);
        }

        void next() {
            if (call.pinnedEngine() != null) {
                pinned();
                return;
            }
            String logic = routingLogic(component);
            String prefix = "prefixaware".equals(logic) ? call.request().promptPrefix(component.getPrefixMinMatchLength()) : null;
            Target picked = pick(pool, tried, sessionKey(), prefix, "least-loaded".equals(logic));
            if (picked == null && call.trial()) {
                // a half-open breaker's trial: the backends out of rotation are exactly what it probes
                picked = anyUntried(all, tried);
                if (picked != null) {
                    LOG.info("trial request={} model={}: the breaker is half-open; trying {} although it is out of rotation",
                            call.requestId(), model(), picked.endpoint.backendId());
                }
            } else if (picked == null && last == null && lastResort(exchange.getContext())) {
                picked = anyUntried(all, tried);
                if (picked != null) {
                    LOG.warn("panic request={} model={}: every backend is out of rotation and there is no fallback; trying {}",
                            call.requestId(), model(), picked.endpoint.backendId());
                    component.metrics().panic(model());
                }
            }
            final Target target = picked;
            if (target == null) {
                finish(last != null ? last : unavailable());
                return;
            }
            if (last != null) {
                LOG.info("failover request={} model={} from={} to={} reason={}", call.requestId(), model(), last.backend(),
                        target.endpoint.backendId(), last.reason());
            }
            send(target);
        }

        /**
         * {@code ?id=<engine>}, as in the vLLM router: the engine the request is pinned to, awake and serving this
         * model, tried once (no failover, and {@code llm.fallback} gives no fallback); 404 otherwise.
         */
        void pinned() {
            if (last != null) {
                finish(last);
                return;
            }
            for (Target t : all) {
                if (!tried[indexOf(t)] && t.state().engineId().equals(call.pinnedEngine()) && !t.state().asleep()) {
                    send(t);
                    return;
                }
            }
            exchange.setException(new OpenAiException(404, "invalid_request_error", "model_not_found", "model",
                    "No engine with id '" + call.pinnedEngine() + "' serves the model '" + model() + "' (or it is asleep);"
                    + " see GET /engines."));
            exchange.setProperty(OUT_OF_ROTATION, true); // no failure of the model's: its breaker does not count it
            callback.done(false);
        }

        /**
         * One attempt. Every target is an {@code llm:} send (see endpointOf), whose producer sets the answer as the
         * body or, when it fails, the exception (Camel's send step also notes the endpoint, which the next send
         * overwrites). So with nothing woven around the send, a failed attempt leaves only its exception, dropped
         * before the next one starts, and the attempt runs on the request's own exchange (a copy and its results
         * copied back were a tenth of what a request allocated); with an error handler or interceptor around it,
         * on a copy, as Camel's failover does.
         */
        void send(Target target) {
            tried[indexOf(target)] = true;
            exchange.setException(null);
            Exchange attempt = target.plain ? exchange : ExchangeHelper.createCopy(exchange, true);
            BackendState state = target.state();
            state.begin();
            long sent = System.nanoTime();
            target.processor.process(attempt, doneSync -> {
                state.end();
                try {
                    onDone(target, attempt, sent);
                } catch (RuntimeException e) {
                    finish(e); // never leave the request without an answer
                }
            });
        }

        void onDone(Target target, Exchange attempt, long sent) {
            Throwable error = attempt.getException();
            String backend = target.endpoint.backendId();
            if (error == null) {
                target.state().success(sent);
                Object body = attempt.getMessage().getBody();
                boolean clientError = body instanceof BackendResponse r && r.status() >= 400;
                component.metrics().attempt(model(), backend, clientError ? "client_error" : "success");
                if (attempt != exchange) {
                    ExchangeHelper.copyResults(exchange, attempt);
                }
                callback.done(false);
                return;
            }
            if (!(error instanceof BackendException failure)) {
                exchange.setException(error);
                callback.done(false);
                return;
            }
            if (BackendException.CLIENT_CLOSED.equals(failure.reason())) {
                finish(failure); // nobody to answer: no failover, and not the backend's fault
                return;
            }
            last = failure;
            component.metrics().attempt(model(), backend, failure.reason());
            if (target.state().failure(failure.reason(), failure.retryAfterSeconds(), sent)) {
                component.metrics().ejection(backend, failure.reason());
                LOG.warn("backend {} out of rotation after {} (request={})", backend, failure.reason(), call.requestId());
            }
            call.trail("backend " + backend + " failed: " + failure.reason());
            if (failure.retryAfterSeconds() != null) {
                call.retryAfterSeconds(failure.retryAfterSeconds());
            }
            if (reroutes >= maxReroutes(component)) {
                finish(failure);
            } else if (call.attempts() >= component.getMaxAttemptsPerRequest()
                       || call.remainingMs(component.getRequestTimeBudgetMs()) <= 0) {
                LOG.info("no failover request={} model={} from={}: the request's attempt or time budget is spent", call.requestId(), model(), backend);
                finish(failure);
            } else {
                reroutes++;
                component.metrics().failover(model(), backend, failure.reason());
                next();
            }
        }

        private void finish(Throwable error) {
            if (error instanceof BackendException && noneInRotation()) {
                // outlier detection has taken every backend out and sends the model's requests on by itself: the
                // model's breaker must not open on top of it, or it would hold the model back once they return
                exchange.setProperty(OUT_OF_ROTATION, true);
            }
            exchange.setException(error);
            callback.done(false);
        }

        private boolean noneInRotation() {
            return allOutOfRotation(exchange);
        }

        private String model() {
            return call.request().model();
        }

        private String sessionKey() {
            String header = sessionKey != null ? sessionKey : component.getSessionKey();
            if (header == null || "roundrobin".equals(routingLogic(component))) {
                return null;
            }
            String value = call.clientHeaders().get(header);
            return value == null || value.isEmpty() ? null : value;
        }

        private int indexOf(Target t) {
            for (int i = 0; i < all.length; i++) {
                if (all[i] == t) {
                    return i;
                }
            }
            throw new IllegalStateException();
        }

        private BackendException unavailable() {
            // backends waiting out a Retry-After: the client is told when the first of them is back
            long wait = Long.MAX_VALUE;
            for (Target t : all) {
                long left = t.state().retryAfterRemainingMs();
                if (left > 0) {
                    wait = Math.min(wait, left);
                }
            }
            Long retryAfter = wait == Long.MAX_VALUE ? null : Math.max(1, (wait + 999) / 1000);
            return new BackendException(null, BackendException.NO_BACKEND_AVAILABLE, 0, null, null, retryAfter,
                    "every backend of model " + model() + " is out of rotation");
        }
    }

    private static final class Target {
        final AsyncProcessor processor;
        final LlmEndpoint endpoint;
        /** Nothing woven around the {@code llm:} send (error handler, interceptor): attempts need no copy. */
        final boolean plain;
        int current; // smooth weighted round robin state, guarded by lock

        Target(AsyncProcessor processor, LlmEndpoint endpoint) {
            this.processor = processor;
            this.endpoint = endpoint;
            this.plain = PlainChannels.inside(processor) != null;
        }

        int weight() {
            return endpoint.getWeight();
        }

        BackendState state() {
            return endpoint.state();
        }
    }
}
