package io.github.camelllmrouter.http;

import java.util.Arrays;

/**
 * Passes a Server-Sent Events stream on in whole events. What a backend's chunk carries after its last blank line
 * (the start of an event whose end is still to come) is held back and goes out with the rest of that event. So a
 * stream the backend breaks off inside an event reaches the client without the broken half: the client's SSE
 * parser (the OpenAI and Anthropic SDKs') reads the router's error event next, not half a JSON object. A chunk
 * that ends on an event's end, as an engine's chunks do, passes as it is, with no copy and no delay; a client's
 * parser could not have used a half event before its end anyway.
 *
 * <p>An event longer than {@link #MAX_HELD} bytes is let through in pieces: a stream that never ends an event is
 * not held whole in memory. Used from the stream's own context only.
 */
final class WholeEvents {

    static final int MAX_HELD = 1 << 20;
    private static final byte[] NONE = new byte[0];

    private byte[] held = NONE;
    private boolean insideEvent; // what went out so far ends inside an event (an event over MAX_HELD let through)

    /** The bytes to pass on now, up to the last event's end (the part held before first), or null for none. */
    byte[] take(byte[] chunk) {
        byte[] all = held.length == 0 ? chunk : concat(held, chunk);
        int end = lastEventEnd(all, held.length);
        if (end == all.length) {
            held = NONE;
            insideEvent = false;
            return all;
        }
        if (end > 0) {
            held = Arrays.copyOfRange(all, end, all.length);
            insideEvent = false;
            return Arrays.copyOf(all, end);
        }
        if (all.length > MAX_HELD) {
            held = NONE;
            insideEvent = true;
            return all;
        }
        held = all;
        return null;
    }

    /** What is held at the stream's end: a last event with no blank line after it goes out as the backend sent it. */
    byte[] rest() {
        byte[] rest = held;
        held = NONE;
        return rest;
    }

    /** Whether what went out ends inside an event, so that an error event needs a blank line before it. */
    boolean insideEvent() {
        return insideEvent;
    }

    /**
     * The index just after the last blank line (LF LF, CR LF CR LF or CR CR) that ends in {@code bytes} at or
     * after {@code from}, or -1. Bytes before {@code from} were held: they end no event of their own.
     */
    static int lastEventEnd(byte[] bytes, int from) {
        for (int i = bytes.length - 1; i >= Math.max(from, 1); i--) {
            byte b = bytes[i];
            byte prev = bytes[i - 1];
            if (b == '\n' && (prev == '\n' || prev == '\r' && i >= 3 && bytes[i - 2] == '\n' && bytes[i - 3] == '\r')
                    || b == '\r' && prev == '\r') {
                return i + 1;
            }
        }
        return -1;
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] all = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, all, a.length, b.length);
        return all;
    }
}
