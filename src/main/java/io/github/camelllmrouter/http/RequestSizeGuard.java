package io.github.camelllmrouter.http;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.AttributeKey;
import io.netty.util.ReferenceCountUtil;
import org.apache.camel.component.netty.ChannelHandlerFactory;

/**
 * Refuses a request body over the limit before it is aggregated, whether the client announced its length or sends
 * it chunked: the request goes on as a decoding failure, which the front door answers with an OpenAI-shaped 413 in
 * its turn (after any answer still owed on the connection) and then closes the connection. Installed on the
 * netty-http server with {@code decoders=#requestSizeGuard} (netty-http's own aggregator would answer an empty 413).
 */
public class RequestSizeGuard implements ChannelHandlerFactory {

    private long maxRequestBytes = 8 * 1024 * 1024;

    public void setMaxRequestBytes(long maxRequestBytes) {
        this.maxRequestBytes = maxRequestBytes;
    }

    @Override
    public ChannelHandler newChannelHandler() {
        return new Guard(maxRequestBytes);
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
    }

    @Override
    public void handlerRemoved(ChannelHandlerContext ctx) {
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        ctx.fireExceptionCaught(cause);
    }

    static final class Guard extends ChannelInboundHandlerAdapter {
        private final long max;
        private long seen;
        private boolean refused;

        Guard(long max) {
            this.max = max;
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (refused) {
                // the rest of a refused body is read and dropped (so the client, still sending, gets to read the 413);
                // the connection closes once the body is in and the 413 is out
                boolean last = msg instanceof LastHttpContent;
                ReferenceCountUtil.release(msg);
                if (last) {
                    bodyIn(ctx.channel());
                }
                return;
            }
            if (msg instanceof HttpRequest request && request.decoderResult().isFailure()) {
                ctx.fireChannelRead(msg); // not a request: the front door answers it (its headers may be anything)
                return;
            }
            if (msg instanceof HttpRequest r) {
                seen = 0;
                long declared = HttpUtil.getContentLength(r, -1L);
                if (declared > max) {
                    refused = true;
                    // its headers only, failed: answered 413 in its turn (after the answers owed before it)
                    FullHttpRequest refusal = new DefaultFullHttpRequest(r.protocolVersion(), r.method(), r.uri());
                    refusal.headers().set(r.headers());
                    refusal.setDecoderResult(DecoderResult.failure(new BodyTooLarge(max)));
                    ReferenceCountUtil.release(msg);
                    ctx.fireChannelRead(refusal);
                    return;
                }
            }
            if (msg instanceof HttpContent content) {
                seen += content.content().readableBytes();
                if (seen > max) {
                    refused = true;
                    ReferenceCountUtil.release(msg);
                    // ends the request being aggregated, failed: answered 413 in its turn
                    boolean last = msg instanceof LastHttpContent;
                    LastHttpContent end = new DefaultLastHttpContent();
                    end.setDecoderResult(DecoderResult.failure(new BodyTooLarge(max)));
                    ctx.fireChannelRead(end);
                    if (last) {
                        bodyIn(ctx.channel());
                    }
                    return;
                }
                if (msg instanceof LastHttpContent) {
                    seen = 0;
                }
            }
            ctx.fireChannelRead(msg);
        }
    }

    private static final AttributeKey<Boolean> BODY_IN = AttributeKey.valueOf("llmRouterRefusedBodyIn");
    private static final AttributeKey<Boolean> ANSWERED = AttributeKey.valueOf("llmRouterRefusalAnswered");

    /** The refused body has been read to its end: close, if the 413 is out already. */
    static void bodyIn(Channel channel) {
        if (Boolean.TRUE.equals(channel.attr(ANSWERED).get())) {
            channel.close();
        } else {
            channel.attr(BODY_IN).set(true);
        }
    }

    /** The 413 has been written: close, if the refused body is in already. */
    static void answered(Channel channel) {
        if (Boolean.TRUE.equals(channel.attr(BODY_IN).get())) {
            channel.close();
        } else {
            channel.attr(ANSWERED).set(true);
        }
    }

    /** A body over the limit: the decoding failure the front door answers with an OpenAI-style 413. */
    static final class BodyTooLarge extends Exception {
        BodyTooLarge(long max) {
            super("The request body is larger than the limit of " + max + " bytes.", null, false, false);
        }
    }
}
