import { type Job, UnrecoverableError } from 'bullmq';
import type { Logger } from '../logging/logger.ts';
import type { DeliveryMetrics } from './delivery.metrics.ts';
import { type EmailProvider, ProviderError } from './email-provider.ts';
import type { MessageRepository } from './message.repository.ts';

export interface FailureAlerts {
  permanentFailure(failure: { reason: string; messageId: string; to: string }): Promise<void>;
}

export interface DeliverDeps {
  repo: MessageRepository;
  provider: EmailProvider;
  alerts: FailureAlerts;
  metrics: DeliveryMetrics;
}

/** Groups alert reasons: "SendGrid 400: The from address does not match a verified Sender Identity". */
function alertReason(error: ProviderError): string {
  return `${error.provider}: ${error.message}`.slice(0, 300);
}

/**
 * Sends one message. Idempotent per message: a job for a message that is no longer queued or
 * deferred (sent, cancelled, redriven into a newer round) does nothing.
 *
 * At-least-once, not exactly-once: if this process dies after the provider accepted the message
 * but before `sent` is stored, the stalled job runs again and the message is sent twice. SendGrid
 * has no idempotency key to prevent that; SMTP receivers may drop the copy by its Message-ID.
 */
export async function deliverMessage(job: Job<{ messageId: string }>, deps: DeliverDeps, logger: Logger) {
  const messageId = job.data.messageId;
  const log = logger.child({ message_id: messageId });
  const message = await deps.repo.claim(messageId);
  if (!message) {
    log.debug('message not sendable any more; nothing to do');
    return { skipped: true };
  }

  const suppressed = new Set(message.suppressed);
  const keep = (list: { email: string; name?: string }[]) =>
    list.filter((a) => !suppressed.has(a.email.toLowerCase()));
  const to = keep(message.to);
  if (to.length === 0) {
    await deps.repo.markStatus(messageId, 'suppressed', null, { suppressed: message.suppressed });
    deps.metrics.messages.inc({ status: 'suppressed', provider: 'none' });
    log.info('message suppressed: every recipient is on the suppression list');
    return { suppressed: true };
  }

  try {
    const attachments = message.attachment_count > 0 ? await deps.repo.attachmentsToSend(messageId) : [];
    const result = await deps.provider.send({
      messageId,
      from: message.from_address,
      to,
      cc: keep(message.cc),
      bcc: keep(message.bcc),
      replyTo: message.reply_to ?? undefined,
      subject: message.subject,
      html: message.html ?? undefined,
      text: message.text ?? undefined,
      tags: message.tags,
      messageIdHeader: message.message_id_header ?? undefined,
      headers: Object.keys(message.headers ?? {}).length ? message.headers : undefined,
      attachments: attachments.length
        ? attachments.map((a) => ({
            filename: a.filename,
            contentType: a.content_type,
            content: a.content,
            disposition: a.disposition,
            contentId: a.content_id ?? undefined,
          }))
        : undefined,
    });
    await deps.repo.markSent(messageId, result.provider, result.providerMessageId, {
      attempt: message.attempts,
      ...(suppressed.size ? { suppressed: message.suppressed } : {}),
    });
    deps.metrics.messages.inc({ status: 'sent', provider: result.provider });
    return { provider: result.provider, providerMessageId: result.providerMessageId };
  } catch (caught) {
    const error =
      caught instanceof ProviderError
        ? caught
        : new ProviderError(
            'unknown',
            'transient',
            (caught as Error).message ?? String(caught),
            {},
            { cause: caught },
          );
    const detail = { provider: error.provider, attempt: message.attempts, ...error.details };
    const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    if (error.kind === 'permanent' || lastAttempt) {
      await deps.repo.markStatus(messageId, 'failed', error.message, { ...detail, reason: error.message });
      deps.metrics.messages.inc({ status: 'failed', provider: error.provider });
      log.warn('message failed', { provider: error.provider, kind: error.kind, error: error.message });
      await deps.alerts
        .permanentFailure({ reason: alertReason(error), messageId, to: to.map((a) => a.email).join(', ') })
        .catch((alertError: Error) => log.error('could not raise alert', { error: alertError.message }));
      throw new UnrecoverableError(error.message);
    }
    await deps.repo.markStatus(messageId, 'deferred', error.message, { ...detail, reason: error.message });
    deps.metrics.messages.inc({ status: 'deferred', provider: error.provider });
    throw error;
  }
}
