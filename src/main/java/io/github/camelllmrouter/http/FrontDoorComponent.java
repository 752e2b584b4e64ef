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

    @Override
    protected HttpServerBootstrapFactory getOrCreateHttpNettyServerBootstrapFactory(NettyHttpConsumer consumer) {
        // every consumer of a port, not only its first: netty-http refuses a second one (a route put back after a
        // failed reload) whose configuration differs from the first's
        shareEventLoops(consumer.getConfiguration());
        return servers.computeIfAbsent(consumer.getConfiguration().getAddress(), address -> {
            HttpServerConsumerChannelFactory consumers = getMultiplexChannelHandler(consumer.getConfiguration().getPort());
            HttpServerBootstrapFactory server = new HttpServerBootstrapFactory(consumers);
            server.init(getCamelContext(), consumer.getConfiguration(),
                    frontDoor().createPipelineFactory(consumer, consumers::consumers));
            return server;
        });
    }

    /**
     * The server accepts and serves its connections on the backend client's event loops (unless the route names
     * its own {@code bossGroup} or {@code workerGroup}): a request, its backend call, the answer and each chunk of a
     * stream are then one thread's work, with no hand-over between the front door's threads and the client's.
     */
    private void shareEventLoops(NettyConfiguration configuration) {
        if (configuration.getWorkerGroup() == null && getCamelContext().hasComponent("llm") instanceof LlmComponent llm) {
            EventLoopGroup loops = llm.client().eventLoops();
            configuration.setWorkerGroup(loops);
            if (configuration.getBossGroup() == null) {
                configuration.setBossGroup(loops);
            }
        }
    }

    private FrontDoor frontDoor() {
        FrontDoor door = getCamelContext().getRegistry().lookupByNameAndType("frontDoor", FrontDoor.class);
        return door != null ? door : new FrontDoor();
    }

    @Override
    protected void doStop() throws Exception {
        ServiceHelper.stopService(servers.values());
        servers.clear();
        super.doStop();
    }
}
