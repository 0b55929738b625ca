import type { FastifyInstance } from 'fastify';
import type { DeliveryService } from '../../delivery/delivery.service.ts';
import type { ProviderEvent } from '../../delivery/message.repository.ts';
import { parseSendgridEvents, verifySendgridSignature } from '../../delivery/sendgrid-webhook.ts';
import { AppError } from '../../errors.ts';
import type { Logger } from '../../logging/logger.ts';
import type { Clock } from '../../shared/time.ts';

/**
 * SendGrid's signed Event Webhook. The signature covers the exact bytes SendGrid sent (with its
 * trailing CRLF), so this scope keeps JSON bodies raw and parses them only after verification.
 * Answers 2xx for events we ignore or cannot map, so SendGrid does not retry them for 24 h.
 */
export function registerSendgridWebhook(
  scope: FastifyInstance,
  deps: {
    delivery: DeliveryService;
    publicKey?: string;
    clock: Clock;
    logger: Logger;
    /** Features that react to stored events (sequences stop on bounces, spam reports, unsubscribes). */
    onEvents?: (events: ProviderEvent[]) => Promise<void>;
  },
): void {
  scope.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) =>
    done(null, body),
  );
  scope.post('/webhooks/sendgrid', async (request, reply) => {
    if (!deps.publicKey) {
      throw new AppError(
        'unavailable',
        'The SendGrid webhook is off: set SENDGRID_WEBHOOK_PUBLIC_KEY to the verification key from SendGrid Mail Settings',
        { retryable: false },
      );
    }
    const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.from(String(request.body ?? ''));
    const header = (name: string) => {
      const value = request.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    const verdict = verifySendgridSignature({
      publicKey: deps.publicKey,
      signature: header('x-twilio-email-event-webhook-signature'),
      timestamp: header('x-twilio-email-event-webhook-timestamp'),
      rawBody: raw,
      now: deps.clock.now(),
    });
    if (!verdict.ok) {
      // Debug only: anyone can post here; the web server logs rejections summarized.
      deps.logger.debug('rejected SendGrid webhook', { reason: verdict.reason });
      throw new AppError('unauthorized', `SendGrid webhook signature check failed: ${verdict.reason}`);
    }
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      throw AppError.validation([{ field: '(body)', message: 'is not valid JSON' }]);
    }
    let parsed: ReturnType<typeof parseSendgridEvents>;
    try {
      parsed = parseSendgridEvents(body);
    } catch (error) {
      throw AppError.validation([{ field: '(body)', message: (error as Error).message }]);
    }
    const result = await deps.delivery.ingestProviderEvents('sendgrid', parsed.events);
    await deps.onEvents?.(parsed.events);
    if (parsed.rejected.length > 0) {
      deps.logger.warn('ignored SendGrid events', {
        count: parsed.rejected.length,
        first: parsed.rejected[0],
      });
    }
    return reply.code(200).send({ ...result, ignored: parsed.rejected.length });
  });
}
