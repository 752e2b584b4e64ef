package io.github.camelllmrouter.demo;

import io.vertx.core.Vertx;

/**
 * Runs one {@link FakeOpenAiBackend} as its own process, for benchmarks and manual trials against a router in
 * another JVM:
 *
 * <pre>java -cp target/camel-llm-router.jar io.github.camelllmrouter.demo.FakeBackendMain \
 *     --port 9001 --name b1 --models m-a,m-b --chunks 10 --chunk-delay-ms 0</pre>
 *
 * It serves until the process is killed.
 */
public final class FakeBackendMain {

    private static final String USAGE = """
            usage: FakeBackendMain [--port N] [--name NAME] [--models M1,M2,...] [--chunks N]
                                   [--chunk-delay-ms MS] [--headers-delay-ms MS] [--instances N]
                                   [--max-records N] [--idle-timeout-ms MS]
              --port              port on 127.0.0.1, 0 = any free one (default 9001)
              --name              backend name, sent back in x-served-by (default fake)
              --models            comma-separated models listed by /v1/models (default fake-model)
              --chunks            SSE events per streamed answer (default 5)
              --chunk-delay-ms    pause between SSE events (default 0)
              --headers-delay-ms  pause before answering a model request (default 0)
              --instances         listener instances, i.e. event loops (default: one per CPU)
              --max-records       requests kept in memory for inspection (default 0: none)
              --idle-timeout-ms   close connections idle this long, as a server's keep-alive timeout
                                  (default 0: never)""";

    private FakeBackendMain() {
    }

    public static void main(String[] args) {
        int port = 9001;
        String name = "fake";
        String models = "fake-model";
        int chunks = 5;
        long chunkDelayMs = 0;
        long headersDelayMs = 0;
        int instances = 0;
        int maxRecords = 0;
        long idleTimeoutMs = 0;
        try {
            for (int i = 0; i < args.length; i++) {
                String flag = args[i];
                if (flag.equals("-h") || flag.equals("--help")) {
                    System.out.println(USAGE);
                    return;
                }
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException("missing value for " + flag);
                }
                String value = args[++i];
                switch (flag) {
                    case "--port" -> port = Integer.parseInt(value);
                    case "--name" -> name = value;
                    case "--models" -> models = value;
                    case "--chunks" -> chunks = Integer.parseInt(value);
                    case "--chunk-delay-ms" -> chunkDelayMs = Long.parseLong(value);
                    case "--headers-delay-ms" -> headersDelayMs = Long.parseLong(value);
                    case "--instances" -> instances = Integer.parseInt(value);
                    case "--max-records" -> maxRecords = Integer.parseInt(value);
                    case "--idle-timeout-ms" -> idleTimeoutMs = Long.parseLong(value);
                    default -> throw new IllegalArgumentException("unknown option " + flag);
                }
            }
        } catch (IllegalArgumentException e) {  // NumberFormatException included
            System.err.println(e.getMessage());
            System.err.println(USAGE);
            System.exit(2);
        }

        String[] served = models.isBlank() ? new String[0] : models.split("\\s*,\\s*");
        Vertx vertx = Vertx.vertx();
        // a standalone backend serves benchmarks: nobody reads its records, so by default it keeps none
        FakeOpenAiBackend backend = new FakeOpenAiBackend(vertx, name, served)
                .chunks(chunks).chunkDelayMs(chunkDelayMs).headersDelayMs(headersDelayMs).maxRecords(maxRecords)
                .idleTimeoutMs(idleTimeoutMs);
        if (instances > 0) {
            backend.instances(instances);
        }
        try {
            backend.start(port);
        } catch (IllegalStateException e) {
            System.err.println("fake backend " + name + " could not listen on port " + port + ": " + e.getMessage());
            vertx.close();
            System.exit(1);
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            backend.stop();
            vertx.close();
        }, "fake-backend-shutdown"));
        System.out.println("fake backend " + name + " listening on " + backend.url());
        // Vert.x's event-loop threads are not daemons: the process lives on after main returns
    }
}
