package io.github.camelllmrouter.catalogue;

import java.util.ArrayList;
import java.util.List;

import org.apache.camel.CamelContext;
import org.apache.camel.Route;

/**
 * The live model table is the set of routes named {@code model-<model name>}: a model (or alias) is served
 * exactly while such a route exists, whether it came from the command line, a file in routes/, or a reload.
 */
public final class ModelRoutes {

    public static final String PREFIX = "model-";

    private ModelRoutes() {
    }

    /** The endpoint the content-based router sends {@code model} to, or null when no route serves it. */
    public static String endpointFor(CamelContext context, String model) {
        Route route = context.getRoute(PREFIX + model);
        return route == null ? null : route.getEndpoint().getEndpointUri();
    }

    /** Every served model and alias, in route order. */
    public static List<String> models(CamelContext context) {
        List<String> names = new ArrayList<>();
        for (Route r : context.getRoutes()) {
            if (r.getRouteId().startsWith(PREFIX)) {
                names.add(r.getRouteId().substring(PREFIX.length()));
            }
        }
        return names;
    }
}
