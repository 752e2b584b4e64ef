package io.github.camelllmrouter.backend;

/**
 * A backend's recent requests over a sliding window of one-second slots (--request-stats-window): queries
 * per second, average latency, inter-token latency and decoding time, as the vLLM router reports them.
 */
final class RequestStats {

    private final int windowSeconds;
    private final long[] second;
    private final long[] count;
    private final double[] latency;
    private final double[] ttft;
    private final double[] decoding;
    private final double[] itl;
    private final long[] itlCount;

    RequestStats(int windowSeconds) {
        this.windowSeconds = windowSeconds;
        second = new long[windowSeconds];
        count = new long[windowSeconds];
        latency = new double[windowSeconds];
        ttft = new double[windowSeconds];
        decoding = new double[windowSeconds];
        itl = new double[windowSeconds];
        itlCount = new long[windowSeconds];
    }

    private int slot(long now) {
        int i = (int) (now % windowSeconds);
        if (second[i] != now) {
            second[i] = now;
            count[i] = 0;
            latency[i] = 0;
            ttft[i] = 0;
            decoding[i] = 0;
            itl[i] = 0;
            itlCount[i] = 0;
        }
        return i;
    }

    private static long now() {
        return System.currentTimeMillis() / 1000;
    }

    synchronized void request(double latencySeconds, double ttftSeconds, double decodingSeconds) {
        int i = slot(now());
        count[i]++;
        latency[i] += latencySeconds;
        ttft[i] += ttftSeconds;
        decoding[i] += decodingSeconds;
    }

    synchronized void interToken(double seconds) {
        int i = slot(now());
        itl[i] += seconds;
        itlCount[i]++;
    }

    /** Sums of the live slots: count, latency, decoding, itl, itl count. */
    private synchronized double[] sums() {
        long oldest = now() - windowSeconds;
        double[] s = new double[6];
        for (int i = 0; i < windowSeconds; i++) {
            if (second[i] > oldest) {
                s[0] += count[i];
                s[1] += latency[i];
                s[2] += decoding[i];
                s[3] += itl[i];
                s[4] += itlCount[i];
                s[5] += ttft[i];
            }
        }
        return s;
    }

    double qps() {
        return sums()[0] / windowSeconds;
    }

    double avgLatency() {
        double[] s = sums();
        return s[0] == 0 ? 0 : s[1] / s[0];
    }

    double avgTtft() {
        double[] s = sums();
        return s[0] == 0 ? 0 : s[5] / s[0];
    }

    double avgDecoding() {
        double[] s = sums();
        return s[0] == 0 ? 0 : s[2] / s[0];
    }

    double avgItl() {
        double[] s = sums();
        return s[4] == 0 ? 0 : s[3] / s[4];
    }
}
