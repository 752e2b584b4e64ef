package io.github.camelllmrouter.backend;

import io.vertx.core.Context;
import io.vertx.core.Handler;

/**
 * The failure of a backend's event stream while it waits, paused, for the relay to take it over. Vert.x drops a
 * failure that arrives before a handler is set (it logs it), so a backend that closes right after its headers
 * would leave the client waiting for the idle timeout; this keeps it and hands it over.
 */
public final class StreamFailure implements Handler<Throwable> {

    private final Context context;
    private Throwable early;
    private Handler<Throwable> handler;

    StreamFailure(Context context) {
        this.context = context;
    }

    /** The stream's own Vert.x context: its data, its end and its failure come there. */
    public Context context() {
        return context;
    }

    @Override
    public void handle(Throwable failure) {
        Handler<Throwable> h;
        synchronized (this) {
            h = handler;
            if (h == null) {
                if (early == null) {
                    early = failure;
                }
                return;
            }
        }
        h.handle(failure);
    }

    /**
     * Where failures go from now on. Call it after resuming the stream: a failure that came early is delivered
     * on the stream's context, after the data that arrived before it as far as that data flows at once (if the
     * relay pauses the stream for a slow client, the failure can come first and the rest of that data is lost).
     */
    public void handler(Handler<Throwable> handler) {
        Throwable seen;
        synchronized (this) {
            this.handler = handler;
            seen = early;
            early = null;
        }
        if (seen != null) {
            context.runOnContext(v -> handler.handle(seen));
        }
    }
}
