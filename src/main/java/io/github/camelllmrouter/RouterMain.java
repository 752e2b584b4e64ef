package io.github.camelllmrouter;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Supplier;

import io.github.camelllmrouter.backend.LlmComponent;
import io.github.camelllmrouter.catalogue.DiscoveredBackends;
import io.github.camelllmrouter.catalogue.DynamicConfig;
import io.github.camelllmrouter.catalogue.Discovery;
import io.github.camelllmrouter.catalogue.LiveRoutes;
import io.github.camelllmrouter.catalogue.ModelCatalogue;
import io.github.camelllmrouter.catalogue.RoutesYaml;
import io.github.camelllmrouter.demo.FakeOpenAiBackend;
import io.github.camelllmrouter.http.ErrorReports;
import io.github.camelllmrouter.http.RequestRecord;
import io.github.camelllmrouter.http.RouterTracing;
import io.github.camelllmrouter.http.RouterVersion;
import io.vertx.core.Vertx;
import org.apache.camel.CamelContext;
import org.apache.camel.ExtendedStartupListener;
import org.apache.camel.component.properties.PropertiesComponent;
import org.apache.camel.main.BaseMainSupport;
import org.apache.camel.main.Main;
import org.apache.camel.main.MainListenerSupport;
import org.apache.camel.model.Model;
import org.apache.camel.model.ModelCamelContext;
import org.apache.camel.model.RouteDefinition;
import org.apache.camel.support.PluginHelper;
import org.apache.camel.support.ResourceHelper;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;

/**
 * Starts the router: reads config/application.properties, lets vLLM-router-style flags override it, turns the
 * static model settings into model routes, and runs Camel Main with the routes in routes/. With no backends
 * configured it first starts demo backends of its own, so a fresh checkout answers its first curl.
 */
public final class RouterMain {

    /** Flags of the vLLM router this version accepts but does not implement yet: refused, never ignored. */
    static final Set<String> NOT_SUPPORTED_YET = Set.of();
    /** Where the routes made from the flags or the dynamic config come from, as /health lists it. */
    public static final String GENERATED = "generated-models.camel.yaml";

    private final Main main = new Main();
    /** The demo's model routes, in routes/; used only while the demo runs. */
    public static final String DEMO_FILE = "demo-models.camel.yaml";
    /** The management port's route: used only with router.management-port. */
    public static final String MANAGEMENT_FILE = "management.camel.yaml";
    private final List<FakeOpenAiBackend> demoBackends = new ArrayList<>();
    private volatile Set<String> liveIgnores = Set.of();
    private Vertx demoVertx;
    private LiveRoutes live;
    private DynamicConfig dynamic;
    private Discovery discovery;

    private RouterMain() {
    }

    public static void main(String[] args) {
        Settings settings;
        try {
            settings = Settings.parse(args, Path.of("."));
        } catch (UsageException e) {
            System.err.println("camel-llm-router: " + e.getMessage());
            System.exit(2);
            return;
        }
        if (settings.exitNow != null) {
            System.out.print(settings.exitNow);
            System.exit(0);
            return;
        }
        RouterMain router = new RouterMain();
        try {
            router.configure(settings);
            router.main.run(); // blocks until the JVM is asked to stop
        } catch (Exception e) {
            System.err.println("camel-llm-router: " + e.getMessage());
            System.exit(1);
        } finally {
            router.stopDemo();
        }
    }

    /** Starts a router in this JVM (tests, embedding); stop it with {@link #stop()}. */
    public static RouterMain start(String... args) throws Exception {
        return start(Map.of(), args);
    }

    /**
     * Starts a router in this JVM with some configuration keys overridden (any key of
     * config/application.properties, e.g. camel.beans.relay.idle-timeout-ms).
     */
    public static RouterMain start(Map<String, String> config, String... args) throws Exception {
        Settings settings = Settings.parse(args, Path.of("."), config);
        RouterMain router = new RouterMain();
        router.configure(settings);
        config.forEach(router.main::addOverrideProperty);
        try {
            router.main.start();
        } catch (Exception | Error e) {
            router.stopDemo(); // the demo backends started while configuring: not left running
            throw e;
        }
        return router;
    }

    private void configure(Settings settings) throws Exception {
        if (!settings.ignoredFlags.isEmpty()) {
            LoggerFactory.getLogger(RouterMain.class).warn("ignored: {} configure{} what this router does not have"
                    + " (LMCache, prefill/decode disaggregation, semantic cache, batch API, callbacks, Sentry, external providers)",
                    String.join(", ", settings.ignoredFlags), settings.ignoredFlags.size() == 1 ? "s" : "");
        }
        // only the variables the README names are read from the environment: a Kubernetes Service named "router"
        // makes ROUTER_PORT=tcp://..., which must not become router.port
        main.configure().setAutoConfigurationEnvironmentVariablesEnabled(false);
        main.addMainListener(new MainListenerSupport() {
            @Override
            public void beforeConfigure(BaseMainSupport base) {
                ((PropertiesComponent) base.getCamelContext().getPropertiesComponent())
                        .setEnvironmentVariableMode(PropertiesComponent.ENVIRONMENT_VARIABLES_MODE_NEVER);
            }
        });
        ModelCatalogue catalogue = settings.catalogue;
        String routesYaml = catalogue.isEmpty() ? null : RoutesYaml.of(catalogue);
        main.setPropertyPlaceholderLocations(settings.propertiesLocation);
        Properties overrides = new Properties();
        overrides.putAll(settings.routerProperties);
        overrides.put("camel.main.routes-include-pattern", settings.routesPattern);
        // router.routes-reload: our LiveRoutes watches routes/, not Camel's reload (which stops a route before its
        // replacement starts, and applies what it cannot check)
        overrides.put("camel.main.routes-reload-enabled", "false");
        boolean reload = settings.routesDir != null
                && !"false".equalsIgnoreCase(settings.routerProperties.getOrDefault("router.routes-reload", "true"));
        long pollMs = Long.parseLong(value(settings.routerProperties, "routes-reload-interval-ms", "250"));
        long drainMs = Long.parseLong(value(settings.routerProperties, "routes-drain-timeout-seconds", "900")) * 1000;
        main.addMainListener(new MainListenerSupport() {
            @Override
            public void afterConfigure(BaseMainSupport base) {
                // once every route of routes/ and of the flags runs, LiveRoutes takes them over (a startup
                // listener, not an event notifier: that would be asked about every exchange)
                try {
                    base.getCamelContext().addStartupListener(new ExtendedStartupListener() {
                        @Override
                        public void onCamelContextStarted(CamelContext context, boolean alreadyStarted) {
                            // routes are not all started yet
                        }

                        @Override
                        public void onCamelContextFullyStarted(CamelContext context, boolean alreadyStarted) {
                            startLiveChanges(context, settings, reload, pollMs, drainMs);
                            Map<String, String> rp = settings.routerProperties;
                            StartupSummary.log(context, "http://" + value(rp, "host", "0.0.0.0") + ":" + value(rp, "port", "8001")
                                    + value(rp, "root-path", ""), settings.k8s ? "k8s (namespace " + value(rp, "k8s-namespace", "")
                                    + ", selector " + value(rp, "k8s-label-selector", "") + ")" : settings.dynamicConfigFile != null
                                    ? "dynamic config " + settings.dynamicConfigFile : "static", settings.routesDir, reload);
                        }
                    });
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }
        });
        overrides.put("camel.component.llm.routing-logic", settings.routerProperties.getOrDefault("router.routing-logic", "roundrobin"));
        Map<String, String> rp = settings.routerProperties;
        boolean healthChecks = "true".equalsIgnoreCase(rp.getOrDefault("router.static-backend-health-checks", "false"));
        overrides.put("camel.component.llm.health-checks", Boolean.toString(healthChecks));
        overrides.put("camel.component.llm.health-check-interval-ms",
                Long.toString(Long.parseLong(rp.getOrDefault("router.static-backend-health-check-interval", "60")) * 1000));
        // the vLLM router's k8s-mode name for the same timeout
        String probeTimeout = value(rp, "static-backend-health-check-timeout-seconds",
                value(rp, "backend-health-check-timeout-seconds", "10"));
        overrides.put("camel.component.llm.health-check-timeout-ms", Long.toString(Long.parseLong(probeTimeout) * 1000));
        String rootPath = value(rp, "root-path", null);
        if (rootPath != null) {
            overrides.put("camel.beans.llm.root-path", rootPath);
        }
        overrides.put("camel.component.llm.engine-stats-interval-ms",
                Long.toString(Long.parseLong(rp.getOrDefault("router.engine-stats-interval", "30")) * 1000));
        boolean logStats = "true".equalsIgnoreCase(rp.getOrDefault("router.log-stats", "false"));
        overrides.put("camel.component.llm.log-stats-interval-ms",
                logStats ? Long.toString(Long.parseLong(rp.getOrDefault("router.log-stats-interval", "10")) * 1000) : "0");
        overrides.put("camel.component.llm.request-stats-window-seconds", rp.getOrDefault("router.request-stats-window", "60"));
        overrides.put("camel.component.llm.prefix-min-match-length", rp.getOrDefault("router.prefix-min-match-length", "256"));
        String sessionKey = settings.routerProperties.get("router.session-key");
        if (sessionKey != null && !sessionKey.isBlank()) {
            overrides.put("camel.component.llm.session-key", sessionKey);
        }
        overrides.put("camel.component.llm.max-failover-attempts",
                settings.routerProperties.getOrDefault("router.max-instance-failover-reroute-attempts", "2"));
        main.setOverrideProperties(overrides);
        if (settings.k8s || settings.dynamicConfigFile != null) { // the dynamic config may turn discovery on
            main.addMainListener(new MainListenerSupport() {
                @Override
                public void afterConfigure(BaseMainSupport base) {
                    discovery = new Discovery(base.getCamelContext());
                    if (settings.k8s) {
                        discovery.start(settings.routerProperties);
                    }
                }
            });
        }
        if (routesYaml != null) {
            main.addMainListener(new MainListenerSupport() {
                @Override
                public void afterConfigure(BaseMainSupport base) {
                    loadRoutes(base.getCamelContext(), GENERATED, routesYaml);
                }
            });
        }
        boolean demoForced = catalogue.isEmpty() && settings.demo;
        main.addMainListener(new MainListenerSupport() {
            @Override
            public void afterConfigure(BaseMainSupport base) {
                // routes/ (and the flags' routes) are loaded by now and nothing has started: the demo runs only if
                // no other route serves a model, and its routes start with the API route (the first answer is no 404)
                demo(base.getCamelContext(), demoForced || settings.demoWhenNoModel && !servesAModel(base.getCamelContext()));
                // routes/management.camel.yaml: only with a management port
                if (Integer.parseInt(value(settings.routerProperties, "management-port", "0")) <= 0) {
                    drop(base.getCamelContext(), MANAGEMENT_FILE);
                }
            }
        });
    }

    /** Drops a file's routes before anything starts, and leaves the file out of live changes. */
    private void drop(CamelContext context, String file) {
        ModelCamelContext model = (ModelCamelContext) context;
        try {
            model.removeRouteDefinitions(model.getRouteDefinitions().stream().filter(r -> from(r, file)).toList());
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        Set<String> ignores = new HashSet<>(liveIgnores);
        ignores.add(file);
        liveIgnores = Set.copyOf(ignores);
    }

    /**
     * The demo: its backends start and routes/demo-models.camel.yaml serves them (its {@code router.demo-backend-N}
     * placeholders are their URLs). Without the demo that file's routes are dropped before anything starts, and
     * live changes leave it alone.
     */
    private void demo(CamelContext context, boolean run) {
        ModelCamelContext model = (ModelCamelContext) context;
        List<RouteDefinition> demoRoutes = model.getRouteDefinitions().stream()
                .filter(RouterMain::fromDemoFile).toList();
        if (!run) {
            drop(context, DEMO_FILE);
            return;
        }
        List<String> urls = startDemo();
        for (int i = 0; i < urls.size(); i++) {
            context.getPropertiesComponent().addOverrideProperty("router.demo-backend-" + (i + 1), urls.get(i));
        }
        if (demoRoutes.isEmpty()) { // routes/ has no demo file (deleted, or another routes-dir): the same routes
            loadRoutes(context, GENERATED, RoutesYaml.of(ModelCatalogue.fromStatic(String.join(",", urls),
                    "demo-small,demo-small,demo-large", "demo:demo-small", "chat,chat,chat", null, "demo-large:demo-small")));
        }
    }

    private static boolean fromDemoFile(RouteDefinition r) {
        return from(r, DEMO_FILE);
    }

    private static boolean from(RouteDefinition r, String file) {
        return r.getResource() != null && r.getResource().getLocation() != null
                && r.getResource().getLocation().endsWith("/" + file);
    }

    /** Whether a route other than the demo's serves a model. */
    private static boolean servesAModel(CamelContext context) {
        return context.getCamelContextExtension().getContextPlugin(Model.class)
                .getRouteDefinitions().stream()
                .anyMatch(r -> !fromDemoFile(r) && r.getInput() != null && r.getInput().getEndpointUri() != null
                        && r.getInput().getEndpointUri().startsWith("model:"));
    }

    /** Watches routes/ and the dynamic config; a change is checked, then applied as one (LiveRoutes). */
    private void startLiveChanges(CamelContext context, Settings settings, boolean watch, long pollMs, long drainMs) {
        // with discovery, attached under its lock: a model found meanwhile is not left out of LiveRoutes
        Supplier<LiveRoutes> start = () -> LiveRoutes.start(context, watch ? settings.routesDir : null, pollMs,
                drainMs, liveIgnores);
        live = discovery != null ? discovery.attach(start) : start.get();
        if (settings.dynamicConfigFile != null) {
            dynamic = DynamicConfig.watch(settings.dynamicConfigFile, settings.dynamicConfigJson, settings.dynamicConfig,
                    settings.baseRouterProperties, live,
                    context.getComponent("llm", LlmComponent.class), discovery, GENERATED, pollMs);
            context.getRegistry().bind(DynamicConfig.BEAN, dynamic);
        }
    }

    private static void loadRoutes(CamelContext context, String source, String yaml) {
        try {
            PluginHelper.getRoutesLoader(context)
                    .loadRoutes(ResourceHelper.fromString(source, yaml));
        } catch (Exception e) {
            throw new IllegalStateException("the model routes made from the static configuration do not load: " + e.getMessage(), e);
        }
    }

    private static String value(Map<String, String> rp, String key, String def) {
        return ModelCatalogue.routerKey(rp, key, def);
    }

    /** Three fake backends: two serve demo-small (round robin), one demo-large, whose fallback is demo-small. */
    private List<String> startDemo() {
        demoVertx = Vertx.vertx();
        List<String> urls = new ArrayList<>();
        String[][] spec = {{"demo-backend-1", "demo-small"}, {"demo-backend-2", "demo-small"}, {"demo-backend-3", "demo-large"}};
        for (String[] s : spec) {
            FakeOpenAiBackend backend = new FakeOpenAiBackend(demoVertx, s[0], s[1]);
            backend.chunks(8);
            backend.chunkDelayMs(150);
            backend.start(0);
            demoBackends.add(backend);
            urls.add(backend.url());
        }
        System.out.println("camel-llm-router: no backends configured; started demo backends " + urls
                + " serving demo-small, demo-large and the alias demo (routes/" + DEMO_FILE + ")");
        return urls;
    }

    public CamelContext context() {
        return main.getCamelContext();
    }

    public void stop() {
        try {
            RouterTracing.shutdown();
            ErrorReports.shutdown();
            if (dynamic != null) {
                dynamic.close();
            }
            if (live != null) {
                live.close();
            }
            if (discovery != null) {
                discovery.close();
            }
            main.stop();
        } finally {
            stopDemo();
        }
    }

    private void stopDemo() {
        demoBackends.forEach(FakeOpenAiBackend::stop);
        demoBackends.clear();
        if (demoVertx != null) {
            demoVertx.close();
            demoVertx = null;
        }
    }

    /** A bad command line or configuration: one line, exit code 2. */
    public static final class UsageException extends Exception {
        UsageException(String message) {
            super(message, null, false, false);
        }
    }

    /** The effective configuration: config/application.properties overlaid with the flags, validated. */
    public static final class Settings {
        Map<String, String> routerProperties = new LinkedHashMap<>();
        ModelCatalogue catalogue;
        boolean demo; // router.demo=true: demo backends whatever else is configured
        boolean demoWhenNoModel; // router.demo=auto with nothing configured: demo backends if routes/ has no model
        boolean k8s;
        /** vLLM flags given that configure what this router does not have (warned about at start). */
        Set<String> ignoredFlags = Set.of();
        String propertiesLocation;
        String routesPattern;
        Path routesDir; // null when the routes come from the jar
        Path dynamicConfigFile; // --dynamic-config-json or --dynamic-config-yaml
        Map<String, Object> dynamicConfig;
        Map<String, String> baseRouterProperties; // without the dynamic config's fields
        boolean dynamicConfigJson;
        String exitNow; // help, version or printed routes

        public ModelCatalogue catalogue() {
            return catalogue;
        }

        public static Settings parse(String[] args, Path workDir) throws UsageException {
            return parse(args, workDir, Map.of());
        }

        /** @param overrides configuration keys that override config/application.properties (before the flags) */
        public static Settings parse(String[] args, Path workDir, Map<String, String> overrides) throws UsageException {
            RouterOptions options = new RouterOptions();
            // as argparse in the vLLM router: a repeated flag, the last wins; a unique prefix of a flag is the flag
            CommandLine cli = new CommandLine(options).setOverwrittenOptionsAllowed(true).setAbbreviatedOptionsAllowed(true);
            Set<String> ignored = new LinkedHashSet<>();
            try {
                cli.parseArgs(RouterOptions.withoutIgnored(args, ignored));
            } catch (CommandLine.ParameterException e) {
                throw new UsageException(e.getMessage() + " (see --help)");
            }
            Settings s = new Settings();
            s.ignoredFlags = ignored;
            if (cli.isUsageHelpRequested()) {
                s.exitNow = cli.getUsageMessage() + "Also accepted, as in the vLLM router, and ignored with a warning (they configure"
                        + " what this router does not have):\n  " + String.join(" ", new TreeSet<>(RouterOptions.IGNORED))
                        + " " + String.join(" ", RouterOptions.IGNORED_SWITCHES) + "\n";
                return s;
            }
            if (cli.isVersionHelpRequested()) {
                s.exitNow = "camel-llm-router " + version() + "\n";
                return s;
            }
            Path config = workDir.resolve("config/application.properties");
            Properties file = new Properties();
            try (InputStream in = Files.exists(config) ? Files.newInputStream(config)
                    : RouterMain.class.getResourceAsStream("/application.properties")) {
                if (in != null) {
                    file.load(in);
                }
            } catch (IOException e) {
                throw new UsageException("cannot read " + config + ": " + e.getMessage());
            }
            s.propertiesLocation = Files.exists(config) ? "file:" + config.toAbsolutePath()
                    : "classpath:application.properties;optional=true";
            for (String key : file.stringPropertyNames()) {
                if (key.startsWith("router.")) {
                    s.routerProperties.put(key, file.getProperty(key).trim());
                }
            }
            overrides.forEach((k, v) -> {
                if (k.startsWith("router.")) {
                    s.routerProperties.put(k, v);
                }
            });
            Path routes = workDir.resolve(s.routerProperties.getOrDefault("router.routes-dir", "routes"));
            if (Files.isDirectory(routes)) {
                s.routesDir = routes.toAbsolutePath().normalize();
                s.routesPattern = "file:" + s.routesDir + "/*.camel.yaml";
            } else {
                s.routesPattern = "classpath:routes/*.camel.yaml";
            }
            Map<String, String> flags = options.asProperties();
            s.routerProperties.putAll(flags);
            s.readDynamicConfig(workDir);
            s.validate(flags);
            if (options.printRoutes) {
                s.exitNow = s.catalogue.isEmpty() ? "# no static models configured\n" : RoutesYaml.of(s.catalogue);
            }
            return s;
        }

        /** The dynamic config's fields replace the flags' (as in the vLLM router); the file is then watched. */
        private void readDynamicConfig(Path workDir) throws UsageException {
            String json = get("dynamic-config-json", null);
            String yaml = get("dynamic-config-yaml", null);
            if (json != null && yaml != null) {
                throw new UsageException("give --dynamic-config-json or --dynamic-config-yaml, not both");
            }
            if (json == null && yaml == null) {
                return;
            }
            dynamicConfigFile = workDir.resolve(json != null ? json : yaml).toAbsolutePath().normalize();
            try {
                dynamicConfigJson = json != null;
                dynamicConfig = DynamicConfig.read(dynamicConfigFile, dynamicConfigJson);
            } catch (IllegalArgumentException e) {
                throw new UsageException(e.getMessage());
            }
            // as in the vLLM router, the file sets discovery and routing: a field it leaves out takes its default
            DynamicConfig.routerKeys().forEach(routerProperties::remove);
            baseRouterProperties = new LinkedHashMap<>(routerProperties);
            routerProperties.putAll(DynamicConfig.asRouterProperties(dynamicConfig));
        }

        private void validate(Map<String, String> flags) throws UsageException {
            for (String key : NOT_SUPPORTED_YET) {
                String v = routerProperties.get("router." + key);
                if (v != null && !v.isBlank() && !"false".equalsIgnoreCase(v)) {
                    throw new UsageException("--" + key + (flags.containsKey("router." + key) ? "" : " (router." + key + " in config)")
                            + " is not supported yet");
                }
            }
            String rewriter = get("request-rewriter", "noop");
            if (!"noop".equals(rewriter)) {
                throw new UsageException("--request-rewriter " + rewriter + " is not supported: the vLLM router's only rewriter is noop");
            }
            String discovery = get("service-discovery", "static");
            if (!"static".equals(discovery) && !"k8s".equals(discovery)) {
                throw new UsageException("--service-discovery must be static or k8s, got '" + discovery + "'");
            }
            if (flags.containsKey("router.static-backends") && get("static-backends", null) == null) {
                throw new UsageException("--static-backends is empty (an unset environment variable?); give the backend URLs");
            }
            // never fail open: a static discovery asked for explicitly, with no backends, is a mistake (an empty
            // environment variable in a deployment), not a wish for the demo
            if ("static".equals(discovery) && flags.containsKey("router.service-discovery") && dynamicConfigFile == null
                && get("static-backends", null) == null) {
                throw new UsageException("--service-discovery static needs --static-backends and --static-models; both are empty");
            }
            k8s = "k8s".equals(discovery);
            if (k8s) {
                String type = get("k8s-service-discovery-type", "pod-ip");
                if (!"pod-ip".equals(type)) {
                    throw new UsageException("--k8s-service-discovery-type " + type + " is not supported yet; use pod-ip");
                }
                if (get("static-backends", null) != null) {
                    throw new UsageException("--static-backends cannot be used with --service-discovery k8s");
                }
                intValue("k8s-port", get("k8s-port", "8000"), 1, 65535);
                intValue("k8s-watcher-timeout-seconds", get("k8s-watcher-timeout-seconds", "0"), 0, 86400);
            }
            String logic = get("routing-logic", "roundrobin");
            if (Set.of("kvaware", "disaggregated_prefill").contains(logic)) {
                throw new UsageException("--routing-logic " + logic + " is not supported yet; use roundrobin, session, least-loaded or prefixaware");
            }
            if (!Set.of("roundrobin", "session", "least-loaded", "prefixaware").contains(logic)) {
                throw new UsageException("--routing-logic must be roundrobin, session, least-loaded or prefixaware, got '" + logic + "'");
            }
            intValue("request-stats-window", get("request-stats-window", "60"), 1, 3600);
            intValue("engine-stats-interval", get("engine-stats-interval", "30"), 0, 86400);
            intValue("log-stats-interval", get("log-stats-interval", "10"), 1, 86400);
            intValue("prefix-min-match-length", get("prefix-min-match-length", "256"), 1, 1 << 20);
            if ("session".equals(logic) && get("session-key", null) == null) {
                throw new UsageException("--routing-logic session needs --session-key <header name>");
            }
            int port = intValue("port", get("port", "8001"), 1, 65535);
            routerProperties.put("router.port", Integer.toString(port));
            routerProperties.putIfAbsent("router.host", "0.0.0.0");
            intValue("max-instance-failover-reroute-attempts", get("max-instance-failover-reroute-attempts", "2"), 0, 100);
            intValue("static-backend-health-check-interval", get("static-backend-health-check-interval", "60"), 1, 86400);
            intValue("static-backend-health-check-timeout-seconds", get("static-backend-health-check-timeout-seconds", "10"), 1, 3600);
            intValue("backend-health-check-timeout-seconds", get("backend-health-check-timeout-seconds", "10"), 1, 3600);
            String checks = get("static-backend-health-checks", "false");
            if (!"true".equalsIgnoreCase(checks) && !"false".equalsIgnoreCase(checks)) {
                throw new UsageException("--static-backend-health-checks takes true or false, got '" + checks + "'");
            }
            String level = get("log-level", "info").toLowerCase();
            if (!Set.of("debug", "info", "warning", "warn", "error", "critical", "trace").contains(level)) {
                throw new UsageException("--log-level must be debug, info, warning, error or critical, got '" + level + "'");
            }
            String format = get("log-format", "text");
            if (!"text".equals(format) && !"json".equals(format)) {
                throw new UsageException("--log-format must be text or json, got '" + format + "'");
            }
            if ("json".equals(format) && System.getProperty("log4j2.configurationFile") == null) {
                // must be chosen before Log4j starts: one JSON object per line, for every logger
                System.setProperty("log4j2.configurationFile", "log4j2-json.properties");
            }
            RequestRecord.jsonFormat("json".equals(format));
            String otel = get("otel-endpoint", null);
            if (otel != null) {
                String secure = get("otel-secure", "false");
                RouterTracing.configure(otel, get("otel-service-name", "camel-llm-router"),
                        "true".equalsIgnoreCase(secure));
            }
            String sentry = get("sentry-dsn", null);
            if (sentry != null && !sentry.isBlank()) {
                double rate;
                try {
                    rate = Double.parseDouble(get("sentry-traces-sample-rate", "0"));
                } catch (NumberFormatException e) {
                    throw new UsageException("--sentry-traces-sample-rate must be a number from 0 to 1, got '"
                            + get("sentry-traces-sample-rate", "") + "'");
                }
                if (rate < 0 || rate > 1) {
                    throw new UsageException("--sentry-traces-sample-rate must be from 0 to 1, got " + rate);
                }
                try {
                    ErrorReports.configure(sentry, rate, RouterVersion.get());
                } catch (RuntimeException e) {
                    throw new UsageException("--sentry-dsn is not a valid Sentry DSN: " + e.getMessage());
                }
            }
            LogLevels.apply(level);
            try {
                catalogue = ModelCatalogue.fromRouterProperties(routerProperties);
            } catch (IllegalArgumentException e) {
                throw new UsageException(e.getMessage());
            }
            String demoSetting = get("demo", "auto");
            demo = "true".equals(demoSetting);
            // whether routes/ serves a model is known once its routes are loaded (startLiveChanges)
            demoWhenNoModel = "auto".equals(demoSetting) && catalogue.isEmpty() && !k8s && dynamicConfigFile == null;
        }

        private String get(String key, String def) {
            return ModelCatalogue.routerKey(routerProperties, key, def);
        }

        private static int intValue(String flag, String value, int min, int max) throws UsageException {
            try {
                int v = Integer.parseInt(value.trim());
                if (v < min || v > max) {
                    throw new UsageException("--" + flag + " must be between " + min + " and " + max + ", got " + v);
                }
                return v;
            } catch (NumberFormatException e) {
                throw new UsageException("--" + flag + " must be a whole number, got '" + value + "'");
            }
        }
    }

    static String version() {
        return RouterVersion.get();
    }

}
