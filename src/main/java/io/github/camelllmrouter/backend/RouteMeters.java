package io.github.camelllmrouter.backend;

import java.util.concurrent.TimeUnit;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import org.apache.camel.CamelContext;
import org.apache.camel.CamelContextAware;
import org.apache.camel.Exchange;
import org.apache.camel.NamedNode;
import org.apache.camel.Route;
import org.apache.camel.component.micrometer.MicrometerConstants;
import org.apache.camel.component.micrometer.MicrometerUtils;
import org.apache.camel.component.micrometer.routepolicy.MicrometerRoutePolicyFactory;
import org.apache.camel.component.micrometer.routepolicy.MicrometerRoutePolicyNamingStrategy;
import org.apache.camel.spi.RoutePolicy;
import org.apache.camel.spi.RoutePolicyFactory;
import org.apache.camel.spi.UnitOfWork;
import org.apache.camel.support.ExchangeHelper;
import org.apache.camel.support.RoutePolicySupport;

/**
 * Camel's route metrics as camel-micrometer's route policy writes them (its names and tags: camel_exchanges_total,
 * _succeeded_total, _failed_total, _failures_handled_total, _external_redeliveries_total and
 * camel_route_policy_seconds, by route and, with routeId "", for the exchanges the context received), kept without
 * what that policy does on every exchange and route: a {@code String.format} of a property name, three times (a
 * request passes three routes; a fifth of the router's allocations under load). Installed by
 * {@code camel.beans.routeMeters}, with {@code camel.metrics.enable-route-policy = false}; stands aside if Camel's
 * own policy is on, so nothing is counted twice. It writes camel-micrometer's default names, by route and for the
 * context (its {@code camel.metrics.naming-strategy = legacy} and {@code route-policy-level} do not apply).
 */
public class RouteMeters implements RoutePolicyFactory, CamelContextAware {

    private static final MicrometerRoutePolicyNamingStrategy NAMES = MicrometerRoutePolicyNamingStrategy.DEFAULT;

    private CamelContext camelContext;
    private volatile Meters context;

    @Override
    public CamelContext getCamelContext() {
        return camelContext;
    }

    /** Joins the context's route policies (the bean is bound before the routes are built). */
    @Override
    public void setCamelContext(CamelContext camelContext) {
        if (this.camelContext != camelContext) {
            this.camelContext = camelContext;
            camelContext.addRoutePolicyFactory(this); // which sets the context again
        }
    }

    @Override
    public RoutePolicy createRoutePolicy(CamelContext camelContext, String routeId, NamedNode route) {
        boolean camelsOwn = camelContext.getRoutePolicyFactories().stream().anyMatch(f -> f instanceof MicrometerRoutePolicyFactory);
        return camelsOwn ? null : new Policy(routeId);
    }

    private Meters context(MeterRegistry registry, CamelContext camelContext) {
        Meters m = context;
        if (m == null) {
            synchronized (this) {
                if (context == null) {
                    context = new Meters(registry, null, NAMES.getTags(camelContext), NAMES.getExchangeStatusTags(camelContext),
                            "CamelContext performance metrics");
                }
                m = context;
            }
        }
        return m;
    }

    /** One route's meters, and the context's for an exchange that starts here. */
    private final class Policy extends RoutePolicySupport {

        private final String started;
        private final String startedInContext;
        private volatile MeterRegistry registry;
        private volatile Meters route;
        private volatile Meters all;

        Policy(String routeId) {
            this.started = "LlmRouterRouteStarted-" + routeId;
            this.startedInContext = "LlmRouterContextStarted-" + routeId;
        }

        /** As Camel's policy: a route's series appear when it starts, on the registry its metrics use (none: off). */
        @Override
        public void onStart(Route r) {
            MeterRegistry registry = MicrometerUtils.getMeterRegistryFromCamelRegistry(r.getCamelContext().getRegistry(),
                    MicrometerConstants.METRICS_REGISTRY_NAME);
            if (registry != null && route == null) {
                this.registry = registry;
                route = new Meters(registry, r, NAMES.getTags(r), NAMES.getExchangeStatusTags(r), "Route performance metrics");
                all = context(registry, r.getCamelContext());
            }
        }

        @Override
        public void onRemove(Route r) {
            if (route != null) {
                route.remove(registry);
            }
        }

        @Override
        public void onExchangeBegin(Route r, Exchange exchange) {
            if (route == null) {
                return;
            }
            long now = System.nanoTime();
            exchange.setProperty(started, now);
            if (first(exchange)) {
                exchange.setProperty(startedInContext, now);
            }
        }

        @Override
        public void onExchangeDone(Route r, Exchange exchange) {
            if (route == null) {
                return;
            }
            long now = System.nanoTime();
            route.done(exchange, exchange.removeProperty(started), now);
            Object inContext = exchange.removeProperty(startedInContext);
            if (inContext != null) {
                all.done(exchange, inContext, now);
            }
        }

        /** The exchange's first route: the context counts each exchange once, however many routes it passes. */
        private static boolean first(Exchange exchange) {
            UnitOfWork uow = exchange.getUnitOfWork();
            return uow == null || uow.routeStackLevel(true, false) <= 1;
        }
    }

    /** The counters and timer of a route, or of the whole context (route null, as in Camel's policy). */
    private static final class Meters {

        private final Counter total;
        private final Counter succeeded;
        private final Counter failed;
        private final Counter failuresHandled;
        private final Counter externalRedeliveries;
        private final Timer timer;

        Meters(MeterRegistry registry, Route route, Tags tags, Tags statusTags, String timerHelp) {
            total = counter(registry, NAMES.getExchangesTotalName(route), statusTags, "Total number of processed exchanges");
            succeeded = counter(registry, NAMES.getExchangesSucceededName(route), statusTags,
                    "Number of successfully completed exchanges");
            failed = counter(registry, NAMES.getExchangesFailedName(route), statusTags, "Number of failed exchanges");
            failuresHandled = counter(registry, NAMES.getFailuresHandledName(route), statusTags, "Number of failures handled");
            externalRedeliveries = counter(registry, NAMES.getExternalRedeliveriesName(route), statusTags,
                    "Number of external initiated redeliveries (such as from JMS broker)");
            timer = Timer.builder(NAMES.getName(route)).tags(tags).description(timerHelp).register(registry);
        }

        private static Counter counter(MeterRegistry registry, String name, Tags tags, String help) {
            return Counter.builder(name).tags(tags).description(help).register(registry);
        }

        void done(Exchange exchange, Object started, long now) {
            if (started instanceof Long t) {
                timer.record(now - t, TimeUnit.NANOSECONDS);
            }
            total.increment();
            if (exchange.isFailed()) {
                failed.increment();
            } else {
                succeeded.increment();
                if (ExchangeHelper.isFailureHandled(exchange)) {
                    failuresHandled.increment();
                }
                if (exchange.isExternalRedelivered()) {
                    externalRedeliveries.increment();
                }
            }
        }

        void remove(MeterRegistry registry) {
            for (Meter m : new Meter[] {total, succeeded, failed, failuresHandled, externalRedeliveries, timer}) {
                registry.remove(m);
            }
        }
    }
}
