package io.github.camelllmrouter.backend;

import org.apache.camel.Channel;
import org.apache.camel.Processor;
import org.apache.camel.processor.errorhandler.NoErrorHandler;

/**
 * Camel's channels around a route's steps, seen through when nothing is woven into them: no error handler (or
 * {@code noErrorHandler}, as the router's routes have) and no interceptor. A step seen through them changes the
 * exchange only as the step itself does, which is what lets the breaker and the balancer run it without a copy.
 */
final class PlainChannels {

    private PlainChannels() {
    }

    /** The step inside {@code p}'s channels, or null when an error handler or interceptor is woven into one. */
    static Processor inside(Processor p) {
        Processor current = p;
        while (current instanceof Channel channel) {
            Processor out = channel.getOutput();
            if (out instanceof NoErrorHandler none) {
                out = none.getOutput();
            }
            if (out != channel.getNextProcessor()) {
                return null;
            }
            current = channel.getNextProcessor();
        }
        return current;
    }
}
