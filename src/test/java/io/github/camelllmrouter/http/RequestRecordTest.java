package io.github.camelllmrouter.http;

import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** Token counts read off an answer's {@code usage}, without parsing the whole answer. */
class RequestRecordTest {

    static long[] usage(String json) {
        return RequestRecord.usage(json.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void reads_the_token_counts_of_chat_responses_and_messages_answers() {
        assertThat(usage("{\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":3,\"total_tokens\":8}}"))
                .containsExactly(5, 3);
        assertThat(usage("{\"usage\" : {\n  \"prompt_tokens\" :\t12 ,\r\n  \"completion_tokens\": 0 }}")).containsExactly(12, 0);
        assertThat(usage("{\"usage\":{\"input_tokens\":7,\"output_tokens\":11}}")).containsExactly(7, 11);
        assertThat(usage("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":4}}\n\n"))
                .containsExactly(9, 4);
    }

    @Test
    void a_count_that_is_missing_or_not_a_number_is_minus_one() {
        assertThat(usage("{\"choices\":[{\"text\":\"prompt_tokens: 5\"}]}")).isNull();
        assertThat(usage("{\"usage\":{\"completion_tokens\":3}}")).containsExactly(-1, 3);
        assertThat(usage("{\"usage\":{\"prompt_tokens\":null,\"completion_tokens\":\"x\"}}")).containsExactly(-1, -1);
        // the first count that is a number wins, as a regex's first match would
        assertThat(usage("{\"usage\":{\"prompt_tokens\":null,\"x\":{\"prompt_tokens\":4}}}")).containsExactly(4, -1);
    }
}
