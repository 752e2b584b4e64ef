package io.github.camelllmrouter;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.core.LogEvent;
import org.apache.logging.log4j.core.LoggerContext;
import org.apache.logging.log4j.core.appender.AbstractAppender;
import org.apache.logging.log4j.core.config.LoggerConfig;
import org.apache.logging.log4j.core.config.Property;

/** Collects the messages one logger writes while a test runs. */
final class LogCapture implements AutoCloseable {

    private final String logger;
    private final List<String> lines = new CopyOnWriteArrayList<>();

    private LogCapture(String logger) {
        this.logger = logger;
        AbstractAppender appender = new AbstractAppender("capture-" + logger, null, null, true, Property.EMPTY_ARRAY) {
            @Override
            public void append(LogEvent event) {
                lines.add(event.getMessage().getFormattedMessage());
            }
        };
        appender.start();
        LoggerContext ctx = (LoggerContext) LogManager.getContext(false);
        LoggerConfig config = new LoggerConfig(logger, Level.INFO, true);
        config.addAppender(appender, null, null);
        ctx.getConfiguration().addLogger(logger, config);
        ctx.updateLoggers();
    }

    static LogCapture of(String logger) {
        return new LogCapture(logger);
    }

    List<String> lines() {
        return lines;
    }

    @Override
    public void close() {
        LoggerContext ctx = (LoggerContext) LogManager.getContext(false);
        ctx.getConfiguration().removeLogger(logger);
        ctx.updateLoggers();
    }
}
