package io.github.camelllmrouter.http;

import java.nio.charset.StandardCharsets;
import java.util.Set;

import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.util.ReferenceCountUtil;

/**
 * What the front door answers itself, in OpenAI's JSON shape, before a request reaches the routes: a request
 * Netty could not decode (400, 414 for a request line too long, 431 for headers too large; the connection is
 * closed), HTTP/1.1 without Host (400), a method the router has no use for (405), OPTIONS (a CORS preflight when
 * the origin is allowed, otherwise 405), every request once shutdown has begun (503; {@code /health}
 * answers {@code {"status":"stopping"}}), and every request while no route serves the port yet (503,
 * {@code {"status":"starting"}}). Adds the CORS headers to the answers of allowed origins.
 */
final class Gate extends ChannelDuplexHandler {

    private static final Set<HttpMethod> ROUTED = Set.of(HttpMethod.GET, HttpMethod.HEAD, HttpMethod.POST,
            HttpMethod.PUT, HttpMethod.DELETE, HttpMethod.PATCH);

    private final FrontDoor door;
    private String corsOrigin; // the allowed Origin of the request being answered

    Gate(FrontDoor door) {
        this.door = door;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        if (!(msg instanceof FullHttpRequest request)) {
            super.channelRead(ctx, msg);
            return;
        }
        long start = System.nanoTime();
        try {
            if (!answered(ctx, request, start)) {
                super.channelRead(ctx, msg);
                return;
            }
        } catch (RuntimeException e) {
            door.answer(ctx, request, start, HttpResponseStatus.BAD_REQUEST, "invalid_request", "The request could not be read.", true);
        }
        ReferenceCountUtil.release(request);
    }

    /** Answers the request here when the routes have nothing to do with it; false passes it on. */
    private boolean answered(ChannelHandlerContext ctx, FullHttpRequest request, long start) {
        DecoderResult decoded = request.decoderResult();
        if (decoded.isFailure()) {
            Throwable cause = decoded.cause();
            if (cause instanceof RequestSizeGuard.BodyTooLarge) {
                // the rest of the body may still be on its way: the connection closes once it is in and this is out
                door.refuseBody(ctx, request, start, cause.getMessage());
            } else if (cause instanceof TooLongHttpLineException) {
                door.answer(ctx, request, start, HttpResponseStatus.REQUEST_URI_TOO_LONG, "uri_too_long",
                        "The request line is longer than the router accepts.", true);
            } else if (cause instanceof TooLongHttpHeaderException || cause instanceof TooLongFrameException) {
                door.answer(ctx, request, start, HttpResponseStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "headers_too_large",
                        "The request headers are larger than the router accepts.", true);
            } else {
                door.answer(ctx, request, start, HttpResponseStatus.BAD_REQUEST, "invalid_http",
                        "The request is not valid HTTP/1.1: " + cause.getMessage() + ".", true);
            }
            return true;
        }
        corsOrigin = door.allowedOrigin(request.headers().get(HttpHeaderNames.ORIGIN));
        if (door.stopping()) {
            unavailable(ctx, request, start, "stopping", "shutting_down",
                    "The router is shutting down; send the request again (another replica will answer).", true);
            return true;
        }
        if (door.unserved()) {
            unavailable(ctx, request, start, "starting", "starting", "The router is starting; send the request again in a moment.", false);
            return true;
        }
        if (!request.headers().contains(HttpHeaderNames.HOST)) {
            if (request.protocolVersion().equals(HttpVersion.HTTP_1_1)) {
                door.answer(ctx, request, start, HttpResponseStatus.BAD_REQUEST, "missing_host",
                        "An HTTP/1.1 request needs a Host header.", true);
                return true;
            }
            request.headers().set(HttpHeaderNames.HOST, door.hostOf(ctx.channel())); // HTTP/1.0 may leave it out
        }
        if (HttpMethod.OPTIONS.equals(request.method())) {
            if (corsOrigin != null && request.headers().contains(HttpHeaderNames.ACCESS_CONTROL_REQUEST_METHOD)) {
                door.preflight(ctx, request, start, corsOrigin);
            } else {
                door.answer(ctx, request, start, HttpResponseStatus.METHOD_NOT_ALLOWED, "method_not_allowed",
                        "Method OPTIONS is not allowed here" + (door.corsEnabled() ? " (CORS: origin not allowed)." : "."), false);
            }
            return true;
        }
        if (!ROUTED.contains(request.method())) {
            door.answer(ctx, request, start, HttpResponseStatus.METHOD_NOT_ALLOWED, "method_not_allowed",
                    "Method " + request.method().name() + " is not allowed here.", false);
            return true;
        }
        return false;
    }

    /** 503: {@code /health} gets {@code {"status":<status>}}, any other path an OpenAI-style error. */
    private void unavailable(ChannelHandlerContext ctx, FullHttpRequest request, long start, String status, String code,
                             String message, boolean close) {
        if ("/health".equals(new QueryStringDecoder(request.uri()).path())) {
            door.answer(ctx, request, start, HttpResponseStatus.SERVICE_UNAVAILABLE, status,
                    ("{\"status\":\"" + status + "\"}").getBytes(StandardCharsets.UTF_8), close);
        } else {
            door.answer(ctx, request, start, HttpResponseStatus.SERVICE_UNAVAILABLE, code, message, close);
        }
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) throws Exception {
        if (msg instanceof HttpResponse response && corsOrigin != null) {
            door.corsHeaders(response.headers(), corsOrigin);
        }
        super.write(ctx, msg, promise);
    }
}
