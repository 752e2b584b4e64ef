import java.io.File;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Recovery after outages, measured from outside: m-a (a1, a2) falls back to m-b (b1); a client sends one chat
 * request for m-a every 100 ms; three times, both m-a backends are killed for 5 s and started again. For each
 * outage it prints how long m-a was served by its fallback after its backends answered again, and at the end how
 * many requests got anything but a 200.
 *
 *   java bench/Recovery.java target/camel-llm-router.jar [router flags, e.g. --static-backend-health-checks
 *        --static-backend-health-check-interval 1]
 */
public class Recovery {

    static final int ROUTER = 19300;
    static final int A1 = 19301;
    static final int A2 = 19302;
    static final int B1 = 19303;
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    static final List<Process> PROCESSES = new ArrayList<>();

    public static void main(String[] args) throws Exception {
        String jar = new File(args[0]).getAbsolutePath();
        Runtime.getRuntime().addShutdownHook(new Thread(() -> PROCESSES.forEach(Process::destroyForcibly)));
        backend(jar, "b1", B1, "m-b");
        Process a1 = backend(jar, "a1", A1, "m-a");
        Process a2 = backend(jar, "a2", A2, "m-a");
        List<String> router = new ArrayList<>(List.of("java", "-jar", jar, "--host", "127.0.0.1", "--port", "" + ROUTER,
                "--static-backends", "http://127.0.0.1:" + A1 + ",http://127.0.0.1:" + A2 + ",http://127.0.0.1:" + B1,
                "--static-models", "m-a,m-a,m-b", "--static-fallback-models", "m-a:m-b", "--log-level", "warning"));
        router.addAll(List.of(args).subList(1, args.length));
        start(router, "router");
        for (int port : new int[] {A1, A2, B1, ROUTER}) {
            waitUp(port);
        }
        AtomicInteger errors = new AtomicInteger();
        AtomicInteger sent = new AtomicInteger();
        List<long[]> served = new ArrayList<>(); // {nanos, 1 if served by a1/a2}
        Thread client = new Thread(() -> {
            while (!Thread.currentThread().isInterrupted()) {
                long t = System.nanoTime();
                String by = chat();
                sent.incrementAndGet();
                if (by.startsWith("status") || by.startsWith("error")) {
                    errors.incrementAndGet();
                }
                synchronized (served) {
                    served.add(new long[] {t, by.startsWith("a") ? 1 : 0});
                }
                long left = 100 - (System.nanoTime() - t) / 1_000_000;
                if (left > 0) {
                    try {
                        Thread.sleep(left);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }
        });
        client.start();
        System.out.println("router flags: " + String.join(" ", List.of(args).subList(1, args.length)));
        System.out.println("| outage | m-a's backends down for | m-a served by them again, after they answer |");
        System.out.println("|---:|---:|---:|");
        for (int outage = 1; outage <= 3; outage++) {
            Thread.sleep(3000);
            long down = System.nanoTime();
            a1.destroyForcibly().waitFor();
            a2.destroyForcibly().waitFor();
            Thread.sleep(5000);
            a1 = backend(jar, "a1", A1, "m-a");
            a2 = backend(jar, "a2", A2, "m-a");
            waitUp(A1);
            waitUp(A2);
            long back = System.nanoTime();
            long recovered = 0;
            for (long deadline = back + 120_000_000_000L; recovered == 0 && System.nanoTime() < deadline; ) {
                Thread.sleep(20);
                synchronized (served) {
                    for (long[] s : served) {
                        if (s[0] > back && s[1] == 1) {
                            recovered = s[0];
                            break;
                        }
                    }
                }
            }
            System.out.printf("| %d | %.1f s | %s |%n", outage, (back - down) / 1e9,
                    recovered == 0 ? "not within 120 s" : String.format("%.2f s", (recovered - back) / 1e9));
            synchronized (served) {
                served.clear();
            }
        }
        client.interrupt();
        client.join();
        System.out.println();
        System.out.println("requests: " + sent.get() + ", not 200: " + errors.get());
        System.exit(0);
    }

    static String chat() {
        try {
            HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + ROUTER + "/v1/chat/completions"))
                    .timeout(Duration.ofSeconds(30)).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"m-a\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"))
                    .build(), HttpResponse.BodyHandlers.ofString());
            return r.statusCode() == 200 ? r.headers().firstValue("x-served-by").orElse("?") : "status " + r.statusCode();
        } catch (Exception e) {
            return "error " + e;
        }
    }

    static Process backend(String jar, String name, int port, String model) throws Exception {
        return start(List.of("java", "-Xmx256m", "-cp", jar, "io.github.camelllmrouter.demo.FakeBackendMain",
                "--port", "" + port, "--name", name, "--models", model), name);
    }

    static Process start(List<String> command, String name) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(new File(System.getProperty("java.io.tmpdir"), "recovery-" + name + ".log")).start();
        PROCESSES.add(p);
        return p;
    }

    static void waitUp(int port) throws Exception {
        for (int i = 0; i < 600; i++) {
            try {
                HttpResponse<Void> r = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/health"))
                        .timeout(Duration.ofSeconds(1)).build(), HttpResponse.BodyHandlers.discarding());
                if (r.statusCode() == 200) {
                    return;
                }
            } catch (Exception notYet) {
                // not listening yet
            }
            Thread.sleep(10);
        }
        throw new IllegalStateException("port " + port + " did not come up");
    }
}
