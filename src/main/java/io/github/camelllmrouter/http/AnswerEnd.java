package io.github.camelllmrouter.http;

import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpStatusClass;
import io.netty.handler.codec.http.LastHttpContent;

/** Notices, on the way out, that an answer has been written in full (an interim 100 Continue does not count). */
final class AnswerEnd {

    private AnswerEnd() {
    }

    /** The promise to write {@code msg} with: when it ends an answer, {@code then} runs once it is written. */
    static ChannelPromise whenWritten(Object msg, ChannelPromise promise, Runnable then) {
        boolean interim = msg instanceof HttpResponse r && r.status().codeClass() == HttpStatusClass.INFORMATIONAL;
        if (msg instanceof LastHttpContent && !interim) {
            ChannelPromise p = promise.unvoid();
            p.addListener(f -> then.run());
            return p;
        }
        return promise;
    }
}
