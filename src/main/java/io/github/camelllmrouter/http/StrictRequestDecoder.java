package io.github.camelllmrouter.http;

import java.util.List;

import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpRequestDecoder;
import io.netty.handler.codec.http.HttpVersion;

/**
 * Netty's request decoder with the framing rules of RFC 9112 §6 enforced, so that no request can be smuggled
 * behind another: a request with both {@code Content-Length} and {@code Transfer-Encoding}, or a
 * {@code Transfer-Encoding} other than one final {@code chunked} (repeated, another coding, on HTTP/1.0), is a
 * decoding failure. Netty then discards everything after it on the connection, and the front door answers 400
 * and closes. (Netty itself refuses repeated or invalid {@code Content-Length} values; by default it would take
 * the chunked body and drop the {@code Content-Length}, leaving the bytes after to be read as a next request.)
 */
final class StrictRequestDecoder extends HttpRequestDecoder {

    StrictRequestDecoder(int maxInitialLineLength, int maxHeaderSize, int maxChunkSize) {
        super(new HttpDecoderConfig().setMaxInitialLineLength(maxInitialLineLength).setMaxHeaderSize(maxHeaderSize)
                .setMaxChunkSize(maxChunkSize).setAllowDuplicateContentLengths(false));
    }

    /** Called once the headers are read and Content-Length is checked, before the body's framing is chosen. */
    @Override
    protected boolean isContentAlwaysEmpty(HttpMessage msg) {
        List<String> codings = msg.headers().getAll(HttpHeaderNames.TRANSFER_ENCODING);
        if (!codings.isEmpty()) {
            if (msg.headers().contains(HttpHeaderNames.CONTENT_LENGTH)) {
                throw new IllegalArgumentException("a request with both Content-Length and Transfer-Encoding");
            }
            if (msg.protocolVersion().equals(HttpVersion.HTTP_1_0)) {
                throw new IllegalArgumentException("Transfer-Encoding in an HTTP/1.0 request");
            }
            if (codings.size() != 1 || !"chunked".equalsIgnoreCase(codings.get(0).trim())) {
                throw new IllegalArgumentException("a Transfer-Encoding other than a single chunked");
            }
        }
        return super.isContentAlwaysEmpty(msg);
    }
}
