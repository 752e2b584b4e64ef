package io.github.camelllmrouter.backend;

import java.util.BitSet;
import java.util.function.IntPredicate;

/** Parses status-code lists such as {@code 429,5xx,408}: exact codes or a whole class written as {@code Nxx}. */
public final class StatusCodes {

    private StatusCodes() {
    }

    public static IntPredicate parse(String spec) {
        BitSet codes = new BitSet(600);
        for (String part : spec.split(",")) {
            String p = part.trim().toLowerCase();
            if (p.isEmpty()) {
                continue;
            }
            if (p.matches("[1-5]xx")) {
                int base = (p.charAt(0) - '0') * 100;
                codes.set(base, base + 100);
            } else if (p.matches("[1-5][0-9][0-9]")) {
                codes.set(Integer.parseInt(p));
            } else {
                throw new IllegalArgumentException("not a status code or class (like 503 or 5xx): '" + part.trim() + "'");
            }
        }
        return status -> status >= 0 && status < 600 && codes.get(status);
    }
}
