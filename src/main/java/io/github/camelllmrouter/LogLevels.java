package io.github.camelllmrouter;

import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.core.config.Configurator;

/**
 * Maps the vLLM router's --log-level names onto Log4j levels for the router's own loggers. Camel's own INFO
 * lines (its auto-configuration and property summaries, about 60 lines at start) show only at debug.
 */
final class LogLevels {

    private LogLevels() {
    }

    static void apply(String level) {
        Level l = switch (level) {
            case "trace" -> Level.TRACE;
            case "debug" -> Level.DEBUG;
            case "warning", "warn" -> Level.WARN;
            case "error" -> Level.ERROR;
            case "critical" -> Level.FATAL;
            default -> Level.INFO;
        };
        Configurator.setLevel("io.github.camelllmrouter", l);
        Configurator.setLevel("org.apache.camel", l.isLessSpecificThan(Level.DEBUG) ? Level.INFO
                : l.isMoreSpecificThan(Level.WARN) ? l : Level.WARN);
    }
}
