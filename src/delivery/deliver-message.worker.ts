import { DelayedError, type Job, UnrecoverableError } from 'bullmq';
import type { Logger } from '../logging/logger.ts';
import type { ByteBudget } from '../shared/byte-budget.ts';
import { type Clock, systemClock } from '../shared/time.ts';
import type { DeliveryMetrics } from './delivery.metrics.ts';
import { type OutgoingEmail, ProviderError, type SendResult } from './email-provider.ts';
import type { FailoverSendOptions } from './failover.email-provider.ts';
import type { Claim, MessageRepository } from './message.repository.ts';

export interface FailureAlerts {
  permanentFailure(failure: { reason: string; messageId: string; to: string }): Promise<void>;
}

/** The provider chain as the worker uses it (FailoverEmailProvider). */
export interface SendingProvider {
  send(email: OutgoingEmail, options?: FailoverSendOptions): Promise<SendResult>;
}

export interface DeliverDeps {
  repo: MessageRepository;
  provider: SendingProvider;
  alerts: FailureAlerts;
  metrics: DeliveryMetrics;
  /**
   * A claim on a message lasts this long; it is renewed right before each provider call once a
   * quarter of it has passed (a fresher claim has more than three quarters left).
   */
  leaseMs: number;
  /** After an unknown outcome, only the same provider is retried until this long has passed without a webhook event. */
  unknownOutcomeWaitMs: number;
  /**
   * Decoded attachment bytes this process sends at once (DELIVERY_ATTACHMENTS_IN_FLIGHT_BYTES).
   * Without it, sends with attachments are not limited beyond the worker's concurrency.
   */
  attachmentBudget?: ByteBudget;
  clock?: Clock;
}

/** Groups alert reasons: "SendGrid 400: The from address does not match a verified Sender Identity". */
function alertReason(error: ProviderError): string {
  return `${error.provider}: ${error.message}`.slice(0, 300);
}

/** The claim was taken over (this worker froze or was too slow): this attempt must not touch the message. */
class ClaimLostError extends Error {
  constructor(readonly provider: string) {
    super('claim on the message lost before calling the provider');
    this.name = 'ClaimLostError';
  }
}

/**
 * Sends one message. Idempotent per message: a job for a message that is no longer queued or
 * deferred (sent, cancelled, redriven into a newer round) does nothing; a message another worker
 * holds under a live lease is looked at again when that lease ends.
 */
export async function deliverMessage(
  job: Job<{ messageId: string }>,
  deps: DeliverDeps,
  logger: Logger,
  token?: string,
) {
  const messageId = job.data.messageId;
  const log = logger.child({ message_id: messageId });
  const { claim, busyUntil } = await deps.repo.claim(messageId, deps.leaseMs);
  if (claim) return sendClaimed(claim, job, deps, log);
  if (busyUntil) {
    // Another worker owns it (e.g. this job was taken over from a frozen worker before its
    // lease ran out): come back when the lease ends instead of finishing the job as done.
    log.info('message held by another worker; retrying when its lease ends', { until: busyUntil });
    if (token) {
      await job.moveToDelayed(busyUntil.getTime() + 100, token);
      throw new DelayedError();
    }
    throw new ProviderError('none', 'transient', 'message held by another worker');
  }
  log.debug('message not sendable any more; nothing to do');
  return { skipped: true };
}

/**
 * Sends a message this attempt has claimed. At-least-once, not exactly-once; the owner token and
 * lease narrow the duplicate window to the provider call itself:
 * - the claim is re-checked (and its lease renewed) right before each provider call, so a
 *   worker that froze past its lease never calls the provider for a message another took over;
 *   while the claim is fresh (less than a quarter of its lease since it was sent, so at least
 *   three quarters are left and no takeover is possible) the check is known to pass and skipped;
 * - `sent` is recorded only under the claim's token: a stale owner whose call succeeded anyway
 *   records a `stale_send` trail event and counts briefly_email_stale_sends_total instead;
 * - an unknown outcome (no answer after the request went out) is retried on the same provider
 *   only, until `unknownOutcomeWaitMs` has passed without a webhook event for the message; an
 *   event in the meantime makes it `sent` without sending again.
 */
export async function sendClaimed(claim: Claim, job: Job, deps: DeliverDeps, log: Logger) {
  const messageId = claim.id;
  const token = claim.claim_token;
  const clock = deps.clock ?? systemClock;
  const suppressed = new Set(claim.suppressed);
  const keep = (list: { email: string; name?: string }[]) =>
    list.filter((a) => !suppressed.has(a.email.toLowerCase()));
  const to = keep(claim.to);
  if (to.length === 0) {
    if (await deps.repo.markStatus(messageId, token, 'suppressed', null, { suppressed: claim.suppressed })) {
      deps.metrics.messages.inc({ status: 'suppressed', provider: 'none' });
      log.info('message suppressed: every recipient is on the suppression list');
    }
    return { suppressed: true };
  }

  let only: string | undefined;
  if (claim.unknown_outcome_provider) {
    const pending = claim.unknown_outcome_provider;
    if (await deps.repo.resolveUnknownFromEvents(messageId, token, pending)) {
      deps.metrics.messages.inc({ status: 'sent', provider: pending });
      log.info('unknown outcome resolved by a webhook event: the provider has the message', {
        provider: pending,
      });
      return { provider: pending, resolvedByWebhook: true };
    }
    const since = claim.unknown_outcome_at?.getTime() ?? 0;
    if (clock.now().getTime() - since < deps.unknownOutcomeWaitMs) only = pending;
  }

  // Attachments are read and serialised (several copies of each) only within the byte budget, so
  // a burst of large messages cannot exhaust the process's memory at any DELIVERY_CONCURRENCY.
  let release: (() => void) | undefined;
  if (claim.attachment_bytes > 0 && deps.attachmentBudget) {
    release = await waitForAttachmentBudget(deps.attachmentBudget, claim, deps);
    if (!release) {
      log.warn('claim on the message lost while waiting for attachment memory; not calling the provider');
      return { stale: true };
    }
  }
  let result: SendResult;
  try {
    const attachments = claim.attachment_count > 0 ? await deps.repo.attachmentsToSend(messageId) : [];
    result = await deps.provider.send(
      {
        messageId,
        from: claim.from_address,
        to,
        cc: keep(claim.cc),
        bcc: keep(claim.bcc),
        replyTo: claim.reply_to ?? undefined,
        subject: claim.subject,
        html: claim.html ?? undefined,
        text: claim.text ?? undefined,
        tags: claim.tags,
        messageIdHeader: claim.message_id_header ?? undefined,
        headers: Object.keys(claim.headers ?? {}).length ? claim.headers : undefined,
        attachments: attachments.length
          ? attachments.map((a) => ({
              filename: a.filename,
              contentType: a.content_type,
              content: a.content,
              disposition: a.disposition,
              contentId: a.content_id ?? undefined,
            }))
          : undefined,
      },
      {
        only,
        beforeAttempt: async (provider) => {
          // A claim taken moments ago still holds most of its lease: nobody can have taken the
          // message over, so the renewal (one statement per send) is skipped until it is needed.
          if (performance.now() < claim.fresh_until) return;
          if (!(await deps.repo.renewLease(messageId, token, deps.leaseMs)))
            throw new ClaimLostError(provider);
        },
      },
    );
  } catch (caught) {
    if (caught instanceof ClaimLostError) {
      log.warn('claim on the message expired or was taken over; not calling the provider', {
        provider: caught.provider,
      });
      return { stale: true };
    }
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
    const detail = { provider: error.provider, attempt: claim.attempts, ...error.details };
    const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
    if (error.unknownOutcome) deps.metrics.unknownOutcomes.inc({ provider: error.provider });
    if (error.kind === 'permanent' || lastAttempt) {
      if (
        !(await deps.repo.markStatus(messageId, token, 'failed', error.message, {
          ...detail,
          reason: error.message,
        }))
      ) {
        return { stale: true };
      }
      deps.metrics.messages.inc({ status: 'failed', provider: error.provider });
      log.warn('message failed', { provider: error.provider, kind: error.kind, error: error.message });
      await deps.alerts
        .permanentFailure({ reason: alertReason(error), messageId, to: to.map((a) => a.email).join(', ') })
        .catch((alertError: Error) => log.error('could not raise alert', { error: alertError.message }));
      throw new UnrecoverableError(error.message);
    }
    const recorded = error.unknownOutcome
      ? (await deps.repo.markUnknownOutcome(messageId, token, error.provider, error.message, detail)) !==
        undefined
      : await deps.repo.markStatus(messageId, token, 'deferred', error.message, {
          ...detail,
          reason: error.message,
        });
    if (!recorded) return { stale: true };
    deps.metrics.messages.inc({ status: 'deferred', provider: error.provider });
    if (error.unknownOutcome) {
      log.warn('provider outcome unknown; retrying the same provider later', {
        provider: error.provider,
        error: error.message,
      });
    }
    throw error;
  } finally {
    // The attachments' copies are garbage once the provider has answered (or not).
    release?.();
  }
  const recorded = await deps.repo.markSent(messageId, token, result.provider, result.providerMessageId, {
    attempt: claim.attempts,
    ...(suppressed.size ? { suppressed: claim.suppressed } : {}),
  });
  if (!recorded) {
    deps.metrics.staleSends.inc({ provider: result.provider });
    await deps.repo.recordStaleSend(messageId, result.provider, {
      provider_message_id: result.providerMessageId ?? null,
      attempt: claim.attempts,
    });
    log.warn('provider accepted the message after this worker lost its claim: not recorded as sent', {
      provider: result.provider,
    });
    return { stale: true, provider: result.provider };
  }
  deps.metrics.messages.inc({ status: 'sent', provider: result.provider });
  return { provider: result.provider, providerMessageId: result.providerMessageId };
}

/**
 * Waits until the claim's attachments fit the budget, keeping the claim's lease alive meanwhile
 * (renewed every quarter lease) so that no other worker takes the message over while it waits
 * here. Undefined if a renewal fails: the claim was lost and the message is not this attempt's.
 */
async function waitForAttachmentBudget(
  budget: ByteBudget,
  claim: Claim,
  deps: DeliverDeps,
): Promise<(() => void) | undefined> {
  const controller = new AbortController();
  let done = false;
  let timer: NodeJS.Timeout | undefined;
  const lost = new Promise<undefined>((resolve) => {
    const renew = async () => {
      const renewed = await deps.repo
        .renewLease(claim.id, claim.claim_token, deps.leaseMs)
        .catch(() => false);
      if (done) return;
      if (!renewed) {
        controller.abort(new Error('claim lost'));
        resolve(undefined);
        return;
      }
      timer = setTimeout(renew, deps.leaseMs / 4);
    };
    timer = setTimeout(renew, deps.leaseMs / 4);
  });
  try {
    return await Promise.race([budget.acquire(claim.attachment_bytes, controller.signal), lost]);
  } catch {
    return undefined;
  } finally {
    done = true;
    clearTimeout(timer);
  }
}
