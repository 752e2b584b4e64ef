package io.github.camelllmrouter;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import io.github.camelllmrouter.catalogue.ModelCatalogue;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The vLLM router's static-mode flags: parsed with its meaning, and every mistake named in one line. */
class CommandLineTest {

    private static RouterMain.Settings parse(String... args) throws Exception {
        return RouterMain.Settings.parse(args, Path.of("."));
    }

    private static void assertRefused(String message, String... args) {
        assertThatThrownBy(() -> parse(args)).isInstanceOf(RouterMain.UsageException.class).hasMessageContaining(message);
    }

    @Test
    void lists_are_aligned_by_position() throws Exception {
        ModelCatalogue c = parse("--static-backends", "http://h1:8000,http://h2:8000,http://h3:8000",
                "--static-models", "m-a,m-a,m-b", "--static-aliases", "x:m-a,y:m-b",
                "--static-model-types", "chat,chat,embeddings").catalogue();
        assertThat(c.models().get("m-a").backends()).extracting(ModelCatalogue.Backend::url)
                .containsExactly("http://h1:8000", "http://h2:8000");
        assertThat(c.models().get("m-b").type()).isEqualTo("embeddings");
        assertThat(c.aliases()).containsEntry("x", "m-a").containsEntry("y", "m-b");
    }

    @Test
    void misaligned_or_malformed_lists_are_refused() {
        assertRefused("--static-backends has 2 entries but --static-models has 1",
                "--static-backends", "http://h1:8000,http://h2:8000", "--static-models", "m-a");
        assertRefused("--static-model-types has 1 entries",
                "--static-backends", "http://h1:8000,http://h2:8000", "--static-models", "m-a,m-b", "--static-model-types", "chat");
        assertRefused("is not an http(s) URL", "--static-backends", "h1:8000", "--static-models", "m-a");
        assertRefused("is not of the form alias:model",
                "--static-backends", "http://h1:8000", "--static-models", "m-a", "--static-aliases", "x");
        assertRefused("points to 'nope'",
                "--static-backends", "http://h1:8000", "--static-models", "m-a", "--static-aliases", "x:nope");
        assertRefused("expected one of", "--static-backends", "http://h1:8000", "--static-models", "m-a",
                "--static-model-types", "poetry");
        assertRefused("--static-models is set but --static-backends is empty", "--static-models", "m-a");
    }

    @Test
    void fallbacks_are_parsed_and_a_cycle_is_refused_at_startup() throws Exception {
        ModelCatalogue c = parse("--static-backends", "http://h1:8000,http://h2:8000,http://h3:8000",
                "--static-models", "m-a,m-b,m-c", "--static-fallback-models", "m-a:m-b,m-b:m-c",
                "--static-backend-weights", "3,1,2").catalogue();
        assertThat(c.models().get("m-a").fallback()).isEqualTo("m-b");
        assertThat(c.models().get("m-b").fallback()).isEqualTo("m-c");
        assertThat(c.models().get("m-a").backends().get(0).weight()).isEqualTo(3);
        assertRefused("fallback cycle: m-a -> m-b -> m-a", "--static-backends", "http://h1:8000,http://h2:8000",
                "--static-models", "m-a,m-b", "--static-fallback-models", "m-a:m-b,m-b:m-a");
        assertRefused("which no backend serves", "--static-backends", "http://h1:8000",
                "--static-models", "m-a", "--static-fallback-models", "m-a:m-x");
        assertRefused("--static-backend-weights entry 1 is not a whole number", "--static-backends", "http://h1:8000",
                "--static-models", "m-a", "--static-backend-weights", "heavy");
        assertRefused("--max-instance-failover-reroute-attempts must be a whole number",
                "--max-instance-failover-reroute-attempts", "many");
    }

    @Test
    void unknown_flags_and_values_are_refused() {
        assertRefused("'--no-such-flag'", "--no-such-flag", "1");
        assertRefused("--routing-logic must be roundrobin, session, least-loaded or prefixaware", "--routing-logic", "random");
        assertRefused("--service-discovery must be static or k8s", "--service-discovery", "dns");
        assertRefused("--port must be a whole number", "--port", "http");
        assertRefused("--port must be between 1 and 65535", "--port", "70000");
        assertRefused("--log-level must be", "--log-level", "loud");
    }

    @Test
    void flags_that_select_what_this_router_cannot_do_are_refused() {
        assertRefused("cannot read the dynamic config /tmp/no-such-dir/c.yaml", "--dynamic-config-yaml", "/tmp/no-such-dir/c.yaml");
        assertRefused("give --dynamic-config-json or --dynamic-config-yaml, not both", "--dynamic-config-yaml", "/tmp/c.yaml",
                "--dynamic-config-json", "/tmp/c.json");
        assertRefused("--log-format must be text or json", "--log-format", "xml");
        assertRefused("--k8s-service-discovery-type service-name is not supported yet", "--service-discovery", "k8s",
                "--k8s-service-discovery-type", "service-name");
        assertRefused("--static-backends cannot be used with --service-discovery k8s", "--service-discovery", "k8s",
                "--static-backends", "http://h1:8000", "--static-models", "m-a");
        assertRefused("--routing-logic kvaware is not supported yet", "--routing-logic", "kvaware");
        assertRefused("--routing-logic session needs --session-key", "--routing-logic", "session");
    }

    @Test
    void help_lists_every_flag_of_the_vllm_router() throws Exception {
        String help = parse("--help").exitNow;
        for (String flag : List.of("--host", "--port", "--root-path", "--service-discovery", "--k8s-service-discovery-type",
                "--static-backends", "--static-models", "--static-aliases", "--static-model-types", "--static-model-labels",
                "--static-backend-health-checks", "--static-backend-health-check-interval",
                "--static-backend-health-check-timeout-seconds", "--k8s-port", "--k8s-namespace", "--k8s-label-selector",
                "--k8s-watcher-timeout-seconds", "--backend-health-check-timeout-seconds", "--routing-logic", "--session-key",
                "--engine-stats-interval", "--request-stats-window", "--log-stats", "--log-stats-interval",
                "--dynamic-config-yaml", "--dynamic-config-json", "--version", "--log-level", "--log-format",
                "--otel-endpoint", "--otel-service-name", "--otel-secure", "--prefix-min-match-length",
                "--max-instance-failover-reroute-attempts", "--static-fallback-models", "--callbacks", "--request-rewriter",
                "--feature-gates", "--enable-batch-api", "--lmcache-controller-port", "--sentry-dsn",
                "--external-providers-config", "-h")) {
            assertThat(help).contains(flag);
        }
    }

    @Test
    void a_bad_command_line_exits_non_zero_with_one_line() throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), RouterMain.class.getName(),
                "--static-backends", "http://127.0.0.1:9,http://127.0.0.1:10", "--static-models", "m-a"));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        String out = new String(p.getInputStream().readAllBytes()).trim();
        assertThat(p.exitValue()).isEqualTo(2);
        assertThat(out.lines()).hasSize(1);
        assertThat(out).contains("--static-backends has 2 entries but --static-models has 1");
    }

    @Test
    void flags_behave_as_argparse_does_in_the_vllm_router() throws Exception {
        // a repeated flag: the last wins
        assertThat(parse("--port", "9000", "--static-backends", "http://h1:8000", "--static-models", "m-a", "--port", "9001")
                .routerProperties.get("router.port")).isEqualTo("9001");
        // --flag=value, and a unique prefix
        RouterMain.Settings s = parse("--static-backends=http://h1:8000", "--static-models", "m-a", "--routing-l", "roundrobin",
                "--static-ali", "fast:m-a");
        assertThat(s.catalogue().aliases()).containsEntry("fast", "m-a");
        assertThat(s.catalogue().models()).containsKey("m-a");
        assertThat(s.routerProperties.get("router.routing-logic")).isEqualTo("roundrobin");
        assertRefused("static-back", "--static-back", "http://h1:8000"); // ambiguous: --static-backends, --static-backend-weights, ...
        assertThat(parse("-h").exitNow).contains("--static-backends");
    }

    @Test
    void vllm_flags_for_features_this_router_does_not_have_are_accepted_and_named() throws Exception {
        RouterMain.Settings s = parse("--static-backends", "http://h1:8000", "--static-models", "m-a", "--routing-logic", "roundrobin",
                "--callbacks", "my_module.callbacks", "--request-rewriter", "noop", "--feature-gates", "", "--sentry-dsn", "",
                "--sentry-traces-sample-rate", "0.1", "--sentry-profile-session-sample-rate", "1.0", "--enable-batch-api",
                "--file-storage-class", "local_file", "--file-storage-path", "/tmp/vllm_files", "--batch-processor", "local",
                "--lmcache-controller-port", "9000", "--prefill-model-labels", "prefill", "--decode-model-labels", "decode",
                "--static-model-labels", "a", "--semantic-cache-model", "all-MiniLM-L6-v2", "--external-providers-config", "x.yaml",
                "--engine-stats-interval", "30");
        assertThat(s.catalogue().models()).containsKey("m-a");
        assertThat(s.ignoredFlags).contains("--callbacks", "--enable-batch-api", "--lmcache-controller-port", "--static-model-labels",
                "--semantic-cache-model", "--external-providers-config").doesNotContain("--request-rewriter", "--sentry-dsn");
        assertRefused("--request-rewriter gzip is not supported", "--static-backends", "http://h1:8000", "--static-models", "m-a",
                "--request-rewriter", "gzip");
        assertRefused("is not supported yet", "--static-backends", "http://h1:8000", "--static-models", "m-a", "--routing-logic", "kvaware");
    }

    @Test
    void an_explicit_static_discovery_with_no_backends_does_not_fail_open() {
        assertRefused("--static-backends is empty", "--service-discovery", "static", "--static-backends", "", "--static-models", "");
        assertRefused("--service-discovery static needs --static-backends", "--service-discovery", "static");
    }
}
