package io.github.camelllmrouter.http;

import java.util.ArrayDeque;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.util.ReferenceCountUtil;

/**
 * HTTP/1.1 pipelining, answered in order: a connection's next request is handed on only once the answer to the
 * one before it has been written in full, so no client ever reads another request's answer. Requests that came
 * early wait here (reading from the connection pauses while any wait).
 */
final class InOrder extends ChannelDuplexHandler {

    private final ArrayDeque<FullHttpRequest> waiting = new ArrayDeque<>();
    private boolean busy;
    private boolean closing;

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        if (!(msg instanceof FullHttpRequest request)) {
            super.channelRead(ctx, msg);
            return;
        }
        if (busy) {
            waiting.add(request);
            ctx.channel().config().setAutoRead(false);
            return;
        }
        busy = true;
        super.channelRead(ctx, msg);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) throws Exception {
        if (msg instanceof HttpResponse r && HttpHeaderValues.CLOSE.contentEqualsIgnoreCase(r.headers().get(HttpHeaderNames.CONNECTION, ""))) {
            closing = true; // an answer that closes the connection: nothing after it is processed (RFC 9112 §9.6)
        }
        ChannelPromise p = AnswerEnd.whenWritten(msg, promise, () -> next(ctx));
        super.write(ctx, msg, p);
    }

    private void next(ChannelHandlerContext ctx) {
        if (closing || !ctx.channel().isActive()) {
            waiting.forEach(ReferenceCountUtil::release);
            waiting.clear();
            return;
        }
        busy = false;
        FullHttpRequest request = waiting.poll();
        if (request != null) {
            busy = true;
            ctx.fireChannelRead(request);
        }
        if (waiting.isEmpty()) {
            ctx.channel().config().setAutoRead(true);
        }
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        waiting.forEach(ReferenceCountUtil::release);
        waiting.clear();
        super.channelInactive(ctx);
    }
}
