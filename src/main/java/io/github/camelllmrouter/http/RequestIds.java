package io.github.camelllmrouter.http;

import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;

/** Request ids the router makes when the client sent none: version-4 UUIDs. */
final class RequestIds {

    private RequestIds() {
    }

    /** Random, not secret: ThreadLocalRandom spares the SecureRandom behind UUID.randomUUID() on every request. */
    static String next() {
        ThreadLocalRandom r = ThreadLocalRandom.current();
        return new UUID(r.nextLong() & ~0xF000L | 0x4000L, r.nextLong() & 0x3FFFFFFFFFFFFFFFL | 0x8000000000000000L).toString();
    }
}
