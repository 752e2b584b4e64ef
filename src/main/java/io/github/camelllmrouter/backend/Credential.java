package io.github.camelllmrouter.backend;

import java.util.Locale;

import io.github.camelllmrouter.access.Secret;

/**
 * A backend's own credential (the {@code llm:} endpoint's {@code apiKey} and {@code apiKeyHeader} options): sent
 * to that backend only, as {@code Authorization: Bearer <key>} or as a header of its own ({@code api-key} for Azure
 * OpenAI, {@code x-api-key} for Anthropic). A backend with a credential never receives the client's.
 */
public record Credential(Secret secret, String header) {

    /** The client headers that carry a client's key: never forwarded to a backend with a credential of its own. */
    static boolean carriesKey(String lowerCaseHeader) {
        return lowerCaseHeader.equals("authorization") || lowerCaseHeader.equals("x-api-key")
               || lowerCaseHeader.equals("api-key");
    }

    /** @param reference env:NAME or file:/path; @param header authorization (default), api-key, x-api-key, ... */
    public static Credential of(String reference, String header, String backend) {
        String h = header == null || header.isBlank() ? "authorization" : header.trim().toLowerCase(Locale.ROOT);
        return new Credential(Secret.of(reference, "the apiKey of backend " + backend), h);
    }

    String headerValue() {
        return header.equals("authorization") ? "Bearer " + secret.value() : secret.value();
    }

    @Override
    public String toString() {
        return header + " from " + secret; // the reference, never the secret
    }
}
