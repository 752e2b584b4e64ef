package io.github.camelllmrouter.http;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.util.AttributeKey;
import org.apache.camel.component.netty.http.NettyHttpConfiguration;
import org.apache.camel.component.netty.http.NettyHttpConsumer;
import org.apache.camel.component.netty.http.handlers.HttpServerChannelHandler;
import org.apache.camel.component.netty.http.handlers.HttpServerMultiplexChannelHandler;

/**
 * A kept-alive connection's next request goes straight to the route that took the one before it, when that
 * route is the only one on the port and takes every path and method: netty-http's multiplexer would pick the
 * same route again, matching the path against each route's (a list, a stream and substrings per request: 7 % of
 * what a request allocated). Any other case, a connection's first request included, goes through the
 * multiplexer, which remembers its pick on the connection (the attribute read here). Installed only where the
 * routes run on the event loop ({@code usingExecutorService=false}, as the router's own routes do).
 */
final class SameConsumer extends ChannelInboundHandlerAdapter {

    /**
     * Where netty-http's multiplexer keeps the route it picked for a connection (its own name, not API: should a
     * later Camel rename it, nothing is found here and every request goes through the multiplexer, as before).
     */
    private static final AttributeKey<HttpServerChannelHandler> PICKED = AttributeKey.valueOf("serverHandler");

    private final HttpServerMultiplexChannelHandler multiplexer;

    SameConsumer(HttpServerMultiplexChannelHandler multiplexer) {
        this.multiplexer = multiplexer;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        HttpServerChannelHandler picked = msg instanceof FullHttpRequest ? ctx.channel().attr(PICKED).get() : null;
        if (picked != null && multiplexer.consumers() == 1 && takesEverything(picked.getConsumer())) {
            picked.channelRead(ctx, msg); // as the multiplexer hands it on (that handler releases the request)
        } else {
            ctx.fireChannelRead(msg);
        }
    }

    private static boolean takesEverything(NettyHttpConsumer consumer) {
        NettyHttpConfiguration c = consumer.getConfiguration();
        String path = c.getPath();
        return consumer.isStarted() && !c.isHttpProxy() && c.isMatchOnUriPrefix()
                && (path == null || path.isEmpty() || path.equals("/"))
                && consumer.getEndpoint().getHttpMethodRestrict() == null;
    }
}
