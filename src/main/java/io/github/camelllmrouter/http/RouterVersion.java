package io.github.camelllmrouter.http;

/** The router's version, from the jar's manifest (the build's version when run from classes). */
public final class RouterVersion {

    private RouterVersion() {
    }

    public static String get() {
        String v = RouterVersion.class.getPackage().getImplementationVersion();
        return v != null ? v : "0.1.0-SNAPSHOT";
    }
}
