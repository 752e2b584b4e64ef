package io.github.camelllmrouter.backend;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.IntPredicate;

/**
 * Consistent hashing for session affinity: each backend owns {@code pointsPerWeight × weight} points on a
 * 64-bit ring, placed by hashing its URL, so every router replica given the same backends builds the same ring
 * and makes the same choice without shared state. Removing one of N backends moves only the keys it owned
 * (about 1/N); a key whose backend is out goes to the next backend along the ring, and comes back when it
 * recovers.
 */
public final class HashRing {

    static final int POINTS_PER_WEIGHT = 160;

    private final TreeMap<Long, Integer> ring = new TreeMap<>();
    private final int backends;

    /** @param ids backend ids (URLs), @param weights their weights (0 = not on the ring) */
    public HashRing(List<String> ids, List<Integer> weights) {
        this.backends = ids.size();
        for (int i = 0; i < ids.size(); i++) {
            int points = POINTS_PER_WEIGHT * weights.get(i);
            for (int p = 0; p < points; p++) {
                ring.putIfAbsent(hash(ids.get(i) + "#" + p), i);
            }
        }
    }

    /** The index of the first backend along the ring from the key that {@code usable} accepts, or -1. */
    public int pick(String key, IntPredicate usable) {
        if (ring.isEmpty()) {
            return -1;
        }
        long h = hash(key);
        int checked = 0;
        boolean[] seen = new boolean[backends];
        for (Map<Long, Integer> part : List.of(ring.tailMap(h, true), ring.headMap(h, false))) {
            for (int index : part.values()) {
                if (seen[index]) {
                    continue;
                }
                seen[index] = true;
                if (usable.test(index)) {
                    return index;
                }
                if (++checked == backends) {
                    return -1;
                }
            }
        }
        return -1;
    }

    /** 64-bit FNV-1a with a SplitMix64 finaliser: stable across JVMs and versions, well spread. */
    static long hash(String s) {
        long h = 0xcbf29ce484222325L;
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            h ^= b;
            h *= 0x100000001b3L;
        }
        h ^= h >>> 30;
        h *= 0xbf58476d1ce4e5b9L;
        h ^= h >>> 27;
        h *= 0x94d049bb133111ebL;
        h ^= h >>> 31;
        return h;
    }
}
