import * as Sentry from '@sentry/node';
import type { ErrorReporter, ErrorTrackingOptions } from './error-reporter.ts';

/**
 * Sentry for errors only: no tracing and none of the SDK's automatic instrumentation (which
 * would patch http, pg and redis); just the error events Briefly reports, plus, for the `start`
 * command, the process's uncaught exceptions and unhandled rejections. Loaded only with a DSN.
 */
export function createSentryReporter(options: ErrorTrackingOptions & { dsn: string }): ErrorReporter {
  const secrets = (options.secrets ?? []).filter((s) => s.length >= 4);
  const scrub = (text: string) => secrets.reduce((out, secret) => out.split(secret).join('[secret]'), text);
  Sentry.init({
    dsn: options.dsn,
    environment: options.environment,
    release: `briefly@${options.release}`,
    defaultIntegrations: false,
    skipOpenTelemetrySetup: true,
    tracesSampleRate: undefined,
    sendDefaultPii: false,
    integrations: [
      Sentry.linkedErrorsIntegration(),
      Sentry.dedupeIntegration(),
      ...(options.processHandlers
        ? [
            Sentry.onUncaughtExceptionIntegration(),
            // Node's own default for an unhandled rejection is to crash; `strict` keeps that.
            Sentry.onUnhandledRejectionIntegration({ mode: 'strict' }),
          ]
        : []),
    ],
    beforeSend(event) {
      if (secrets.length === 0) return event;
      return JSON.parse(scrub(JSON.stringify(event)));
    },
  });
  options.logger.info('error tracking on (Sentry)', { environment: options.environment });
  return {
    enabled: true,
    capture(error, tags) {
      Sentry.withScope((scope) => {
        scope.setTags(tags);
        Sentry.captureException(error);
      });
    },
    async flush(timeoutMs) {
      await Sentry.flush(timeoutMs);
    },
  };
}
