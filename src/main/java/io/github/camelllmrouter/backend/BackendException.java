package io.github.camelllmrouter.backend;

/**
 * A retryable failure of one backend call: connection refused or dropped, no first byte in time, or a status
 * that counts as failure (5xx and 429 by default). It carries what the client gets if nothing else can answer.
 */
public class BackendException extends Exception {

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
}
