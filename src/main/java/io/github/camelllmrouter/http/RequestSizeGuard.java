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
import io.github.camelllmrouter.backend.LlmComponent;
import io.github.camelllmrouter.backend.RouterMetrics;
import org.apache.camel.CamelContext;
import org.apache.camel.CamelContextAware;
import org.apache.camel.component.netty.ChannelHandlerFactory;

/**
 * Refuses a request body over the limit with an OpenAI-shaped 413 before it is aggregated, whether the client
 * announced its length or sends it chunked. Installed on the netty-http server with {@code decoders=#requestSizeGuard}
 * (netty-http's own aggregator would answer an empty 413).
 */
public class RequestSizeGuard implements ChannelHandlerFactory, CamelContextAware {

    private long maxRequestBytes = 8 * 1024 * 1024;
    private CamelContext context;
    private volatile RouterMetrics metrics;

    @Override
    public void setCamelContext(CamelContext context) {
        this.context = context;
    }

    @Override
    public CamelContext getCamelContext() {
        return context;
    }

    /** Where a refused body is counted, like any other request the router answers itself. */
    RouterMetrics metrics() {
        RouterMetrics m = metrics;
        if (m == null && context != null) {
            m = context.getComponent("llm", LlmComponent.class).metrics();
            metrics = m;
        }
        return m;
    }

    public void setMaxRequestBytes(long maxRequestBytes) {
        this.maxRequestBytes = maxRequestBytes;
    }

    @Override
    public ChannelHandler newChannelHandler() {
        return new Guard(maxRequestBytes, this);
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
        private final RequestSizeGuard owner;
        private long seen;
        private boolean refused;
        private HttpRequest request;

        Guard(long max, RequestSizeGuard owner) {
            this.max = max;
            this.owner = owner;
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
            if (msg instanceof HttpRequest r) {
                request = r;
                seen = 0;
                long declared = HttpUtil.getContentLength(r, -1L);
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
            RouterMetrics metrics = owner.metrics();
            if (metrics != null) {
                RequestRecord.routerAnswer(metrics, request, request == null ? null : request.uri(), 413, "request_too_large", 0);
            }
            boolean last = msg instanceof LastHttpContent;
            ReferenceCountUtil.release(msg);
            if (last) {
                ctx.close();
            }
        }
    }
}
