package io.github.camelllmrouter;

import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.core.config.Configurator;

/** Maps the vLLM router's --log-level names onto Log4j levels for the router's own loggers. */
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
    }
}
