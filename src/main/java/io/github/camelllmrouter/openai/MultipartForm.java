package io.github.camelllmrouter.openai;

import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Finds the {@code model} and {@code stream} fields of a {@code multipart/form-data} body (RFC 7578) without
 * taking it apart: the audio and image endpoints' bodies are forwarded as the client's bytes, the file part
 * byte for byte, and a rewritten model changes only the bytes of that field's value. (Netty's and other
 * decoders build new parts, and encoding them again would not give the client's bytes back.)
 */
final class MultipartForm {

    private static final Pattern BOUNDARY = Pattern.compile("(?i)boundary=(\"([^\"]+)\"|[^;\\s]+)");
    private static final Pattern NAME = Pattern.compile("(?i)content-disposition:[^\\r\\n]*[;\\s]name=\"([^\"]*)\"");

    record Field(int start, int end) {
    }

    record Fields(Field model, Field stream) {
    }

    private MultipartForm() {
    }

    static boolean is(String contentType) {
        return contentType != null && contentType.trim().toLowerCase(Locale.ROOT).startsWith("multipart/form-data");
    }

    static String boundary(String contentType) {
        Matcher m = BOUNDARY.matcher(contentType);
        if (!m.find()) {
            throw OpenAiException.badRequest("invalid_request", null, "A multipart/form-data body needs a boundary.");
        }
        return m.group(2) != null ? m.group(2) : m.group(1);
    }

    /** The value ranges of the model and stream fields (null when absent). */
    static Fields scan(byte[] body, String contentType) {
        byte[] delimiter = ("--" + boundary(contentType)).getBytes(StandardCharsets.ISO_8859_1);
        int at = indexOf(body, delimiter, 0);
        if (at < 0) {
            throw OpenAiException.badRequest("invalid_request", null, "The multipart/form-data body has no part.");
        }
        Field model = null;
        Field stream = null;
        byte[] next = ("\r\n--" + boundary(contentType)).getBytes(StandardCharsets.ISO_8859_1);
        while (true) {
            int lineEnd = at + delimiter.length;
            if (lineEnd + 1 < body.length && body[lineEnd] == '-' && body[lineEnd + 1] == '-') {
                break; // the closing delimiter
            }
            int headersStart = indexOf(body, new byte[] {'\r', '\n'}, lineEnd);
            int headersEnd = headersStart < 0 ? -1 : indexOf(body, new byte[] {'\r', '\n', '\r', '\n'}, headersStart);
            if (headersEnd < 0) {
                throw OpenAiException.badRequest("invalid_request", null, "A part of the multipart/form-data body has no end of headers.");
            }
            int valueStart = headersEnd + 4;
            int valueEnd = indexOf(body, next, valueStart);
            if (valueEnd < 0) {
                throw OpenAiException.badRequest("invalid_request", null, "The multipart/form-data body is cut short.");
            }
            Matcher name = NAME.matcher(new String(body, headersStart, headersEnd - headersStart, StandardCharsets.ISO_8859_1));
            if (name.find() && (name.group(1).equals("model") || name.group(1).equals("stream"))) {
                // one of each: servers differ on which of two they read (Starlette takes the last), so a second
                // one could route, authorize and limit by one model while the backend serves another
                if (name.group(1).equals("model") ? model != null : stream != null) {
                    throw OpenAiException.badRequest("invalid_request", name.group(1),
                            "The form has more than one '" + name.group(1) + "' field.");
                }
                if (name.group(1).equals("model")) {
                    model = new Field(valueStart, valueEnd);
                } else {
                    stream = new Field(valueStart, valueEnd);
                }
            }
            at = valueEnd + 2;
        }
        return new Fields(model, stream);
    }

    private static int indexOf(byte[] data, byte[] pattern, int from) {
        outer:
        for (int i = Math.max(0, from); i <= data.length - pattern.length; i++) {
            for (int j = 0; j < pattern.length; j++) {
                if (data[i + j] != pattern[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
