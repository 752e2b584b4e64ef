package io.github.camelllmrouter.http;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.Arrays;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntSupplier;
import java.util.stream.Collectors;

import io.github.camelllmrouter.backend.LlmComponent;
import io.github.camelllmrouter.backend.RouterMetrics;
import io.github.camelllmrouter.openai.OpenAiException;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import org.apache.camel.CamelContext;
import org.apache.camel.CamelContextAware;
import org.apache.camel.component.netty.NettyConsumer;
import org.apache.camel.component.netty.ServerInitializerFactory;
import org.apache.camel.component.netty.http.HttpServerInitializerFactory;
import org.apache.camel.component.netty.http.NettyHttpConfiguration;
import org.apache.camel.component.netty.http.NettyHttpConsumer;
import org.apache.camel.component.netty.http.handlers.HttpServerMultiplexChannelHandler;
import org.slf4j.LoggerFactory;

/**
 * The router's HTTP front door: netty-http's server pipeline (built by {@link FrontDoorComponent}) with what a
 * server exposed to a whole company needs. Request framing follows RFC 9112 §6
 * ({@link StrictRequestDecoder}); every error it answers itself is OpenAI-shaped JSON with an access-log line and
 * a count ({@link Gate}); pipelined requests are answered in order ({@link InOrder}); slow and idle connections
 * are bounded in time and open connections in number ({@link ConnectionWatch}), all counted on /metrics.
 */
public class FrontDoor extends HttpServerInitializerFactory implements CamelContextAware {

    private long headerTimeoutMs = 10_000;
    private long bodyTimeoutMs = 60_000;
    private long idleTimeoutMs = 60_000;
    private int maxConnections = 16_384;
    private int maxConnectionsPerClient;
    private Set<String> corsOrigins = Set.of();

    // shared by every connection of the server (the bean and the per-consumer copies it makes)
    private AtomicInteger open = new AtomicInteger();
    private Map<InetAddress, AtomicInteger> perClient = new ConcurrentHashMap<>();
    private volatile RouterMetrics metrics;

    private CamelContext context;
    private IntSupplier served;

    /** The bean ({@code camel.beans.frontDoor}); {@link FrontDoorComponent} asks it for each server's pipeline. */
    public FrontDoor() {
    }

    /** Bound as a bean: makes netty-http the front door's component, before any route is built. */
    @Override
    public void setCamelContext(CamelContext context) {
        if (this.context == context) {
            return;
        }
        this.context = context;
        if (context.hasComponent("netty-http") == null) {
            context.addComponent("netty-http", new FrontDoorComponent());
        } else if (!(context.hasComponent("netty-http") instanceof FrontDoorComponent)) {
            LoggerFactory.getLogger(FrontDoor.class).warn("netty-http was set up before the frontDoor bean: the front door's"
                    + " framing checks, JSON errors, ordering and connection limits are not in place");
        }
    }

    @Override
    public CamelContext getCamelContext() {
        return context;
    }

    private FrontDoor(FrontDoor settings, NettyHttpConsumer consumer) {
        super(consumer);
        this.headerTimeoutMs = settings.headerTimeoutMs;
        this.bodyTimeoutMs = settings.bodyTimeoutMs;
        this.idleTimeoutMs = settings.idleTimeoutMs;
        this.maxConnections = settings.maxConnections;
        this.maxConnectionsPerClient = settings.maxConnectionsPerClient;
        this.corsOrigins = settings.corsOrigins;
        this.open = settings.open;
        this.perClient = settings.perClient;
        this.served = settings.served;
    }

    @Override
    public ServerInitializerFactory createPipelineFactory(NettyConsumer consumer) {
        return new FrontDoor(this, (NettyHttpConsumer) consumer);
    }

    /**
     * @param served how many routes consume the server's port now: netty-http binds the port before its first
     *               consumer is added; a request in between is answered 503 here, as a router starting, instead
     *               of netty-http's 404
     */
    ServerInitializerFactory createPipelineFactory(NettyConsumer consumer, IntSupplier served) {
        FrontDoor door = new FrontDoor(this, (NettyHttpConsumer) consumer);
        door.served = served;
        return door;
    }

    @Override
    protected void initChannel(Channel ch) throws Exception {
        super.initChannel(ch);
        ChannelPipeline p = ch.pipeline();
        NettyHttpConfiguration c = consumer.getConfiguration();
        p.replace("decoder", "decoder", new StrictRequestDecoder(c.getMaxInitialLineLength(), c.getMaxHeaderSize(),
                c.getMaxChunkSize()));
        ConnectionWatch watch = new ConnectionWatch(this);
        p.addFirst("first-byte", watch.bytes());
        p.addBefore("aggregator", "connection-watch", watch);
        p.addAfter("aggregator", "in-order", new InOrder());
        p.addAfter("in-order", "gate", new Gate(this));
        // (with usingExecutorService the routes run on netty-http's worker pool, which only its handler hands to)
        if (!c.isUsingExecutorService() && p.get("handler") instanceof HttpServerMultiplexChannelHandler multiplexer) {
            p.addBefore("handler", "same-consumer", new SameConsumer(multiplexer));
        }
    }

    // ------------------------------------------------------------------------------------------ settings

    /** A request's headers must arrive within this long of its first byte (of the connection's opening). */
    public void setHeaderTimeoutSeconds(double s) {
        this.headerTimeoutMs = (long) (s * 1000);
    }

    /** A request's body must arrive within this long of its headers. */
    public void setBodyTimeoutSeconds(double s) {
        this.bodyTimeoutMs = (long) (s * 1000);
    }

    /** A kept-alive connection with no request in progress is closed after this long. */
    public void setIdleTimeoutSeconds(double s) {
        this.idleTimeoutMs = (long) (s * 1000);
    }

    /** Open client connections at most (0: no limit); a connection past it is closed at once. */
    public void setMaxConnections(int maxConnections) {
        this.maxConnections = maxConnections;
    }

    /** Open connections from one client address at most (0: no limit). */
    public void setMaxConnectionsPerClient(int maxConnectionsPerClient) {
        this.maxConnectionsPerClient = maxConnectionsPerClient;
    }

    /** Origins a browser may call the API from ({@code *}: any); empty: CORS off, OPTIONS answers 405. */
    public void setCorsAllowedOrigins(String origins) {
        this.corsOrigins = origins == null ? Set.of() : Arrays.stream(origins.split(","))
                .map(String::trim).filter(o -> !o.isEmpty()).collect(Collectors.toUnmodifiableSet());
    }

    long headerTimeoutMs() {
        return headerTimeoutMs;
    }

    long bodyTimeoutMs() {
        return bodyTimeoutMs;
    }

    long idleTimeoutMs() {
        return idleTimeoutMs;
    }

    // ------------------------------------------------------------------------------------------ connections

    /** A new connection: counted, or refused past a limit (closed, and counted as {@code limit}). */
    boolean admit(Channel channel) {
        InetAddress client = channel.remoteAddress() instanceof InetSocketAddress a ? a.getAddress() : null;
        int total = open.incrementAndGet();
        boolean counted = client != null && maxConnectionsPerClient > 0;
        // counted up and down under the map's lock for that address, so no count is lost to a race
        int fromClient = !counted ? 0 : perClient.compute(client, (k, n) -> {
            AtomicInteger c = n == null ? new AtomicInteger() : n;
            c.incrementAndGet();
            return c;
        }).get();
        channel.closeFuture().addListener(f -> {
            open.decrementAndGet();
            if (counted) {
                perClient.computeIfPresent(client, (k, n) -> n.decrementAndGet() <= 0 ? null : n);
            }
        });
        metrics().clientConnections(open::get);
        if (maxConnections > 0 && total > maxConnections || maxConnectionsPerClient > 0 && fromClient > maxConnectionsPerClient) {
            closed("limit");
            return false;
        }
        return true;
    }

    /** A connection closed by the front door, for /metrics. */
    void closed(String reason) {
        metrics().clientConnectionClosed(reason);
    }

    /** No route consumes the port yet: the server is bound and its first route not added. */
    boolean unserved() {
        return served != null && served.getAsInt() == 0;
    }

    boolean stopping() {
        return consumer.getEndpoint().getCamelContext().isStopping();
    }

    String hostOf(Channel channel) {
        return channel.localAddress() instanceof InetSocketAddress a ? a.getHostString() + ":" + a.getPort() : "localhost";
    }

    private RouterMetrics metrics() {
        RouterMetrics m = metrics;
        if (m == null) {
            m = consumer.getEndpoint().getCamelContext().getComponent("llm", LlmComponent.class).metrics();
            metrics = m;
        }
        return m;
    }

    // ------------------------------------------------------------------------------------------ CORS

    boolean corsEnabled() {
        return !corsOrigins.isEmpty();
    }

    /** The value for Access-Control-Allow-Origin, or null when this origin is not allowed. */
    String allowedOrigin(String origin) {
        if (origin == null || corsOrigins.isEmpty()) {
            return null;
        }
        return corsOrigins.contains(origin) ? origin : corsOrigins.contains("*") ? "*" : null;
    }

    void corsHeaders(HttpHeaders h, String origin) {
        h.set(HttpHeaderNames.ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        if (!"*".equals(origin)) {
            h.add(HttpHeaderNames.VARY, HttpHeaderNames.ORIGIN);
        }
        h.set(HttpHeaderNames.ACCESS_CONTROL_EXPOSE_HEADERS, "x-request-id, x-llm-router-model, x-llm-router-backend, "
                + "x-llm-router-attempts, x-llm-router-fallback-from, x-llm-router-overhead-ms, retry-after");
    }

    /** A CORS preflight: 204 with what the browser asked for. */
    void preflight(ChannelHandlerContext ctx, FullHttpRequest request, long start, String origin) {
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.NO_CONTENT);
        String asked = request.headers().get(HttpHeaderNames.ACCESS_CONTROL_REQUEST_HEADERS);
        response.headers().set(HttpHeaderNames.ACCESS_CONTROL_ALLOW_METHODS, "GET, POST, OPTIONS")
                .set(HttpHeaderNames.ACCESS_CONTROL_ALLOW_HEADERS, asked != null ? asked : "authorization, content-type, x-request-id")
                .set(HttpHeaderNames.ACCESS_CONTROL_MAX_AGE, "600")
                .setInt(HttpHeaderNames.CONTENT_LENGTH, 0);
        corsHeaders(response.headers(), origin); // written from the gate, which adds them only to answers passing it
        send(ctx, response, HttpUtil.isKeepAlive(request));
        RequestRecord.routerAnswer(metrics(), request, path(request), 204, "cors_preflight", System.nanoTime() - start);
    }

    // ------------------------------------------------------------------------------------------ answers

    /** An OpenAI-style error answer to a request, recorded like any other request. */
    void answer(ChannelHandlerContext ctx, FullHttpRequest request, long start, HttpResponseStatus status, String code,
                String message, boolean close) {
        String type = status.code() >= 500 ? "server_error" : "invalid_request_error";
        answer(ctx, request, start, status, code, new OpenAiException(status.code(), type, code, null, message).toJson(), close);
    }

    void answer(ChannelHandlerContext ctx, FullHttpRequest request, long start, HttpResponseStatus status, String code,
                byte[] body, boolean close) {
        send(ctx, json(status, body), !close && !request.decoderResult().isFailure() && HttpUtil.isKeepAlive(request));
        RequestRecord.routerAnswer(metrics(), request, path(request), status.code(), code, System.nanoTime() - start);
    }

    /** A 413 for a body over the limit: sent with Connection: close, closed once the body is in too. */
    void refuseBody(ChannelHandlerContext ctx, FullHttpRequest request, long start, String message) {
        FullHttpResponse response = json(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE,
                new OpenAiException(413, "invalid_request_error", "request_too_large", null, message).toJson());
        response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
        ctx.writeAndFlush(response).addListener(f -> RequestSizeGuard.answered(ctx.channel()));
        RequestRecord.routerAnswer(metrics(), request, path(request), 413, "request_too_large", System.nanoTime() - start);
    }

    /** An answer to a connection whose request never arrived in full (a timeout): JSON, then closed. */
    void refuse(ChannelHandlerContext ctx, HttpResponseStatus status, String code, String message) {
        String type = status.code() >= 500 ? "server_error" : "invalid_request_error";
        send(ctx, json(status, new OpenAiException(status.code(), type, code, null, message).toJson()), false);
        RequestRecord.routerAnswer(metrics(), null, null, status.code(), code, 0);
    }

    static FullHttpResponse json(HttpResponseStatus status, byte[] body) {
        FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, Unpooled.wrappedBuffer(body));
        response.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON)
                .setInt(HttpHeaderNames.CONTENT_LENGTH, body.length);
        return response;
    }

    static void send(ChannelHandlerContext ctx, FullHttpResponse response, boolean keepAlive) {
        if (keepAlive) {
            ctx.writeAndFlush(response);
        } else {
            response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
        }
    }

    private static String path(FullHttpRequest request) {
        try {
            return new QueryStringDecoder(request.uri()).path();
        } catch (IllegalArgumentException badEscape) {
            return request.uri();
        }
    }
}
