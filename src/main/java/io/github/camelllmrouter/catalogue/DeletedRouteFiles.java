package io.github.camelllmrouter.catalogue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import org.apache.camel.CamelContext;
import org.apache.camel.Route;
import org.apache.camel.spi.Resource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Camel's route reload replaces the routes of a saved file but ignores a deleted one. This removes the routes
 * whose file is gone from routes/, so deleting a model's file makes that model a 404.
 */
public final class DeletedRouteFiles implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(DeletedRouteFiles.class);

    private final CamelContext context;
    private final Path dir;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "deleted-route-files");
        t.setDaemon(true);
        return t;
    });

    public DeletedRouteFiles(CamelContext context, Path dir) {
        this.context = context;
        this.dir = dir;
        timer.scheduleWithFixedDelay(this::sweep, 500, 500, TimeUnit.MILLISECONDS);
    }

    private void sweep() {
        for (Route route : context.getRoutes()) {
            Resource source = route.getSourceResource();
            if (source == null || !source.getLocation().startsWith("file:")) {
                continue;
            }
            Path file = Path.of(source.getLocation().substring("file:".length())).toAbsolutePath().normalize();
            if (file.startsWith(dir) && !Files.exists(file)) {
                try {
                    context.getRouteController().stopRoute(route.getRouteId());
                    context.removeRoute(route.getRouteId());
                    LOG.info("removed route {}: its file {} was deleted", route.getRouteId(), file);
                } catch (Exception e) {
                    LOG.warn("could not remove route {} of deleted file {}: {}", route.getRouteId(), file, e.getMessage());
                }
            }
        }
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }
}
