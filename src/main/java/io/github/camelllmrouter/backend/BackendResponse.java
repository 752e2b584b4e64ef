package io.github.camelllmrouter.backend;

import io.vertx.core.MultiMap;
import io.vertx.core.http.HttpClientResponse;

/**
 * A backend's answer as the relay needs it: status and headers, then either the whole body or the live,
 * paused response to stream from.
 */
public record BackendResponse(String backend, int status, MultiMap headers, byte[] body, HttpClientResponse stream,
                              StreamFailure streamFailure, BackendClient client) {

    public boolean streaming() {
        return stream != null;
    }
}
