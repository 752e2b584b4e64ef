package io.github.camelllmrouter.backend;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;

/** A CA file adds to the JVM's CAs: a backend with a public certificate stays trusted beside a private one. */
class BackendTrustTest {

    @TempDir
    Path dir;

    @Test
    void the_file_s_ca_is_trusted_beside_every_ca_of_the_jvm() throws Exception {
        Path keys = dir.resolve("k.p12");
        Path pem = dir.resolve("ca.pem");
        String keytool = Path.of(System.getProperty("java.home"), "bin", "keytool").toString();
        run(keytool, "-genkeypair", "-alias", "ca", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=private-ca",
                "-validity", "2", "-keystore", keys.toString(), "-storetype", "PKCS12", "-storepass", "changeit");
        run(keytool, "-exportcert", "-rfc", "-alias", "ca", "-keystore", keys.toString(), "-storepass", "changeit",
                "-file", pem.toString());
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

    private static void run(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
    }
}
