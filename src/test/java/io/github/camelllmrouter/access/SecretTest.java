package io.github.camelllmrouter.access;

import java.util.Map;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Secrets are named by where they are (env: or file:), never written into the configuration, never shown. */
class SecretTest {

    @Test
    void an_environment_variable_is_read_and_never_shown() {
        Secret s = Secret.of("env:GATEWAY_KEY", "apiKey", Map.of("GATEWAY_KEY", "sk-from-env\n"));
        assertThat(s.value()).isEqualTo("sk-from-env");
        assertThat(s.toString()).isEqualTo("env:GATEWAY_KEY").doesNotContain("sk-from-env");
    }

    @Test
    void a_missing_variable_or_a_key_written_in_place_is_refused_without_echoing_it() {
        assertThatThrownBy(() -> Secret.of("env:NOT_SET", "apiKey", Map.of()))
                .hasMessageContaining("NOT_SET").hasMessageContaining("not set");
        assertThatThrownBy(() -> Secret.of("sk-literal-key", "apiKey", Map.of()))
                .hasMessageContaining("env:NAME or file:/path").hasMessageNotContaining("sk-literal-key");
    }
}
