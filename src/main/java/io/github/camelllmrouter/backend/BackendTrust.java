package io.github.camelllmrouter.backend;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.Collection;

import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

import io.vertx.core.http.HttpClientOptions;
import io.vertx.core.net.TrustOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How the backend client checks the certificates of {@code https://} backends. By default against the JVM's CAs
 * (its {@code cacerts}, or {@code -Djavax.net.ssl.trustStore}) and the backend's host name, as any HTTPS client
 * does. A PEM file of CAs adds a private CA (a cluster's, a company's) to those (LiteLLM's {@code ssl_verify} path
 * and Envoy's {@code trusted_ca} take such a file in place of the defaults). Checking off trusts any certificate
 * for any name: for test clusters only.
 */
final class BackendTrust {

    private static final Logger LOG = LoggerFactory.getLogger(BackendTrust.class);

    private BackendTrust() {
    }

    /** Sets {@code http}'s TLS checks: {@code caFile} null or blank for the JVM's CAs alone. */
    static void apply(HttpClientOptions http, String caFile, boolean verify) {
        if (!verify) {
            LOG.warn("TLS certificates of https:// backends are not checked (camel.component.llm.tls-verify = false):"
                    + " any server can pose as a backend");
            http.setTrustAll(true).setVerifyHost(false);
            return;
        }
        if (caFile != null && !caFile.isBlank()) {
            http.setTrustOptions(TrustOptions.wrap(withCas(Path.of(caFile.trim()))));
        }
    }

    /** The JVM's CAs and those in {@code pem}; a file without a certificate is refused at start. */
    static TrustManagerFactory withCas(Path pem) {
        try {
            KeyStore store = KeyStore.getInstance("PKCS12"); // in memory, whatever keystore.type says
            store.load(null, null);
            int n = 0;
            for (X509Certificate ca : jvmCas()) {
                store.setCertificateEntry("jvm-" + n++, ca);
            }
            Collection<? extends Certificate> added;
            try (InputStream in = Files.newInputStream(pem)) {
                added = CertificateFactory.getInstance("X.509").generateCertificates(in);
            }
            if (added.isEmpty()) {
                throw new IllegalArgumentException("camel.component.llm.tls-ca-file " + pem + " holds no PEM certificate");
            }
            for (Certificate ca : added) {
                store.setCertificateEntry("file-" + n++, ca);
            }
            TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            trust.init(store);
            return trust;
        } catch (IOException | GeneralSecurityException e) {
            throw new IllegalArgumentException("camel.component.llm.tls-ca-file " + pem + ": " + e.getMessage(), e);
        }
    }

    private static X509Certificate[] jvmCas() throws GeneralSecurityException {
        TrustManagerFactory jvm = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        jvm.init((KeyStore) null);
        for (TrustManager manager : jvm.getTrustManagers()) {
            if (manager instanceof X509TrustManager x509) {
                return x509.getAcceptedIssuers();
            }
        }
        return new X509Certificate[0];
    }
}
