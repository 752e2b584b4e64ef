package io.github.camelllmrouter;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/** Self-signed certificates for TLS tests, made by the JDK's keytool: a PKCS#12 key store and its PEM. */
public final class TestCertificates {

    public static final String PASSWORD = "changeit";

    private TestCertificates() {
    }

    /**
     * A key pair and self-signed certificate for {@code cn} (and the subject alternative names {@code san}, such as
     * {@code "ip:127.0.0.1,dns:localhost"}, or null) in {@code p12}, the certificate alone in {@code pem}.
     */
    public static void selfSigned(Path p12, Path pem, String cn, String san) throws Exception {
        String keytool = Path.of(System.getProperty("java.home"), "bin", "keytool").toString();
        List<String> make = new ArrayList<>(List.of(keytool, "-genkeypair", "-alias", "key", "-keyalg", "EC",
                "-groupname", "secp256r1", "-dname", "CN=" + cn, "-validity", "2", "-keystore", p12.toString(),
                "-storetype", "PKCS12", "-storepass", PASSWORD));
        if (san != null) {
            make.addAll(List.of("-ext", "san=" + san));
        }
        run(make);
        run(List.of(keytool, "-exportcert", "-rfc", "-alias", "key", "-keystore", p12.toString(),
                "-storepass", PASSWORD, "-file", pem.toString()));
    }

    private static void run(List<String> command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
    }
}
