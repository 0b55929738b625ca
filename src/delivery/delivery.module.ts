import type { Redis } from 'ioredis';
import type pg from 'pg';
import type client from 'prom-client';
import type { DeliveriesOverview } from '../../blocks/deliveries.ts';
import type { AlertService } from '../alerts/alert.service.ts';
import type { AuditRepository } from '../audit/audit.repository.ts';
import type { Config } from '../config/config.ts';
import type { Queues } from '../jobs/queues.ts';
import type { JobHandlers } from '../jobs/workers.ts';
import type { Logger } from '../logging/logger.ts';
import { ByteBudget } from '../shared/byte-budget.ts';
import { CircuitBreaker } from './circuit-breaker.ts';
import { deliveryJobHandlers, promoteDeferred, sweepOutbox } from './delivery.handlers.ts';
import { createDeliveryMetrics, type DeliveryMetrics } from './delivery.metrics.ts';
import { DeliveryService } from './delivery.service.ts';
import type { EmailProvider } from './email-provider.ts';
import { FailoverEmailProvider, type SwapEvent } from './failover.email-provider.ts';
import { MessageRepository } from './message.repository.ts';
import { FileOutboxEmailProvider } from './providers/file-outbox.email-provider.ts';
import { SendGridEmailProvider } from './providers/sendgrid.email-provider.ts';
import { SmtpEmailProvider } from './providers/smtp.email-provider.ts';

export interface Delivery {
  service: DeliveryService;
  repo: MessageRepository;
  provider: FailoverEmailProvider;
  metrics: DeliveryMetrics;
  handlers: JobHandlers;
  /** What `/briefly deliveries` shows. */
  overview(): Promise<DeliveriesOverview>;
  /** Manual swap from Slack or the CLI: opens or closes a provider's circuit and records who did it. */
  setCircuit(provider: string, to: 'open' | 'closed', reason: string, actor: string): Promise<boolean>;
  /** The outbox sweep, run at once (OutboxWatch runs it when Redis comes back). */
  sweep(options?: { includeFuture?: boolean }): Promise<{ due: number; missing: number }>;
  close(): Promise<void>;
}

/** The providers named by config, in order (SendGrid, SMTP, or the development file outbox). */
export function createEmailProviders(config: Config): EmailProvider[] {
  return config.email.providers.map((name): EmailProvider => {
    switch (name) {
      case 'sendgrid':
        return new SendGridEmailProvider({
          apiKey: config.email.sendgrid.apiKey ?? '',
          baseUrl: config.email.sendgrid.baseUrl,
          timeoutMs: config.email.timeoutMs,
          probeAddress: config.email.from,
        });
      case 'smtp':
        return new SmtpEmailProvider({ url: config.email.smtpUrl ?? '', timeoutMs: config.email.timeoutMs });
      default:
        return new FileOutboxEmailProvider({ dir: config.email.outboxDir });
    }
  });
}

/** Composition of the delivery layer: storage, providers behind the shared breaker, jobs, metrics. */
export function createDelivery(deps: {
  config: Config;
  pool: pg.Pool;
  redis: Redis;
  queues: Queues;
  audit: AuditRepository;
  alerts: AlertService;
  registry: client.Registry;
  logger: Logger;
  providers?: EmailProvider[];
}): Delivery {
  const { config, logger } = deps;
  const log = logger.child({ component: 'delivery' });
  const repo = new MessageRepository(deps.pool, deps.config.retention.idempotency_keys * 86_400_000);
  const breaker = new CircuitBreaker(deps.redis, { prefix: config.queuePrefix, ...config.circuit });
  const service = new DeliveryService(
    repo,
    deps.queues,
    {
      defaultFrom: config.email.from,
      maxAttempts: config.delivery.maxAttempts,
      backoffMs: config.delivery.backoffMs,
      messageIdDomain: config.email.messageIdDomain,
      attachmentsMaxBytes: config.email.attachmentsMaxBytes,
    },
    log,
  );
  const providers = deps.providers ?? createEmailProviders(config);
  let metrics: DeliveryMetrics | undefined;

  const onSwap = async (event: SwapEvent) => {
    await repo.recordSwap({
      provider: event.provider,
      state: event.to,
      reason: event.reason,
      actor: event.actor,
      at: event.at,
    });
    const states = await provider.states();
    const next = states.find((s) => s.state === 'closed')?.provider;
    log.warn(event.to === 'open' ? 'email provider swapped out' : 'email provider restored', {
      provider: event.provider,
      reason: event.reason,
      actor: event.actor,
      now_sending_via: next ?? 'none (all circuits open)',
    });
    await deps.alerts.providerSwap({ ...event, next });
    if (event.to === 'open') await promoteDeferred({ repo, queues: deps.queues }, log);
  };

  const provider: FailoverEmailProvider = new FailoverEmailProvider(providers, breaker, {
    onSwap: async (event) => {
      await onSwap(event).catch((error: Error) => {
        log.error('could not record provider swap', { error: error.message });
      });
    },
    onAttempt: (attempt) =>
      metrics?.providerDuration.observe(
        {
          provider: attempt.provider,
          outcome: attempt.ok ? 'sent' : attempt.unknownOutcome ? 'unknown' : (attempt.kind ?? 'transient'),
        },
        attempt.durationMs / 1000,
      ),
    onHalfOpen: (name) => {
      log.warn('email provider passed its probe: half-open, a few trial messages decide', {
        provider: name,
        trials: config.circuit.halfOpenTrials,
      });
    },
  });
  metrics = createDeliveryMetrics(deps.registry, () => provider.states());

  // A `sending` row whose job Redis no longer has is abandoned once no worker can still be
  // sending it: a live worker's attempt ends within one provider timeout per provider (failover
  // tries them in turn); a dead worker's job would be taken over within DELIVERY_LOCK_MS.
  const stuckAfterMs = Math.max(config.delivery.lockMs, config.email.timeoutMs * providers.length + 5_000);
  const handlers = deliveryJobHandlers({
    repo,
    provider,
    service,
    queues: deps.queues,
    redis: deps.redis,
    metrics,
    alerts: deps.alerts,
    backlogAlert: config.delivery.backlogAlert,
    leaseMs: config.delivery.lockMs,
    unknownOutcomeWaitMs: config.delivery.unknownOutcomeWaitMs,
    attachmentBudget: new ByteBudget(config.delivery.attachmentsInFlightBytes),
    stuckAfterMs,
  });

  return {
    service,
    repo,
    provider,
    metrics,
    handlers,
    async overview() {
      const [providers, queue, last24h, swaps] = await Promise.all([
        provider.states(),
        deps.queues
          .get('email-delivery')
          .getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed'),
        repo.countsSince(new Date(Date.now() - 86_400_000)),
        repo.recentSwaps(5),
      ]);
      return { providers, queue, last24h, swaps };
    },
    async setCircuit(name, to, reason, actor) {
      if (!provider.providerNames.includes(name)) throw new Error(`unknown provider ${name}`);
      const changed = to === 'open' ? await breaker.open(name, reason) : await breaker.close(name, reason);
      if (changed) await onSwap({ provider: name, to, reason, actor, at: new Date() });
      return changed;
    },
    sweep: (options) =>
      sweepOutbox({ repo, service, queues: deps.queues, redis: deps.redis, stuckAfterMs }, log, options),
    close: () => provider.close(),
  };
}
