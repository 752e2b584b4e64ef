package io.github.camelllmrouter;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.apache.camel.CamelContext;
import org.apache.camel.model.CircuitBreakerDefinition;
import org.apache.camel.model.ModelCamelContext;
import org.apache.camel.model.ProcessorDefinition;
import org.apache.camel.model.RouteDefinition;
import org.apache.camel.model.SendDefinition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a user needs at start, in a few lines: version, where the API listens, each model with its backends and
 * fallback, discovery, where routes are watched. (Camel's own detailed summary comes at --log-level debug.)
 */
final class StartupSummary {

    private static final Logger LOG = LoggerFactory.getLogger("io.github.camelllmrouter.startup");

    private StartupSummary() {
    }

    static void log(CamelContext context, String address, String discovery, Path routesDir, boolean watched) {
        LOG.info("camel-llm-router {} (Apache Camel {}, Java {}) listening on {}", RouterMain.version(),
                context.getVersion(), System.getProperty("java.version"), address);
        for (RouteDefinition route : ((ModelCamelContext) context).getRouteDefinitions()) {
            String from = route.getInput() == null ? null : route.getInput().getEndpointUri();
            if (from == null || !from.startsWith("model:")) {
                continue;
            }
            List<String> backends = new ArrayList<>();
            List<String> targets = new ArrayList<>();
            String[] fallback = {null};
            collect(route.getOutputs(), backends, targets, fallback, false);
            backends.replaceAll(b -> readable(context, b));
            String name = from.substring("model:".length());
            if (backends.isEmpty() && !targets.isEmpty()) {
                LOG.info("model {}: alias of {}", name, targets.get(0));
            } else {
                LOG.info("model {}: {}{}", name, backends.isEmpty() ? "no backends" : String.join(", ", backends),
                        fallback[0] != null ? "; falls back to " + fallback[0] : "");
            }
        }
        LOG.info("discovery: {}; routes: {}", discovery,
                routesDir == null ? "the jar's own copy" : routesDir + (watched ? " (watched: a saved file applies live)" : ""));
    }

    /** {@code http://h:1?weight=3} as {@code http://h:1 (weight 3)}, placeholders resolved. */
    private static String readable(CamelContext context, String uri) {
        String u;
        try {
            u = context.resolvePropertyPlaceholders(uri);
        } catch (RuntimeException unresolved) {
            u = uri;
        }
        int q = u.indexOf('?');
        if (q < 0) {
            return u;
        }
        String options = u.substring(q + 1).replace("weight=", "weight ").replace('&', ',');
        return u.substring(0, q) + " (" + options + ")";
    }

    private static void collect(List<ProcessorDefinition<?>> outputs, List<String> backends, List<String> targets,
                                String[] fallback, boolean inFallback) {
        for (ProcessorDefinition<?> p : outputs) {
            if (p instanceof SendDefinition<?> send && send.getUri() != null) {
                String uri = send.getUri();
                if (uri.startsWith("llm:")) {
                    backends.add(uri.substring(4));
                } else if (uri.startsWith("model:")) {
                    if (inFallback && fallback[0] == null) {
                        fallback[0] = uri.substring(6);
                    } else if (!inFallback) {
                        targets.add(uri.substring(6));
                    }
                }
            }
            if (p instanceof CircuitBreakerDefinition cb && cb.getOnFallback() != null) {
                collect(cb.getOnFallback().getOutputs(), backends, targets, fallback, true);
            }
            collect(p.getOutputs(), backends, targets, fallback, inFallback);
        }
    }
}
