package io.github.camelllmrouter.access;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A secret named by where it is, never written into the configuration: {@code env:NAME} (an environment
 * variable, read once) or {@code file:/path} (a file such as a mounted Kubernetes Secret; read again when it
 * changes, so a rotated secret is used without a restart). {@link #toString()} is the reference, never the value.
 */
public final class Secret {

    private static final long RECHECK_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final String reference;
    private final Path file;
    private volatile String value;
    private volatile long checkedNanos;
    private volatile long modified;

    private Secret(String reference, Path file, String value) {
        this.reference = reference;
        this.file = file;
        this.value = value;
    }

    /**
     * @param what what the secret is for, for the error message (a flag or key name)
     * @throws IllegalArgumentException for anything but a readable env: or file: reference
     */
    public static Secret of(String reference, String what) {
        return of(reference, what, System.getenv());
    }

    static Secret of(String reference, String what, Map<String, String> environment) {
        String r = reference == null ? "" : reference.trim();
        if (r.startsWith("env:")) {
            String name = r.substring(4);
            String v = environment.get(name);
            if (v == null || v.isBlank()) {
                throw new IllegalArgumentException(what + " names the environment variable " + name + ", which is not set");
            }
            return new Secret(r, null, v.trim());
        }
        if (r.startsWith("file:")) {
            Secret s = new Secret(r, Path.of(r.substring(5)), null);
            try {
                s.reload();
            } catch (UncheckedIOException e) {
                throw new IllegalArgumentException(what + " names the file " + s.file + ", which cannot be read: "
                        + e.getCause().getMessage());
            }
            if (s.value.isEmpty()) {
                throw new IllegalArgumentException(what + " names the file " + s.file + ", which is empty");
            }
            return s;
        }
        throw new IllegalArgumentException(what + " must be env:NAME or file:/path (where the secret is): secrets are"
                + " never written into the configuration or the command line");
    }

    /** The secret (a file's content without its surrounding whitespace, as last read). */
    public String value() {
        if (file != null && System.nanoTime() - checkedNanos > RECHECK_NANOS) {
            try {
                reload();
            } catch (UncheckedIOException keepTheLastOne) {
                checkedNanos = System.nanoTime();
            }
        }
        return value;
    }

    private void reload() {
        try {
            long m = Files.getLastModifiedTime(file).toMillis();
            if (value == null || m != modified) {
                value = Files.readString(file, StandardCharsets.UTF_8).trim();
                modified = m;
            }
            checkedNanos = System.nanoTime();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public String toString() {
        return reference;
    }
}
