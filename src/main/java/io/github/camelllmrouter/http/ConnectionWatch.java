package io.github.camelllmrouter.http;

import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.LastHttpContent;

/**
 * Bounds one client connection in time: a request's headers must arrive within the header timeout of its first
 * byte (of the connection's opening, for its first request), its body within the body timeout, and a kept-alive
 * connection with no request in progress is closed after the idle timeout. A request being answered (a stream
 * included) is never cut by these. A timeout while a request is arriving is answered 408; an idle connection is
 * just closed. Two handlers: {@link #bytes()} at the head of the pipeline sees the first byte of each request,
 * and this one (after the HTTP encoder) sees decoded requests and the answers going out.
 */
final class ConnectionWatch extends ChannelDuplexHandler {

    private final FrontDoor door;
    // one deadline, checked by one timer that waits out what is left of it (as Netty's IdleStateHandler does): a
    // request moves the deadline three times, and scheduling and cancelling a timer each time was that many
    // tasks through the event loop's queue
    private boolean armed;
    private long deadlineNanos;
    private String reason;
    private ScheduledFuture<?> timer; // the check pending, due at timerDueNanos
    private long timerDueNanos;
    private boolean receiving;  // bytes of a request seen, its headers not yet decoded
    private boolean inBody;     // headers decoded, body not complete
    private int unanswered;     // requests whose answer has not been written in full

    private ChannelHandlerContext own; // this handler's place in the pipeline: a 408 goes out through the encoder

    ConnectionWatch(FrontDoor door) {
        this.door = door;
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        own = ctx;
    }

    /** The head-of-pipeline part: notes the first byte of a request. */
    ChannelInboundHandlerAdapter bytes() {
        return new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext ctx, Object msg) {
                if (msg instanceof ByteBuf b && b.isReadable() && !receiving && !inBody) {
                    receiving = true;
                    if (unanswered == 0) {
                        arm(own, door.headerTimeoutMs(), "header_timeout");
                    } // else (a pipelined request, or a stray CRLF after a body) the timer starts once the answer is out
                }
                ctx.fireChannelRead(msg);
            }
        };
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        if (!door.admit(ctx.channel())) {
            ctx.close();
            return;
        }
        // a new connection is expected to send its first request's headers within the header timeout
        arm(ctx, door.headerTimeoutMs(), "header_timeout");
        super.channelActive(ctx);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        cancel();
        if (timer != null) {
            timer.cancel(false);
            timer = null;
        }
        super.channelInactive(ctx);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        if (msg instanceof HttpRequest) {
            receiving = false;
            inBody = true;
            unanswered++;
            arm(ctx, door.bodyTimeoutMs(), "body_timeout");
        }
        if (msg instanceof LastHttpContent && inBody) {
            inBody = false;
            cancel(); // the request is in: nothing bounds its answer here
        }
        super.channelRead(ctx, msg);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) throws Exception {
        super.write(ctx, msg, AnswerEnd.whenWritten(msg, promise, () -> answered(ctx)));
    }

    private void answered(ChannelHandlerContext ctx) {
        if (unanswered > 0) {
            unanswered--;
        }
        if (unanswered == 0 && !inBody && ctx.channel().isActive()) {
            if (receiving) {
                arm(ctx, door.headerTimeoutMs(), "header_timeout");
            } else {
                arm(ctx, door.idleTimeoutMs(), "idle_timeout");
            }
        }
    }

    private void arm(ChannelHandlerContext ctx, long ms, String why) {
        if (ms <= 0) {
            cancel();
            return;
        }
        armed = true;
        reason = why;
        deadlineNanos = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ms);
        if (timer != null && timerDueNanos - deadlineNanos > 0) {
            timer.cancel(false); // due after the new deadline: checked sooner instead
            timer = null;
        }
        if (timer == null) {
            check(ctx, deadlineNanos);
        }
    }

    /** No deadline: the pending check, if any, finds nothing to do. */
    private void cancel() {
        armed = false;
    }

    private void check(ChannelHandlerContext ctx, long dueNanos) {
        timerDueNanos = dueNanos;
        timer = ctx.executor().schedule(() -> {
            timer = null;
            if (!armed) {
                return;
            }
            if (deadlineNanos - System.nanoTime() > 0) {
                check(ctx, deadlineNanos); // moved on since this check was set: wait out the rest
            } else {
                armed = false;
                expired(ctx, reason);
            }
        }, Math.max(0, dueNanos - System.nanoTime()), TimeUnit.NANOSECONDS);
    }

    private void expired(ChannelHandlerContext ctx, String reason) {
        door.closed(reason);
        if ("idle_timeout".equals(reason) || unanswered > (inBody ? 1 : 0)) {
            ctx.close(); // nothing to answer (or an answer still owed to an earlier request): just close
            return;
        }
        door.refuse(ctx, HttpResponseStatus.REQUEST_TIMEOUT, "request_timeout",
                "The request did not arrive in time (" + reason.replace('_', ' ') + ").");
    }
}
