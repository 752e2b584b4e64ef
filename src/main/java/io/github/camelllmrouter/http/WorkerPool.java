package io.github.camelllmrouter.http;

import java.lang.reflect.Method;
import java.util.List;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The threads requests run on once they leave the Netty event loop (the {@code threads} step of the inference
 * route). The circuit breaker holds one until the backend's headers arrive; streams are relayed without one.
 * On Java 21+ these are virtual threads; on 17, a cached pool that reuses idle threads and refuses work past
 * {@code maxThreads} busy ones (the client gets a 503, the router stays up).
 */
public class WorkerPool extends AbstractExecutorService {

    private volatile ExecutorService delegate;
    private int maxThreads = 4000;
    private boolean virtualThreads = true;

    public void setMaxThreads(int maxThreads) {
        this.maxThreads = maxThreads;
    }

    public void setVirtualThreads(boolean virtualThreads) {
        this.virtualThreads = virtualThreads;
    }

    private ExecutorService delegate() {
        ExecutorService d = delegate;
        if (d == null) {
            synchronized (this) {
                if (delegate == null) {
                    delegate = create();
                }
                d = delegate;
            }
        }
        return d;
    }

    private ExecutorService create() {
        if (virtualThreads) {
            try {
                Method m = java.util.concurrent.Executors.class.getMethod("newVirtualThreadPerTaskExecutor");
                return (ExecutorService) m.invoke(null);
            } catch (ReflectiveOperationException notJava21) {
                // Java 17: platform threads below
            }
        }
        AtomicInteger n = new AtomicInteger();
        ThreadFactory factory = r -> {
            Thread t = new Thread(r, "llm-worker-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
        return new ThreadPoolExecutor(0, maxThreads, 60, TimeUnit.SECONDS, new SynchronousQueue<>(), factory,
                new ThreadPoolExecutor.AbortPolicy());
    }

    @Override
    public void execute(Runnable command) {
        delegate().execute(command);
    }

    @Override
    public void shutdown() {
        delegate().shutdown();
    }

    @Override
    public List<Runnable> shutdownNow() {
        return delegate().shutdownNow();
    }

    @Override
    public boolean isShutdown() {
        return delegate().isShutdown();
    }

    @Override
    public boolean isTerminated() {
        return delegate().isTerminated();
    }

    @Override
    public boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
        return delegate().awaitTermination(timeout, unit);
    }
}
