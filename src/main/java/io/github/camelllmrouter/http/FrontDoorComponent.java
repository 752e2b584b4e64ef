package io.github.camelllmrouter.http;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import org.apache.camel.component.netty.http.HttpServerBootstrapFactory;
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
        return servers.computeIfAbsent(consumer.getConfiguration().getAddress(), address -> {
            HttpServerBootstrapFactory server = new HttpServerBootstrapFactory(
                    getMultiplexChannelHandler(consumer.getConfiguration().getPort()));
            server.init(getCamelContext(), consumer.getConfiguration(), frontDoor().createPipelineFactory(consumer));
            return server;
        });
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
