import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Benchmark probe, run with `java bench/LatencyProbe.java DIRECT_PORT PORT... N`: one request at a time, four
 * kinds interleaved (a stream or a plain answer, on a fresh connection or on one kept alive), to the backend
 * direct and to each proxy in turn. Prints each kind's p50 and what each proxy adds to the direct p50: for a
 * stream, the time to its first "data:" event; for a plain answer, the time to its last byte.
 */
public class LatencyProbe {

    static final String STREAM = "{\"model\":\"bench\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    static final String PLAIN = "{\"model\":\"bench\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    static final String[] KINDS = {"stream, fresh connection", "stream, kept alive", "plain, fresh connection", "plain, kept alive"};

    static byte[] request(String body, boolean close) {
        return ("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                + "Content-Length: " + body.length() + "\r\n" + (close ? "Connection: close\r\n" : "") + "\r\n" + body)
                .getBytes(StandardCharsets.US_ASCII);
    }

    /** Microseconds to the first event (a stream) or to the end of the answer (plain), reading the whole answer. */
    static long once(Socket s, byte[] request, boolean stream) throws IOException {
        OutputStream out = s.getOutputStream();
        InputStream in = s.getInputStream();
        long t0 = System.nanoTime();
        out.write(request);
        out.flush();
        byte[] buf = new byte[16384];
        StringBuilder seen = new StringBuilder();
        long first = -1;
        int n;
        while ((n = in.read(buf)) > 0) {
            seen.append(new String(buf, 0, n, StandardCharsets.US_ASCII));
            if (stream && first < 0 && seen.indexOf("data:") >= 0) {
                first = (System.nanoTime() - t0) / 1000;
            }
            if (complete(seen)) {
                break;
            }
        }
        if (!complete(seen)) {
            throw new IOException("answer cut short: " + seen);
        }
        return stream ? first : (System.nanoTime() - t0) / 1000;
    }

    static boolean complete(StringBuilder seen) {
        int end = seen.indexOf("\r\n\r\n");
        if (end < 0) {
            return false;
        }
        String head = seen.substring(0, end).toLowerCase();
        if (head.contains("transfer-encoding: chunked")) {
            return seen.indexOf("\r\n0\r\n\r\n", end) >= 0;
        }
        int at = head.indexOf("content-length:");
        return at >= 0 && seen.length() - end - 4 >= Integer.parseInt(head.substring(at + 15).split("\r\n")[0].trim());
    }

    public static void main(String[] args) throws Exception {
        int n = Integer.parseInt(args[args.length - 1]);
        int[] ports = Arrays.stream(args, 0, args.length - 1).mapToInt(Integer::parseInt).toArray();
        Socket[] kept = new Socket[ports.length];
        for (int p = 0; p < ports.length; p++) {
            kept[p] = new Socket("127.0.0.1", ports[p]);
            kept[p].setTcpNoDelay(true);
        }
        long[][][] t = new long[KINDS.length][ports.length][n];
        for (int round = -300; round < n; round++) { // 300 rounds of warm-up
            for (int k = 0; k < KINDS.length; k++) {
                boolean stream = k < 2;
                boolean fresh = k % 2 == 0;
                for (int p = 0; p < ports.length; p++) {
                    long v;
                    if (fresh) {
                        try (Socket s = new Socket("127.0.0.1", ports[p])) {
                            s.setTcpNoDelay(true);
                            v = once(s, request(stream ? STREAM : PLAIN, true), stream);
                        }
                    } else {
                        try {
                            v = once(kept[p], request(stream ? STREAM : PLAIN, false), stream);
                        } catch (IOException closed) {
                            // the server closed the kept connection (nginx does after 1,000 requests): as a
                            // client does, open another and send the request again
                            kept[p].close();
                            kept[p] = new Socket("127.0.0.1", ports[p]);
                            kept[p].setTcpNoDelay(true);
                            v = once(kept[p], request(stream ? STREAM : PLAIN, false), stream);
                        }
                    }
                    if (round >= 0) {
                        t[k][p][round] = v;
                    }
                }
            }
        }
        System.out.printf("%-26s %10s%n", "p50, ms (added to direct)", "direct  " + String.join("  ", Arrays.stream(ports, 1, ports.length).mapToObj(p -> "port " + p).toList()));
        for (int k = 0; k < KINDS.length; k++) {
            StringBuilder line = new StringBuilder(String.format("%-26s", KINDS[k]));
            for (int p = 0; p < ports.length; p++) {
                Arrays.sort(t[k][p]);
                double p50 = t[k][p][n / 2] / 1000.0;
                line.append(p == 0 ? String.format(" %.3f", p50) : String.format("  %.3f (%+.3f)", p50, p50 - t[k][0][n / 2] / 1000.0));
            }
            System.out.println(line);
        }
    }
}
