package io.github.camelllmrouter.http;

import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class WholeEventsTest {

    static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }

    static String text(byte[] b) {
        return b == null ? null : new String(b, StandardCharsets.ISO_8859_1);
    }

    @Test
    void a_chunk_that_ends_on_an_events_end_passes_as_it_is() {
        WholeEvents whole = new WholeEvents();
        byte[] chunk = bytes("data: {\"a\":1}\n\ndata: {\"b\":2}\n\n");
        assertThat(whole.take(chunk)).isSameAs(chunk);
        assertThat(whole.insideEvent()).isFalse();
        assertThat(whole.rest()).isEmpty();
    }

    @Test
    void the_start_of_an_event_is_held_until_its_end_comes_with_every_kind_of_blank_line() {
        for (String blank : new String[] {"\n\n", "\r\n\r\n", "\r\r"}) {
            WholeEvents whole = new WholeEvents();
            assertThat(text(whole.take(bytes("data: 1" + blank + "data: {\"b\"")))).isEqualTo("data: 1" + blank);
            assertThat(whole.take(bytes(":2"))).isNull();
            // the blank line itself split over two chunks
            String firstHalf = blank.substring(0, 1);
            assertThat(whole.take(bytes("}" + firstHalf))).isNull();
            assertThat(text(whole.take(bytes(blank.substring(1) + "data: 3")))).isEqualTo("data: {\"b\":2}" + blank);
            assertThat(text(whole.rest())).isEqualTo("data: 3");
            assertThat(whole.insideEvent()).isFalse();
        }
    }

    @Test
    void a_line_end_alone_ends_no_event() {
        WholeEvents whole = new WholeEvents();
        assertThat(whole.take(bytes("event: x\r\ndata: 1\r\n"))).isNull();
        assertThat(whole.take(bytes("data: 2\n"))).isNull();
        assertThat(text(whole.take(bytes("\n")))).isEqualTo("event: x\r\ndata: 1\r\ndata: 2\n\n");
    }

    @Test
    void an_event_longer_than_the_limit_is_let_through_and_a_cut_then_needs_a_blank_line() {
        WholeEvents whole = new WholeEvents();
        byte[] big = bytes("data: " + "x".repeat(WholeEvents.MAX_HELD));
        assertThat(whole.take(big)).isSameAs(big);
        assertThat(whole.insideEvent()).isTrue();
        assertThat(text(whole.take(bytes("y\n\n")))).isEqualTo("y\n\n");
        assertThat(whole.insideEvent()).isFalse();
    }
}
