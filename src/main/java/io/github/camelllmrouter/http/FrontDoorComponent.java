package io.github.camelllmrouter.http;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import io.github.camelllmrouter.backend.LlmComponent;
import io.netty.channel.EventLoopGroup;
import org.apache.camel.component.netty.NettyConfiguration;
import org.apache.camel.component.netty.http.HttpServerBootstrapFactory;
import org.apache.camel.component.netty.http.HttpServerConsumerChannelFactory;
import org.apache.camel.component.netty.http.NettyHttpComponent;
import org.apache.camel.component.netty.http.NettyHttpConsumer;
import org.apache.camel.support.service.ServiceHelper;

/**
 * Camel's netty-http component, whose servers are built with the router's {@link FrontDoor} pipeline (netty-http
 * builds its own pipeline whatever {@code serverInitializerFactory} says, so the front door comes in here). The
 * {@code frontDoor} bean adds it to the context as {@code netty-http} and sets its limits.
 */
public class FrontDoorComponent extends NettyHttpComponent {

    private final Map<String, HttpServerBootstrapFactory> servers = new ConcurrentHashMap<>();
    private final Map<String, Loops> sharedLoops = new ConcurrentHashMap<>();

    /** The backend client's event loops, and whether they are native (epoll): the server channel must match. */
    private record Loops(EventLoopGroup group, boolean nativeTransport) {
    }

    @Override
    protected HttpServerBootstrapFactory getOrCreateHttpNettyServerBootstrapFactory(NettyHttpConsumer consumer) {
        NettyConfiguration configuration = consumer.getConfiguration();
        HttpServerBootstrapFactory created = servers.computeIfAbsent(configuration.getAddress(), address -> {
            shareEventLoops(address, configuration);
            HttpServerConsumerChannelFactory consumers = getMultiplexChannelHandler(configuration.getPort());
            HttpServerBootstrapFactory server = new HttpServerBootstrapFactory(consumers);
            server.init(getCamelContext(), configuration, frontDoor().createPipelineFactory(consumer, consumers::consumers));
            return server;
        });
        // a later consumer of the port (a route put back after a failed reload) gets the first one's loops:
        // netty-http refuses a consumer whose configuration differs from the first's
        Loops loops = sharedLoops.get(configuration.getAddress());
        if (loops != null && ownLoops(configuration)) {
            share(configuration, loops);
        }
        return created;
    }

    /**
     * The server accepts and serves its connections on the backend client's event loops (unless the route names
     * its own {@code bossGroup} or {@code workerGroup}): a request, its backend call, the answer and each chunk of a
     * stream are then one thread's work, with no hand-over between the front door's threads and the client's.
     * Decided once per address, by its first consumer.
     */
    private void shareEventLoops(String address, NettyConfiguration configuration) {
        if (ownLoops(configuration) && getCamelContext().hasComponent("llm") instanceof LlmComponent llm) {
            Loops loops = new Loops(llm.client().eventLoops(), llm.client().nativeTransport());
            sharedLoops.put(address, loops);
            share(configuration, loops);
        }
    }

    /** A route that names neither loop group: the server may take the backend client's. */
    private static boolean ownLoops(NettyConfiguration configuration) {
        return configuration.getWorkerGroup() == null && configuration.getBossGroup() == null;
    }

    /** The loops' transport decides the server channel's: epoll loops serve epoll channels, NIO loops NIO ones. */
    private static void share(NettyConfiguration configuration, Loops loops) {
        configuration.setWorkerGroup(loops.group());
        configuration.setBossGroup(loops.group());
        configuration.setNativeTransport(loops.nativeTransport());
    }

    private FrontDoor frontDoor() {
        FrontDoor door = getCamelContext().getRegistry().lookupByNameAndType("frontDoor", FrontDoor.class);
        return door != null ? door : new FrontDoor();
    }

    @Override
    protected void doStop() throws Exception {
        ServiceHelper.stopService(servers.values());
        servers.clear();
        sharedLoops.clear();
        super.doStop();
    }
}
