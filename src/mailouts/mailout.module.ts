import type { AllMiddlewareArgs, App, SlackCommandMiddlewareArgs } from '@slack/bolt';
import type { KnownBlock } from '@slack/types';
import type { Redis } from 'ioredis';
import type pg from 'pg';
import type client from 'prom-client';
import type { AlertService } from '../alerts/alert.service.ts';
import type { AuditRepository } from '../audit/audit.repository.ts';
import type { Config } from '../config/config.ts';
import { CustomerRepository } from '../customers/customer.repository.ts';
import { customerRoutes } from '../customers/customer.routes.ts';
import { CustomerService } from '../customers/customer.service.ts';
import { CircuitBreaker } from '../delivery/circuit-breaker.ts';
import type { ApiRoute } from '../http/api-route.ts';
import type { Queues } from '../jobs/queues.ts';
import type { Schedule } from '../jobs/schedules.ts';
import type { JobHandlers } from '../jobs/workers.ts';
import type { Logger } from '../logging/logger.ts';
import type { SettingsRepository } from '../settings/settings.repository.ts';
import type { Clock } from '../shared/time.ts';
import type { SlackDeps } from '../slack/deps.ts';
import type { SlackPostService } from '../slack/posts/slack-post.service.ts';
import { mailoutJobHandlers } from './mailout.handlers.ts';
import { createMailoutMetrics } from './mailout.metrics.ts';
import { MailoutRepository } from './mailout.repository.ts';
import { mailoutRoutes } from './mailout.routes.ts';
import { MailoutService } from './mailout.service.ts';
import { MailoutEngine, SEND_API_CIRCUIT, type StatusEvent } from './mailout-engine.ts';
import { FabriqueSmsGateway } from './providers/fabrique.sms-gateway.ts';
import type { SmsGateway } from './providers/sms-gateway.ts';
import { registerMailoutSlack } from './slack/index.ts';
import { mailoutsCommand } from './slack/mailout.command.ts';
import { MailoutCards } from './slack/mailout-cards.ts';

export interface Mailouts {
  service: MailoutService;
  customers: CustomerService;
  engine: MailoutEngine;
  repo: MailoutRepository;
  handlers: JobHandlers;
  routes: ApiRoute[];
  schedules: Schedule[];
  /** Worker concurrency of the `mailouts` queue in this process. */
  concurrency: number;
  /** Approval and progress cards (undefined when Slack is not connected). */
  cards?: MailoutCards;
  /** Registers /mailouts, the modals and the card buttons on the Bolt app. */
  slackListeners(app: App, slack: SlackDeps): void;
  /** `/briefly mailouts …`: the same table as /mailouts. */
  slackCommand(
    slack: SlackDeps,
  ): (args: SlackCommandMiddlewareArgs & AllMiddlewareArgs, text: string) => Promise<void>;
  /** App Home sections of one user ("Waiting for your approval", "Your mailouts"). */
  homeSections(slackUserId: string): Promise<{ top: KnownBlock[]; bottom: KnownBlock[] }>;
  close(): Promise<void>;
}

const SCHEDULES: Schedule[] = [
  {
    // Starts due mailouts, re-creates send jobs Redis may have lost, ends overdue ones.
    name: 'mailout-tick',
    every: '1 minute',
    timezone: 'UTC',
    queue: 'mailouts',
    job: 'tick',
    bucketMs: 60_000,
  },
  {
    // Warns in the alert channel SEND_API_TOKEN_WARN_DAYS (7) days before the send API JWT expires.
    name: 'send-api-token-check',
    every: '0 9 * * *',
    timezone: 'UTC',
    queue: 'mailouts',
    job: 'send-api-token-check',
    bucketMs: 3_600_000,
  },
];

/** Builds customers and mailouts from their dependencies: services, engine, jobs, routes, schedules. */
export function createMailouts(deps: {
  config: Config;
  pool: pg.Pool;
  redis: Redis;
  queues: Queues;
  audit: AuditRepository;
  alerts: AlertService;
  registry: client.Registry;
  clock: Clock;
  logger: Logger;
  /** Replaces the send API adapter built from config (tests, benchmarks). */
  gateway?: SmsGateway;
  onStatusChange?: (event: StatusEvent) => Promise<void>;
  /** With these (Slack connected), mailouts get approval and progress cards in Slack. */
  slackPosts?: SlackPostService;
  settings?: SettingsRepository;
  /** Re-publishes a user's App Home after a mailout changed state. */
  refreshHome?: (slackUserId: string) => Promise<void>;
}): Mailouts {
  const { config } = deps;
  const settings = config.mailouts;
  const logger = deps.logger.child({ component: 'mailouts' });
  const repo = new MailoutRepository(deps.pool);
  let cards: MailoutCards | undefined;
  // The delivery layer's Redis breaker, own circuit: the ratio rule and window are shared settings.
  const breaker = new CircuitBreaker(deps.redis, {
    prefix: config.queuePrefix,
    ...config.circuit,
    consecutiveFailures: settings.sendApi.circuitFailures,
  });
  const gateway =
    deps.gateway ??
    (settings.sendApi.token
      ? new FabriqueSmsGateway({ baseUrl: settings.sendApi.url, token: settings.sendApi.token })
      : undefined);
  const metrics = createMailoutMetrics(deps.registry, {
    circuitOpen: async () => (await breaker.state(SEND_API_CIRCUIT)).state === 'open',
    backlog: () => repo.pendingBacklog(),
  });
  const engine = new MailoutEngine({
    pool: deps.pool,
    repo,
    queues: deps.queues,
    redis: deps.redis,
    prefix: config.queuePrefix,
    gateway,
    breaker,
    alerts: deps.alerts,
    audit: deps.audit,
    metrics,
    config: settings,
    clock: deps.clock,
    logger,
    onStatusChange: async (event) => {
      await deps.onStatusChange?.(event);
      await cards?.onStatusChange(event);
    },
    onProgress: (mailoutId) => cards?.onProgress(mailoutId),
    onCircuitChange: async (to, reason) => cards?.onCircuitChange(to, reason),
  });
  const service = new MailoutService(repo, engine, deps.clock, logger);
  const { slackPosts, settings: settingsRepo } = deps;
  cards =
    slackPosts && settingsRepo
      ? new MailoutCards({
          service,
          repo,
          posts: slackPosts,
          settings: settingsRepo,
          queues: deps.queues,
          redis: deps.redis,
          prefix: config.queuePrefix,
          clock: deps.clock,
          logger: deps.logger.child({ component: 'mailout-cards' }),
          refreshHome: deps.refreshHome,
        })
      : undefined;
  const slackDeps = () => {
    if (!cards) throw new Error('Mailout Slack listeners need slackPosts and settings');
    return { service, repo, cards, clock: deps.clock, logger };
  };
  const customers = new CustomerService(
    new CustomerRepository(deps.pool),
    deps.pool,
    deps.audit,
    deps.logger.child({ component: 'customers' }),
  );
  return {
    service,
    customers,
    engine,
    repo,
    handlers: {
      ...mailoutJobHandlers({
        engine,
        alerts: deps.alerts,
        clock: deps.clock,
        token: settings.sendApi.token,
        tokenWarnDays: settings.sendApi.tokenWarnDays,
      }),
      ...(cards ? cards.handlers() : {}),
    },
    cards,
    slackListeners: (app, slack) => registerMailoutSlack(app, slack, slackDeps()),
    slackCommand: (slack) => mailoutsCommand(slack, slackDeps()),
    homeSections: async (user) => (cards ? cards.home(user) : { top: [], bottom: [] }),
    routes: [...customerRoutes(customers), ...mailoutRoutes(service)],
    schedules: SCHEDULES,
    concurrency: settings.workerConcurrency,
    close: async () => {
      await breaker.flush().catch(() => undefined);
      await gateway?.close();
    },
  };
}
