package io.github.camelllmrouter.catalogue;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The models the router serves, as the vLLM router's static flags describe them: position-aligned lists of
 * backends, models and types, plus aliases, weights and fallbacks. Every source of configuration becomes one
 * of these and then the same YAML routes ({@link RoutesYaml}).
 */
public final class ModelCatalogue {

    public record Backend(String url, int weight) {
    }

    public record Model(String name, String type, List<Backend> backends, String fallback) {
    }

    private final Map<String, Model> models;
    private final Map<String, String> aliases;

    private ModelCatalogue(Map<String, Model> models, Map<String, String> aliases) {
        this.models = models;
        this.aliases = aliases;
    }

    public Map<String, Model> models() {
        return models;
    }

    public Map<String, String> aliases() {
        return aliases;
    }

    public boolean isEmpty() {
        return models.isEmpty();
    }

    /** The catalogue of the router.* keys ({@code router.static-backends}, ...), as the flags set them. */
    public static ModelCatalogue fromRouterProperties(Map<String, String> p) {
        return fromStatic(key(p, "static-backends"), key(p, "static-models"), key(p, "static-aliases"),
                key(p, "static-model-types"), key(p, "static-backend-weights"), key(p, "static-fallback-models"));
    }

    private static String key(Map<String, String> p, String key) {
        return routerKey(p, key, null);
    }

    /** The value of {@code router.<key>} (trimmed), or {@code def} when it is missing or blank. */
    public static String routerKey(Map<String, String> p, String key, String def) {
        String v = p.get("router." + key);
        return v == null || v.isBlank() ? def : v.trim();
    }

    /**
     * Builds the catalogue from the vLLM router's static flags. Each problem is reported as one clear line in an
     * {@link IllegalArgumentException}.
     */
    public static ModelCatalogue fromStatic(String backends, String models, String aliases, String types,
                                            String weights, String fallbacks) {
        List<String> urls = list(backends);
        List<String> names = list(models);
        if (urls.isEmpty() && names.isEmpty()) {
            if (!list(aliases).isEmpty() || !list(fallbacks).isEmpty() || !list(types).isEmpty() || !list(weights).isEmpty()) {
                throw new IllegalArgumentException("--static-backends and --static-models are required with the other --static-* flags");
            }
            return new ModelCatalogue(new LinkedHashMap<>(), new LinkedHashMap<>());
        }
        if (urls.isEmpty()) {
            throw new IllegalArgumentException("--static-models is set but --static-backends is empty");
        }
        if (urls.size() != names.size()) {
            throw new IllegalArgumentException("--static-backends has " + urls.size() + " entries but --static-models has "
                    + names.size() + "; the lists are aligned by position");
        }
        List<String> typeList = list(types);
        if (!typeList.isEmpty() && typeList.size() != urls.size()) {
            throw new IllegalArgumentException("--static-model-types has " + typeList.size() + " entries but --static-backends has "
                    + urls.size() + "; the lists are aligned by position");
        }
        List<String> weightList = list(weights);
        if (!weightList.isEmpty() && weightList.size() != urls.size()) {
            throw new IllegalArgumentException("--static-backend-weights has " + weightList.size()
                    + " entries but --static-backends has " + urls.size() + "; the lists are aligned by position");
        }
        Map<String, List<Backend>> byModel = new LinkedHashMap<>();
        Map<String, String> typeOf = new LinkedHashMap<>();
        for (int i = 0; i < urls.size(); i++) {
            String url = urls.get(i);
            if (!url.matches("https?://[^\\s/?#]+(/[^\\s?#]*)?")) {
                throw new IllegalArgumentException("--static-backends entry " + (i + 1) + " is not an http(s) URL: '" + url + "'");
            }
            if (url.substring(0, Math.max(url.indexOf('/', 8), url.length())).contains("@")) {
                // the URL is shown in headers, /health, metrics and logs: credentials must not be in it
                throw new IllegalArgumentException("--static-backends entry " + (i + 1) + " has credentials in it; pass keys in the Authorization header");
            }
            int weight = 1;
            if (!weightList.isEmpty()) {
                try {
                    weight = Integer.parseInt(weightList.get(i));
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("--static-backend-weights entry " + (i + 1) + " is not a whole number: '"
                            + weightList.get(i) + "'");
                }
                if (weight < 0) {
                    throw new IllegalArgumentException("--static-backend-weights entry " + (i + 1) + " is negative: " + weight);
                }
            }
            // one backend may serve several models: "m-a;m-b"
            for (String model : names.get(i).split(";")) {
                String name = model.trim();
                checkName(name, "--static-models entry " + (i + 1));
                byModel.computeIfAbsent(name, k -> new ArrayList<>()).add(new Backend(url, weight));
                String type = typeList.isEmpty() ? "chat" : typeList.get(i);
                if (!ModelTypes.KNOWN.contains(type)) {
                    throw new IllegalArgumentException("--static-model-types entry " + (i + 1) + " is '" + type + "'; expected one of "
                            + ModelTypes.KNOWN);
                }
                typeOf.putIfAbsent(name, type);
            }
        }
        Map<String, String> fallbackOf = pairs(fallbacks, "--static-fallback-models", "model:fallback");
        for (var f : fallbackOf.entrySet()) {
            if (!byModel.containsKey(f.getKey())) {
                throw new IllegalArgumentException("--static-fallback-models names '" + f.getKey() + "', which no backend serves");
            }
            if (!byModel.containsKey(f.getValue())) {
                throw new IllegalArgumentException("--static-fallback-models sends '" + f.getKey() + "' to '" + f.getValue()
                        + "', which no backend serves");
            }
        }
        Map<String, Model> result = new LinkedHashMap<>();
        for (var e : byModel.entrySet()) {
            List<Backend> list = e.getValue();
            if (list.stream().allMatch(b -> b.weight() == 0)) {
                throw new IllegalArgumentException("every backend of model '" + e.getKey() + "' has weight 0");
            }
            result.put(e.getKey(), new Model(e.getKey(), typeOf.get(e.getKey()), List.copyOf(list), fallbackOf.get(e.getKey())));
        }
        Map<String, String> aliasMap = pairs(aliases, "--static-aliases", "alias:model");
        for (var a : aliasMap.entrySet()) {
            checkName(a.getKey(), "--static-aliases alias");
            if (result.containsKey(a.getKey())) {
                throw new IllegalArgumentException("--static-aliases: '" + a.getKey() + "' is already a model name");
            }
            if (!result.containsKey(a.getValue())) {
                throw new IllegalArgumentException("--static-aliases: alias '" + a.getKey() + "' points to '" + a.getValue()
                        + "', which no backend serves");
            }
        }
        checkNoCycle(result);
        return new ModelCatalogue(result, aliasMap);
    }

    /** A fallback chain that comes back to a model it left would loop: refused at startup. */
    static void checkNoCycle(Map<String, Model> models) {
        for (String start : models.keySet()) {
            Set<String> seen = new HashSet<>();
            List<String> path = new ArrayList<>();
            String current = start;
            while (current != null) {
                if (!seen.add(current)) {
                    path.add(current);
                    throw new IllegalArgumentException("fallback cycle: " + String.join(" -> ", path));
                }
                path.add(current);
                Model m = models.get(current);
                current = m == null ? null : m.fallback();
            }
        }
    }

    private static void checkName(String name, String where) {
        if (name.isEmpty()) {
            throw new IllegalArgumentException(where + " is empty");
        }
        if (!name.matches("[A-Za-z0-9._:/@+-]+")) {
            throw new IllegalArgumentException(where + " '" + name + "' has characters a model name cannot have (allowed: letters, digits, . _ : / @ + -)");
        }
    }

    private static Map<String, String> pairs(String spec, String flag, String shape) {
        Map<String, String> map = new LinkedHashMap<>();
        for (String item : list(spec)) {
            int colon = item.lastIndexOf(':');
            if (colon <= 0 || colon == item.length() - 1) {
                throw new IllegalArgumentException(flag + " entry '" + item + "' is not of the form " + shape);
            }
            String key = item.substring(0, colon).trim();
            if (map.put(key, item.substring(colon + 1).trim()) != null) {
                throw new IllegalArgumentException(flag + " names '" + key + "' twice");
            }
        }
        return map;
    }

    static List<String> list(String spec) {
        List<String> out = new ArrayList<>();
        if (spec == null || spec.isBlank()) {
            return out;
        }
        for (String s : spec.split(",")) {
            out.add(s.trim());
        }
        return out;
    }
}
