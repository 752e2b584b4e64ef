import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Benchmark probe, run with `java bench/StreamProbe.java`:
 *   ttfc ROUTER_PORT BACKEND_PORT N  - time to the first SSE event, router vs direct, interleaved, N each
 *   ttfc3 DIRECT NGINX ROUTER N      - the same for the backend direct, nginx and the router, interleaved
 *                                      (both after TTFC_WARMUP_S seconds, 20 by default, of the same requests: the
 *                                      load's kept-alive connections never run a JVM's accept and close paths,
 *                                      and 200 requests left the router's JIT compiling them while it measured)
 *   open PORT N [RAMP_MS]             - N concurrent streams held open (started evenly over RAMP_MS, default 0);
 *                                       counts clean completions and errors
 */
public class StreamProbe {

    static final String BODY = "{\"model\":\"bench\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

    public static void main(String[] args) throws Exception {
        if (args[0].equals("ttfc3")) {
            ttfc3(Integer.parseInt(args[1]), Integer.parseInt(args[2]), Integer.parseInt(args[3]), Integer.parseInt(args[4]));
        } else if (args[0].equals("ttfc")) {
            ttfc(Integer.parseInt(args[1]), Integer.parseInt(args[2]), Integer.parseInt(args[3]));
        } else {
            open(Integer.parseInt(args[1]), Integer.parseInt(args[2]), args.length > 3 ? Long.parseLong(args[3]) : 0);
        }
    }

    /** Microseconds from writing the request to reading the first "data:" line, on a fresh connection. */
    static long firstEventMicros(int port) throws Exception {
        byte[] req = ("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                + "Content-Length: " + BODY.length() + "\r\nConnection: close\r\n\r\n" + BODY).getBytes(StandardCharsets.US_ASCII);
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setTcpNoDelay(true);
            OutputStream out = s.getOutputStream();
            InputStream in = s.getInputStream();
            long t0 = System.nanoTime();
            out.write(req);
            out.flush();
            byte[] buf = new byte[8192];
            StringBuilder seen = new StringBuilder();
            int n;
            while ((n = in.read(buf)) > 0) {
                seen.append(new String(buf, 0, n, StandardCharsets.US_ASCII));
                if (seen.indexOf("data:") >= 0) {
                    long t = (System.nanoTime() - t0) / 1000;
                    while (in.read(buf) > 0) {
                        // drain the rest of the stream
                    }
                    return t;
                }
            }
            throw new IllegalStateException("no SSE event from port " + port + ": " + seen);
        }
    }

    static final long WARMUP_NANOS = Long.parseLong(System.getenv().getOrDefault("TTFC_WARMUP_S", "20")) * 1_000_000_000L;

    static void ttfc(int routerPort, int backendPort, int n) throws Exception {
        for (long end = System.nanoTime() + WARMUP_NANOS; System.nanoTime() < end; ) {
            firstEventMicros(routerPort);
            firstEventMicros(backendPort);
        }
        long[] router = new long[n];
        long[] direct = new long[n];
        for (int i = 0; i < n; i++) {
            direct[i] = firstEventMicros(backendPort);
            router[i] = firstEventMicros(routerPort);
        }
        Arrays.sort(router);
        Arrays.sort(direct);
        System.out.printf("ttfc direct p50=%.3f ms p99=%.3f ms%n", direct[n / 2] / 1000.0, direct[n * 99 / 100] / 1000.0);
        System.out.printf("ttfc router p50=%.3f ms p99=%.3f ms%n", router[n / 2] / 1000.0, router[n * 99 / 100] / 1000.0);
        System.out.printf("ttfc overhead p50=%.3f ms p99=%.3f ms%n", (router[n / 2] - direct[n / 2]) / 1000.0,
                (router[n * 99 / 100] - direct[n * 99 / 100]) / 1000.0);
    }

    /** Prints "p50 TARGET ms ms" lines and "overhead TARGET p50 p99" (vs direct) for nginx and the router. */
    static void ttfc3(int direct, int nginx, int router, int n) throws Exception {
        int[] ports = {direct, nginx, router};
        String[] names = {"direct", "nginx", "router"};
        for (long end = System.nanoTime() + WARMUP_NANOS; System.nanoTime() < end; ) {
            for (int p : ports) {
                firstEventMicros(p);
            }
        }
        long[][] t = new long[3][n];
        for (int i = 0; i < n; i++) {
            for (int k = 0; k < 3; k++) {
                t[k][i] = firstEventMicros(ports[k]);
            }
        }
        for (long[] a : t) {
            Arrays.sort(a);
        }
        for (int k = 0; k < 3; k++) {
            System.out.printf("ttfc %s p50=%.3f ms p99=%.3f ms%n", names[k], t[k][n / 2] / 1000.0, t[k][n * 99 / 100] / 1000.0);
        }
        for (int k = 1; k < 3; k++) {
            System.out.printf("overhead %s %+.3f %+.3f ms%n", names[k], (t[k][n / 2] - t[0][n / 2]) / 1000.0,
                    (t[k][n * 99 / 100] - t[0][n * 99 / 100]) / 1000.0);
        }
    }

    static void open(int port, int n, long rampMs) throws Exception {
        HttpClient client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(30)).build();
        AtomicInteger ok = new AtomicInteger();
        AtomicInteger failed = new AtomicInteger();
        List<CompletableFuture<?>> all = new ArrayList<>();
        long t0 = System.nanoTime();
        for (int i = 0; i < n; i++) {
            long due = t0 + rampMs * 1_000_000 * i / n;
            while (System.nanoTime() < due) {
                Thread.onSpinWait();
            }
            HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/chat/completions"))
                    .timeout(Duration.ofSeconds(120)).header("Content-Type", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(BODY)).build();
            // the whole stream as one string when it ends: no probe thread waits on an open stream
            all.add(client.sendAsync(req, HttpResponse.BodyHandlers.ofString()).thenAccept(r -> {
                List<String> data = r.body().lines().filter(l -> l.startsWith("data:")).toList();
                if (r.statusCode() == 200 && !data.isEmpty() && data.get(data.size() - 1).equals("data: [DONE]")) {
                    ok.incrementAndGet();
                } else if (failed.incrementAndGet() <= 3) {
                    System.out.println("failed: status " + r.statusCode() + ", last event " + (data.isEmpty() ? "none" : data.get(data.size() - 1)));
                }
            }).exceptionally(t -> {
                if (failed.incrementAndGet() <= 3) {
                    System.out.println("failed: " + t);
                }
                return null;
            }));
        }
        CompletableFuture.allOf(all.toArray(new CompletableFuture[0])).join();
        System.out.printf("open streams: %d started over %d ms, %d completed with [DONE], %d failed, %.1f s%n",
                n, rampMs, ok.get(), failed.get(), (System.nanoTime() - t0) / 1e9);
        if (failed.get() > 0) {
            System.exit(1);
        }
    }
}
