package io.github.camelllmrouter.backend;

/**
 * A retryable failure of one backend call: connection refused or dropped, no first byte in time, or a status
 * that counts as failure (5xx and 429 by default). It carries what the client gets if nothing else can answer.
 */
public class BackendException extends Exception {

    /** The client hung up before the answer: nobody's failure (no ejection, breaker or fallback). */
    public static final String CLIENT_CLOSED = "client_closed";
    /** Every backend of the model is out of rotation, so none was tried. */
    public static final String NO_BACKEND_AVAILABLE = "no_backend_available";

    private final String backend;
    private final String reason;
    private final int status;
    private final byte[] body;
    private final String contentType;
    private final Long retryAfterSeconds;

    public BackendException(String backend, String reason, int status, byte[] body, String contentType,
                            Long retryAfterSeconds, String message) {
        super(message, null, false, false);
        this.backend = backend;
        this.reason = reason;
        this.status = status;
        this.body = body;
        this.contentType = contentType;
        this.retryAfterSeconds = retryAfterSeconds;
    }

    /** Which backend failed. */
    public String backend() {
        return backend;
    }

    /** A short label for logs and metrics: connect_error, connection_closed, timeout, status_503, ... */
    public String reason() {
        return reason;
    }

    /** The backend's HTTP status, or 0 when it gave none. */
    public int status() {
        return status;
    }

    public byte[] body() {
        return body;
    }

    public String contentType() {
        return contentType;
    }

    public Long retryAfterSeconds() {
        return retryAfterSeconds;
    }

    /** The backend failure under Camel's wrappers, or null. */
    public static BackendException find(Throwable thrown) {
        for (Throwable t = thrown; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t instanceof BackendException b) {
                return b;
            }
        }
        return null;
    }
}
