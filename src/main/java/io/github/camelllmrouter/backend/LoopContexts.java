package io.github.camelllmrouter.backend;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import io.netty.channel.EventLoop;
import io.netty.util.concurrent.EventExecutor;
import io.vertx.core.Vertx;
import io.vertx.core.impl.ContextInternal;
import io.vertx.core.impl.VertxInternal;

/**
 * Runs a backend call on the Vert.x context of the event loop it is made from. The front door's connections are
 * served by the client's own event loops (FrontDoorComponent), and a call made there without a Vert.x context
 * would get one on another loop: its answer would then come back on another thread and be handed over to the
 * client's. On the caller's own loop, the request, the backend's answer and the write to the client are one
 * thread's work, as in a plain reverse proxy.
 */
final class LoopContexts {

    private final VertxInternal vertx;
    private final Map<EventLoop, ContextInternal> contexts = new ConcurrentHashMap<>();

    LoopContexts(Vertx vertx) {
        this.vertx = (VertxInternal) vertx;
    }

    void run(Runnable call) {
        if (Vertx.currentContext() == null) {
            for (EventExecutor loop : vertx.getEventLoopGroup()) {
                if (loop.inEventLoop()) {
                    contexts.computeIfAbsent((EventLoop) loop, l -> vertx.createEventLoopContext(l, null,
                            Thread.currentThread().getContextClassLoader())).dispatch(call);
                    return;
                }
            }
        }
        call.run();
    }
}
