package io.github.camelllmrouter.http;

import io.sentry.Sentry;

/**
 * {@code --sentry-dsn} (and {@code --sentry-traces-sample-rate}), as in the vLLM router: the router's own unexpected
 * errors (those answered 500 {@code internal_error}) go to Sentry with the request's id, path and model. Backends'
 * failures are not the router's and are not sent; nor is any prompt, answer or key.
 */
public final class ErrorReports {

    private static volatile boolean on;

    private ErrorReports() {
    }

    public static void configure(String dsn, double tracesSampleRate, String release) {
        Sentry.init(options -> {
            options.setDsn(dsn);
            options.setTracesSampleRate(tracesSampleRate);
            options.setRelease("camel-llm-router@" + release);
            options.setSendDefaultPii(false);
            options.setEnableUncaughtExceptionHandler(false);
        });
        on = true;
    }

    /** One unexpected error while routing a request. */
    static void capture(Throwable error, LlmCall call) {
        if (!on) {
            return;
        }
        Sentry.withScope(scope -> {
            scope.setTag("request_id", call.requestId());
            scope.setTag("path", call.path());
            if (call.request() != null) {
                scope.setTag("model", call.request().requestedModel());
            }
            Sentry.captureException(error);
        });
    }

    public static void shutdown() {
        if (on) {
            Sentry.close();
            on = false;
        }
    }
}
