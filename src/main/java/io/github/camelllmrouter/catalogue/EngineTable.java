package io.github.camelllmrouter.catalogue;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import io.github.camelllmrouter.backend.LlmEndpoint;
import org.apache.camel.CamelContext;
import org.apache.camel.Endpoint;
import org.apache.camel.model.ModelCamelContext;
import org.apache.camel.model.ProcessorDefinitionHelper;
import org.apache.camel.model.RouteDefinition;
import org.apache.camel.model.ToDefinition;

/**
 * Which backends (engines) serve which models, read from the model routes as they run: each {@code llm:} step of
 * a model's route is one of its backends (for {@code llm:discovered}, what discovery found). Aliases, which only
 * send on to another model, serve nothing themselves. For {@code GET /engines} and {@code ?id=} pinning.
 */
public final class EngineTable {

    private EngineTable() {
    }

    /** Backend URL to the models it serves, in the order of the routes. */
    public static Map<String, Set<String>> modelsByBackend(CamelContext context) {
        Map<String, Set<String>> table = new LinkedHashMap<>();
        ModelComponent models = ModelComponent.of(context);
        DiscoveredBackends discovered = context.getRegistry().lookupByNameAndType(DiscoveredBackends.BEAN, DiscoveredBackends.class);
        ModelCamelContext model = (ModelCamelContext) context;
        for (String name : models.models(context)) {
            ModelConsumer consumer = models.current(name);
            RouteDefinition route = consumer == null ? null : model.getRouteDefinition(consumer.getRouteId());
            if (route == null) {
                continue;
            }
            for (String backend : backends(context, route, name, discovered)) {
                table.computeIfAbsent(backend, k -> new LinkedHashSet<>()).add(name);
            }
        }
        return table;
    }

    private static List<String> backends(CamelContext context, RouteDefinition route, String model,
                                         DiscoveredBackends discovered) {
        List<String> found = new ArrayList<>();
        for (ToDefinition to : ProcessorDefinitionHelper.filterTypeInOutputs(route.getOutputs(), ToDefinition.class)) {
            String uri = to.getEndpointUri();
            if (uri == null || !uri.startsWith("llm:")) {
                continue;
            }
            Endpoint endpoint;
            try {
                endpoint = context.getEndpoint(context.resolvePropertyPlaceholders(uri));
            } catch (RuntimeException unresolvable) {
                continue;
            }
            if (endpoint instanceof LlmEndpoint llm && llm.isDiscovered()) {
                if (discovered != null) {
                    found.addAll(discovered.backendsOf(model));
                }
            } else if (endpoint instanceof LlmEndpoint llm) {
                found.add(llm.backendId());
            }
        }
        return found;
    }
}
