package io.github.camelllmrouter.access;

import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;


/**
 * One inbound API key of the keys file: its name (what logs, traces and metrics show), the SHA-256 of the key
 * (the key itself is never stored), the models it may call (names and globs; none listed: every model), an
 * optional expiry, its own limits and its limits on given models.
 */
public record ApiKey(String name, String sha256, List<ModelPattern> models, Instant expires, Limits limits,
                     Map<ModelPattern, Limits> modelLimits) {

    /** An entry of the keys file, checked ({@link KeysFile} reads it). */
    static ApiKey read(String name, String sha256, List<String> models, String expires, Limits limits,
                       Map<String, Limits> modelLimits) {
        if (name == null || name.isBlank() || !name.matches("[A-Za-z0-9._@:/-]{1,100}")) {
            throw new IllegalArgumentException("name must be 1 to 100 letters, digits or ._@:/- (it is a metric label), not '"
                    + name + "'");
        }
        String hash = sha256 == null ? "" : sha256.trim().toLowerCase(Locale.ROOT);
        if (!hash.matches("[0-9a-f]{64}")) {
            throw new IllegalArgumentException("key '" + name + "': sha256 must be the key's SHA-256 in 64 hex digits"
                    + " (printf %s \"$KEY\" | sha256sum)");
        }
        Map<ModelPattern, Limits> perModel = new LinkedHashMap<>();
        if (modelLimits != null) {
            modelLimits.forEach((m, l) -> perModel.put(ModelPattern.of(m), l));
        }
        return new ApiKey(name, hash, models == null ? List.of() : models.stream().map(ModelPattern::of).toList(),
                expiry(name, expires), limits, perModel);
    }

    private static Instant expiry(String name, String expires) {
        if (expires == null || expires.isBlank()) {
            return null;
        }
        try {
            return expires.length() <= 10 ? LocalDate.parse(expires).atStartOfDay(ZoneOffset.UTC).toInstant()
                    : Instant.parse(expires);
        } catch (DateTimeParseException e) {
            throw new IllegalArgumentException("key '" + name + "': expires must be a date (2027-01-31) or an instant"
                    + " (2027-01-31T12:00:00Z), not '" + expires + "'");
        }
    }

    /** May this key call the model (or alias) by this name? */
    public boolean allows(String model) {
        if (models.isEmpty()) {
            return true;
        }
        for (ModelPattern p : models) {
            if (p.matches(model)) {
                return true;
            }
        }
        return false;
    }

    public boolean expired(Instant now) {
        return expires != null && !now.isBefore(expires);
    }

    /** This key's limits on the model, if the keys file gives some. */
    public Limits limitsOn(String model) {
        for (Map.Entry<ModelPattern, Limits> e : modelLimits.entrySet()) {
            if (e.getKey().matches(model)) {
                return e.getValue();
            }
        }
        return null;
    }
}
