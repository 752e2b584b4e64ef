package io.github.camelllmrouter.backend;

import java.io.ByteArrayInputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.List;

import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

import io.github.camelllmrouter.TestCertificates;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/** A CA file adds to the JVM's CAs: a backend with a public certificate stays trusted beside a private one. */
class BackendTrustTest {

    @TempDir
    Path dir;

    @Test
    void the_file_s_ca_is_trusted_beside_every_ca_of_the_jvm() throws Exception {
        Path pem = dir.resolve("ca.pem");
        TestCertificates.selfSigned(dir.resolve("k.p12"), pem, "private-ca", null);
        X509Certificate mine = (X509Certificate) CertificateFactory.getInstance("X.509")
                .generateCertificate(new ByteArrayInputStream(Files.readAllBytes(pem)));

        List<X509Certificate> jvm = issuers(null);
        assertThat(jvm).isNotEmpty();
        List<X509Certificate> both = Arrays.asList(trustManager(BackendTrust.withCas(pem)).getAcceptedIssuers());
        assertThat(both).contains(mine).containsAll(jvm).hasSize(jvm.size() + 1);
    }

    private static List<X509Certificate> issuers(KeyStore store) throws Exception {
        TrustManagerFactory f = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        f.init(store);
        return Arrays.asList(trustManager(f).getAcceptedIssuers());
    }

    private static X509TrustManager trustManager(TrustManagerFactory f) {
        return (X509TrustManager) Arrays.stream(f.getTrustManagers()).filter(X509TrustManager.class::isInstance)
                .findFirst().orElseThrow();
    }
}
