package io.github.camelllmrouter.access;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;

/**
 * The keys file ({@code --api-keys-file}), read and checked as a whole: its keys by their SHA-256, and the
 * models' own limits (over every key together). A file that does not pass is refused with its name, the field
 * and the line.
 */
public record KeysFile(Map<String, ApiKey> bySha256, Map<ModelPattern, Limits> modelLimits, String version) {

    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory())
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    record Document(List<Entry> keys, Map<String, Limits> modelLimits) {
        @JsonCreator
        Document(@JsonProperty("keys") List<Entry> keys, @JsonProperty("model_limits") Map<String, Limits> modelLimits) {
            this.keys = keys == null ? List.of() : keys;
            this.modelLimits = modelLimits == null ? Map.of() : modelLimits;
        }
    }

    /** One entry of keys, as written; checked as it is read, so that an error has its line. */
    static final class Entry {
        final ApiKey key;

        @JsonCreator
        Entry(@JsonProperty(value = "name", required = true) String name,
              @JsonProperty(value = "sha256", required = true) String sha256,
              @JsonProperty("models") List<String> models,
              @JsonProperty("expires") String expires,
              @JsonProperty("limits") Limits limits,
              @JsonProperty("model_limits") Map<String, Limits> modelLimits) {
            this.key = ApiKey.read(name, sha256, models, expires, limits, modelLimits);
        }
    }

    /** @throws IllegalArgumentException naming the file, the field and the line of what is wrong */
    static KeysFile parse(String name, byte[] bytes) {
        Document doc;
        try {
            doc = bytes.length == 0 || new String(bytes, StandardCharsets.UTF_8).isBlank()
                    ? new Document(null, null) : YAML.readValue(bytes, Document.class);
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("keys file " + name + ": " + describe(e, new String(bytes, StandardCharsets.UTF_8)));
        } catch (IOException e) {
            throw new IllegalArgumentException("keys file " + name + ": " + e.getMessage());
        }
        if (doc == null) {
            doc = new Document(null, null);
        }
        Map<String, ApiKey> bySha = new HashMap<>();
        Map<String, Boolean> names = new HashMap<>();
        for (Entry e : doc.keys()) {
            if (e == null) {
                throw new IllegalArgumentException("keys file " + name + ": an entry of keys is empty");
            }
            ApiKey k = e.key;
            if (names.put(k.name(), true) != null) {
                throw new IllegalArgumentException("keys file " + name + ": the key name '" + k.name() + "' is used twice");
            }
            if (bySha.put(k.sha256(), k) != null) {
                throw new IllegalArgumentException("keys file " + name + ": key '" + k.name()
                        + "' has the same sha256 as another key");
            }
        }
        Map<ModelPattern, Limits> modelLimits = new LinkedHashMap<>();
        doc.modelLimits().forEach((m, l) -> modelLimits.put(ModelPattern.of(m), l));
        return new KeysFile(Map.copyOf(bySha), modelLimits, sha256(bytes).substring(0, 12));
    }

    private static String describe(JsonProcessingException e, String text) {
        String message = e.getOriginalMessage();
        Throwable cause = e.getCause();
        String unknown = null;
        if (cause instanceof IllegalArgumentException && cause.getMessage() != null) {
            message = cause.getMessage();
        } else if (e instanceof UnrecognizedPropertyException u) {
            unknown = u.getPropertyName();
            message = "unknown field '" + unknown + "' (known: " + u.getKnownPropertyIds() + ")";
        } else if (message != null && message.contains("\n")) {
            message = message.substring(0, message.indexOf('\n'));
        }
        StringBuilder field = new StringBuilder();
        if (e instanceof JsonMappingException m) {
            for (JsonMappingException.Reference r : m.getPath()) {
                if (r.getFieldName() != null) {
                    field.append(field.length() == 0 ? "" : ".").append(r.getFieldName());
                } else if (r.getIndex() >= 0) {
                    field.append('[').append(r.getIndex()).append(']');
                }
            }
        }
        int line = e.getLocation() == null ? -1 : e.getLocation().getLineNr();
        if (line > 0) {
            // the parser is past the field by now (at the end of its entry for a bad value): the line is the
            // nearest one up to here that names a field the message names
            line = lineOf(text, line, unknown != null ? List.of(unknown)
                    : Arrays.stream(String.valueOf(message).split("[^a-z0-9_]+")).filter(w -> w.length() > 3).toList());
        }
        return (field.length() > 0 ? field + ": " : "") + message + (line > 0 ? " (line " + line + ")" : "");
    }

    private static int lineOf(String text, int reported, List<String> fields) {
        String[] lines = text.split("\\R", -1);
        for (int i = Math.min(reported, lines.length) - 1; i >= 0; i--) {
            for (String f : fields) {
                if (lines[i].matches("\\s*(-\\s+)?\"?" + Pattern.quote(f) + "\"?\\s*:.*")) {
                    return i + 1;
                }
            }
        }
        return reported;
    }

    /** Lowercase hex SHA-256 of a key, as the keys file has it. */
    public static String sha256(String key) {
        return sha256(key.getBytes(StandardCharsets.UTF_8));
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The model's own limits (over every key), if the file gives some. */
    public Limits limitsOf(String model) {
        for (Map.Entry<ModelPattern, Limits> e : modelLimits.entrySet()) {
            if (e.getKey().matches(model)) {
                return e.getValue();
            }
        }
        return null;
    }
}
