package io.github.camelllmrouter.http;

import io.github.camelllmrouter.openai.OpenAiException;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.ReferenceCountUtil;
import org.apache.camel.component.netty.ChannelHandlerFactory;

/**
 * Refuses a request body over the limit with an OpenAI-shaped 413 before it is aggregated, whether the client
 * announced its length or sends it chunked. Installed on the netty-http server with {@code decoders=#requestSizeGuard}
 * (netty-http's own aggregator would answer an empty 413).
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
                // the rest of a refused body is read and dropped, so the client (still sending) gets to read the 413
                boolean last = msg instanceof LastHttpContent;
                ReferenceCountUtil.release(msg);
                if (last) {
                    ctx.close();
                }
                return;
            }
            if (msg instanceof HttpRequest request && request.decoderResult().isFailure()) {
                ctx.fireChannelRead(msg); // not a request: the front door answers it (its headers may be anything)
                return;
            }
            if (msg instanceof HttpRequest request) {
                seen = 0;
                long declared = HttpUtil.getContentLength(request, -1L);
                if (declared > max) {
                    refuse(ctx, msg);
                    return;
                }
            }
            if (msg instanceof HttpContent content) {
                seen += content.content().readableBytes();
                if (seen > max) {
                    refuse(ctx, msg);
                    return;
                }
                if (msg instanceof LastHttpContent) {
                    seen = 0;
                }
            }
            ctx.fireChannelRead(msg);
        }

        private void refuse(ChannelHandlerContext ctx, Object msg) {
            refused = true;
            byte[] json = new OpenAiException(413, "invalid_request_error", "request_too_large", null,
                    "The request body is larger than the limit of " + max + " bytes.").toJson();
            FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                    HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, Unpooled.wrappedBuffer(json));
            response.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON);
            response.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, json.length);
            // the rest of the body is still on the wire: close rather than read it as a next request
            response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            // written from the tail of the pipeline so that it passes the HTTP encoder; closed once the body is in
            ctx.channel().writeAndFlush(response);
            boolean last = msg instanceof LastHttpContent;
            ReferenceCountUtil.release(msg);
            if (last) {
                ctx.close();
            }
        }
    }
}
