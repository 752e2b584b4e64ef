package io.github.camelllmrouter.http;

import io.netty.handler.codec.http.HttpResponse;
import org.apache.camel.Message;
import org.apache.camel.component.netty.http.DefaultNettyHttpBinding;
import org.apache.camel.component.netty.http.NettyHttpConfiguration;

/**
 * netty-http's binding, told that the {@link Relay} has already answered: the consumer then writes nothing.
 * (netty-http would otherwise serialize the Camel message itself, which cannot stream and would print a stack
 * trace for an exception.)
 */
public class RelayBinding extends DefaultNettyHttpBinding {

    @Override
    public HttpResponse toNettyResponse(Message message, NettyHttpConfiguration configuration) throws Exception {
        if (message.getExchange().getProperty(Relay.ANSWERED, false, Boolean.class)) {
            return null;
        }
        // a route that ended without the relay (should not happen): answer in OpenAI shape, not with a stack trace
        Relay.answerUnexpected(message.getExchange());
        return null;
    }
}
