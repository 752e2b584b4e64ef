package io.github.camelllmrouter.access;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;

import io.github.camelllmrouter.http.LlmCall;
import io.github.camelllmrouter.openai.OpenAiException;
import org.apache.camel.Exchange;

/**
 * The router's own surface: {@code /metrics} and the detailed {@code /health} (backend URLs, routes, config) can
 * need an admin key ({@code router.admin-api-key}), or be served on a management port of their own
 * ({@code router.management-port}, routes/management.camel.yaml), as Spring Boot's management port is. The API
 * port's {@code /health} then answers its status alone, unauthenticated, for readiness probes.
 */
public class AdminAccess {

    /** The exchange variable the management route sets: the request came in on the management port. */
    public static final String MANAGEMENT = "management";

    private Secret key;
    private int managementPort;

    /** env:NAME or file:/path; empty: no admin key. */
    public void setApiKey(String reference) {
        this.key = reference == null || reference.isBlank() ? null : Secret.of(reference, "router.admin-api-key");
    }

    public void setManagementPort(int managementPort) {
        this.managementPort = managementPort;
    }

    /** The {@code /metrics} step: 404 on the API port when a management port serves it, 401 without the admin key. */
    public void requireAdmin(Exchange exchange) {
        if (managementPort > 0 && !onManagementPort(exchange)) {
            throw new OpenAiException(404, "invalid_request_error", "not_found", null,
                    "Unknown path '" + exchange.getVariable("path", String.class) + "'.");
        }
        checkKey(exchange);
    }

    /**
     * Engine controls and {@code /engines}: 401 without the admin key when one is set. Without one they are open,
     * as in the vLLM router, unless API keys are on: then a caller with no admin key to show could put every
     * engine to sleep, so they are refused (403) until an admin key is set.
     */
    public void requireAdminKey(Exchange exchange) {
        ApiKeys keys = ApiKeys.of(exchange.getContext());
        if (key == null && keys != null && keys.current() != null) {
            throw new OpenAiException(403, "permission_error", "admin_key_required", null,
                    "With API keys on, this needs the router's admin key: set router.admin-api-key (--admin-api-key).");
        }
        checkKey(exchange);
    }

    private void checkKey(Exchange exchange) {
        if (key != null && !presented(exchange)) {
            throw new OpenAiException(401, "invalid_request_error", "invalid_api_key", null,
                    "This needs the router's admin key: send it as 'Authorization: Bearer <admin key>'.");
        }
    }

    /** Whether {@code /health} may show the detail (backends, routes, config), or its status alone. */
    public boolean detailed(Exchange exchange) {
        if (managementPort > 0 && !onManagementPort(exchange)) {
            return false;
        }
        return key == null || presented(exchange);
    }

    private static boolean onManagementPort(Exchange exchange) {
        return Boolean.TRUE.equals(exchange.getVariable(MANAGEMENT, Boolean.class));
    }

    private boolean presented(Exchange exchange) {
        LlmCall call = LlmCall.of(exchange);
        String given = call == null ? null : ApiKeys.presented(call.clientHeaders());
        return given != null && MessageDigest.isEqual(given.getBytes(StandardCharsets.UTF_8),
                key.value().getBytes(StandardCharsets.UTF_8));
    }
}
