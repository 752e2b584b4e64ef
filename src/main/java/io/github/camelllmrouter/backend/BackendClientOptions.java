package io.github.camelllmrouter.backend;

/** Timeouts and pool sizes of the backend client; see config/application.properties for each. */
public record BackendClientOptions(long connectTimeoutMs, long firstByteTimeoutMs,
                                   long totalTimeoutMs, int maxConnectionsPerBackend, int eventLoops,
                                   String retryableStatusCodes, int idleConnectionTimeoutSeconds,
                                   boolean nativeTransport, boolean http2, String tlsCaFile, boolean tlsVerify) {
}
