import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createAdmin } from './admin/admin.module.ts';
import { alertJobHandlers } from './alerts/alert.handlers.ts';
import { AlertService } from './alerts/alert.service.ts';
import { ApiKeyService } from './api-keys/api-key.service.ts';
import { type Appointments, createAppointments } from './appointments/appointment.module.ts';
import { AuditRepository } from './audit/audit.repository.ts';
import { type Briefings, createBriefings } from './briefings/briefing.module.ts';
import type { CalendarProviders } from './calendars/calendar-sync.service.ts';
import { type Config, secretValues } from './config/config.ts';
import { createDatabase, createPool } from './db/client.ts';
import { prepareDatabase, waitForMigrations } from './db/migrate.ts';
import { createDelivery, type Delivery } from './delivery/delivery.module.ts';
import type { EmailProvider } from './delivery/email-provider.ts';
import { OutboxWatch } from './delivery/outbox-watch.ts';
import type { EnrichmentProvider } from './enrichment/enrichment-provider.ts';
import { createErrorReporter, type ErrorReporter } from './error-tracking/error-reporter.ts';
import { createMetrics } from './http/metrics.ts';
import { buildMetricsServer } from './http/metrics-server.ts';
import { registerOAuthRoutes } from './http/oauth.routes.ts';
import { briefingRoutes } from './http/routes/briefings.routes.ts';
import { messageRoutes } from './http/routes/messages.routes.ts';
import { repCalendarRoutes } from './http/routes/rep-calendar.routes.ts';
import { repRoutes } from './http/routes/reps.routes.ts';
import { buildHttpServer, stopHttpServer } from './http/server.ts';
import { registerSendgridWebhook } from './http/webhooks/sendgrid.webhook.ts';
import { jobHandlers } from './jobs/handlers.ts';
import { createRedis, Queues } from './jobs/queues.ts';
import { type Scheduler, startScheduler } from './jobs/scheduler.ts';
import { SCHEDULES } from './jobs/schedules.ts';
import { mergeHandlers, startWorkers, type WorkerPool } from './jobs/workers.ts';
import type { Logger } from './logging/logger.ts';
import { createMailouts, type Mailouts } from './mailouts/mailout.module.ts';
import type { SmsGateway } from './mailouts/providers/sms-gateway.ts';
import { RepRepository } from './reps/rep.repository.ts';
import { RepService } from './reps/rep.service.ts';
import { createRetentionMetric, RetentionPurger } from './retention/retention.purger.ts';
import { createSequences, type Sequences } from './sequences/sequence.module.ts';
import { registerSequenceWebhooks } from './sequences/sequence.webhooks.ts';
import { SettingsRepository } from './settings/settings.repository.ts';
import { packageRoot } from './shared/package-root.ts';
import { type Clock, systemClock } from './shared/time.ts';
import { createSlackApp } from './slack/app.ts';
import { ChannelCheck } from './slack/channel-check.ts';
import type { SlackDeps } from './slack/deps.ts';
import { buildHome, type HomeDeps } from './slack/events/app-home-opened.event.ts';
import { slackPostHandlers } from './slack/posts/slack-post.handlers.ts';
import { SlackPostService } from './slack/posts/slack-post.service.ts';
import { SlackPoster } from './slack/slack-poster.ts';
import { createStats, type Stats } from './stats/stats.module.ts';

export const ROLES = ['all', 'web', 'bot', 'worker', 'scheduler'] as const;
export type Role = (typeof ROLES)[number];

export const VERSION: string = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).version;

export const SLACK_SETUP_HINT =
  'Slack is not connected. Create a Slack app from manifest.json, then set SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET (or SLACK_APP_TOKEN for Socket Mode) and restart. See README.md, section "Connecting Slack".';

export interface Service {
  url?: string;
  /** Where Prometheus scrapes /metrics (web role only). */
  metricsUrl?: string;
  server?: FastifyInstance;
  queues: Queues;
  delivery: Delivery;
  alerts: AlertService;
  /** Post, edit and thread Slack messages by key (approval and progress cards, stats posts). */
  slackPosts: SlackPostService;
  briefings: Briefings;
  appointments: Appointments;
  sequences: Sequences;
  reps: RepService;
  mailouts: Mailouts;
  stats: Stats;
  /** Sentry when SENTRY_DSN is set, else a reporter that does nothing. */
  errors: ErrorReporter;
  stop(): Promise<void>;
}

/**
 * Composition root: config -> connections -> repositories/services -> the roles asked for.
 * Every role migrates first (under an advisory lock), so any process can be started first.
 */
export interface ServiceOptions {
  /** Replaces the providers built from config (benchmarks and tests of failover). */
  emailProviders?: EmailProvider[];
  /** Replace the calendar and enrichment adapters built from config (benchmarks). */
  calendarProviders?: CalendarProviders;
  enrichmentProvider?: EnrichmentProvider;
  /** The briefing pipeline's clock (tests move it across days and DST switches). */
  clock?: Clock;
  /** Replaces the send API adapter built from config (tests and benchmarks against a fake). */
  smsGateway?: SmsGateway;
  /**
   * The `start` command: report the process's uncaught exceptions and unhandled rejections too
   * (with SENTRY_DSN), and serve /metrics in every role, not only web (each pod is scraped).
   */
  processWide?: boolean;
  /** With MIGRATE_ON_START=false: how long to wait for `briefly migrate` (default 10 minutes). */
  migrationWaitMs?: number;
}

const MIGRATION_WAIT_MS = 10 * 60_000;

export async function startService(
  config: Config,
  logger: Logger,
  role: Role = 'all',
  options: ServiceOptions = {},
): Promise<Service> {
  const runs = (r: Role) => role === 'all' || role === r;
  const started = Date.now();
  const errors = await createErrorReporter({
    dsn: config.sentry.dsn,
    environment: config.sentry.environment,
    release: VERSION,
    logger,
    processHandlers: options.processWide ?? false,
    secrets: secretValues(config),
  });
  if (config.migrateOnStart) {
    const { created } = await prepareDatabase(config.databaseUrl);
    if (created) logger.info('database created', { database: new URL(config.databaseUrl).pathname.slice(1) });
  } else {
    let lastLog = 0;
    await waitForMigrations(config.databaseUrl, {
      timeoutMs: options.migrationWaitMs ?? MIGRATION_WAIT_MS,
      onWait: (pending) => {
        if (Date.now() - lastLog < 15_000) return;
        lastLog = Date.now();
        logger.info(
          pending < 0
            ? 'waiting for the database (MIGRATE_ON_START=false)'
            : 'waiting for `briefly migrate` (MIGRATE_ON_START=false)',
          { pending_migrations: pending },
        );
      },
    });
  }

  const pool = createPool(config.databaseUrl, config.databasePoolSize);
  const db = createDatabase(pool);
  const redis = createRedis(config.redisUrl, 'producer');
  redis.on('error', (error) => logger.warn('redis connection error', { error: error.message }));
  const queues = new Queues(redis, config.queuePrefix);

  const audit = new AuditRepository(db);
  const settings = new SettingsRepository(db);
  const repRepository = new RepRepository(db);
  const reps = new RepService(repRepository, audit, config.slack.adminUserIds);
  const apiKeys = new ApiKeyService(db, audit);
  const metrics = createMetrics(queues);
  const slackPosts = new SlackPostService({ db, queues, clock: systemClock });
  const slackToken = config.slack.botToken;
  const alerts = new AlertService({
    posts: slackPosts,
    redis,
    queues,
    prefix: config.queuePrefix,
    groupWindowMs: config.delivery.alertGroupWindowMs,
    minFlushDelayMs: config.delivery.alertFlushDelayMs,
    clock: systemClock,
    logger,
  });
  const delivery = createDelivery({
    config,
    pool,
    redis,
    queues,
    audit,
    alerts,
    registry: metrics.registry,
    logger,
    providers: options.emailProviders,
  });

  const slackConfigured = Boolean(
    config.slack.botToken && (config.slack.signingSecret || config.slack.appToken),
  );
  const appointments = createAppointments({
    config,
    pool,
    queues,
    delivery: delivery.service,
    reps: repRepository,
    slackPosts: slackConfigured ? slackPosts : undefined,
    clock: options.clock ?? systemClock,
    logger,
  });

  const briefings = createBriefings({
    config,
    pool,
    redis,
    queues,
    delivery: delivery.service,
    alerts,
    reps: repRepository,
    audit,
    clock: options.clock ?? systemClock,
    logger,
    calendarProviders: options.calendarProviders,
    enrichmentProvider: options.enrichmentProvider,
    slackConnected: slackConfigured,
    appointments: (repId, window) => appointments.service.forBriefing(repId, window),
  });

  const sequences = createSequences({
    config,
    pool,
    redis,
    queues,
    delivery: delivery.service,
    alerts,
    slackPosts,
    clock: options.clock ?? systemClock,
    logger,
  });

  // Runs before the settings modal's ack (3 s): one quick try, no retries.
  const channelCheck = slackToken
    ? new ChannelCheck(
        new SlackPoster({
          apiUrl: config.slack.apiUrl,
          token: slackToken,
          logger,
          timeoutMs: 1_200,
          retryConfig: { retries: 0 },
        }),
      )
    : undefined;

  const stats = createStats({
    config,
    pool,
    queues,
    delivery: delivery.service,
    slackPosts,
    settings,
    channelCheck: channelCheck ? (channel) => channelCheck.check(channel) : undefined,
    clock: options.clock ?? systemClock,
    logger,
  });

  const mailouts = createMailouts({
    config,
    pool,
    redis,
    queues,
    audit,
    alerts,
    registry: metrics.registry,
    clock: options.clock ?? systemClock,
    logger,
    gateway: options.smsGateway,
    slackPosts: slackConfigured ? slackPosts : undefined,
    settings,
    refreshHome: async (user) => {
      if (homePoster) await homePoster.publishHome(user, await buildHome(homeDeps, user));
    },
  });
  // Home tabs are re-published from any process when a mailout changes state.
  const homeDeps: HomeDeps = {
    reps,
    settings,
    calendarConnect: briefings.connect,
    slackPosts,
    homeSections: [(user) => mailouts.homeSections(user)],
  };
  const homePoster =
    slackConfigured && slackToken
      ? new SlackPoster({ apiUrl: config.slack.apiUrl, token: slackToken, logger })
      : undefined;

  const slackDeps: SlackDeps = {
    reps,
    settings,
    audit,
    logger,
    delivery: {
      overview: () => delivery.overview(),
      message: (id) => delivery.service.get(id),
      sendTest: (test) => delivery.service.sendTest(test),
    },
    briefings: briefings.service,
    sequences: {
      overview: () => sequences.service.overview(),
      get: (id) => sequences.repo.getSequence(id),
      setStatus: async (id, status, actor) => {
        await sequences.repo.updateSequence(id, { status }, actor);
      },
      enrollEmails: (id, emails, actor) => sequences.enrollEmails(id, emails, actor),
      mailboxes: async () =>
        (await sequences.repo.listMailboxes()).map((m) => ({ id: m.id, email: m.email })),
      save: (input, id, actor) => sequences.saveFromForm(input, id, actor),
    },
    calendarConnect: briefings.connect,
    slackPosts,
    appointments: appointments.service,
    channelCheck: async (channel) =>
      channelCheck ? channelCheck.check(channel) : { ok: true, joined: false },
    homeSections: homeDeps.homeSections,
    stats: stats.service,
  };
  if (slackConfigured) slackDeps.subcommands = { mailouts: mailouts.slackCommand(slackDeps) };
  const slack =
    runs('web') || runs('bot')
      ? createSlackApp(config, slackDeps, logger, slackConfigured ? [mailouts.slackListeners] : [])
      : undefined;
  if (role === 'bot' && slack?.mode.kind !== 'socket') {
    throw new Error(
      'The bot role runs Slack in Socket Mode and needs SLACK_APP_TOKEN; in HTTP mode Slack is served by the web role.',
    );
  }

  let server: FastifyInstance | undefined;
  let metricsServer: FastifyInstance | undefined;
  let url: string | undefined;
  let metricsUrl: string | undefined;
  if (runs('web')) {
    server = await buildHttpServer({
      logger,
      pool,
      redis,
      metrics,
      apiKeys,
      routes: [
        ...repRoutes(reps),
        ...repCalendarRoutes({ reps, connect: briefings.connect }),
        ...messageRoutes(delivery.service, {
          bodyLimit: config.http.bodyLimit,
          attachmentsMaxBytes: config.email.attachmentsMaxBytes,
        }),
        ...briefingRoutes(briefings.service),
        ...mailouts.routes,
        ...appointments.routes,
        ...sequences.routes,
        ...stats.routes,
      ],
      rateLimits: config.rateLimits,
      redisPrefix: config.queuePrefix,
      trustProxy: config.http.trustProxy,
      webhooks: async (scope) => {
        registerSendgridWebhook(scope, {
          delivery: delivery.service,
          publicKey: config.email.sendgrid.webhookPublicKey,
          clock: systemClock,
          logger,
          onEvents: (events) => sequences.onDeliveryEvents(events),
        });
        registerSequenceWebhooks(scope, {
          sequences,
          inboundSecret: config.sequences.inboundParseSecret,
          unsubscribeSecret: config.sequences.unsubscribeSecret,
          logger,
        });
        registerOAuthRoutes(scope, {
          connect: briefings.connect,
          loadRep: (id) => repRepository.findById(id),
          logger,
        });
      },
      bodyLimit: config.http.bodyLimit,
      publicUrl: config.http.publicUrl,
      version: VERSION,
      slackReceiver: slack?.mode.kind === 'http' ? slack.mode.receiver : undefined,
      slackSetupHint: SLACK_SETUP_HINT,
      admin: (scope) =>
        createAdmin({
          config,
          pool,
          mailouts: mailouts.service,
          customers: mailouts.customers,
          reps: repRepository,
          audit,
          clock: systemClock,
          logger,
        }).register(scope),
      errors,
    });
    const address = await server.listen({ port: config.http.port, host: config.http.host });
    url = address.replace('0.0.0.0', 'localhost').replace('[::]', 'localhost');
  }
  if (runs('web') || options.processWide) {
    // Prometheus scrapes every process on METRICS_PORT; a worker or scheduler on its own (a
    // Kubernetes pod) is also probed there (/healthz, /readyz). The web role answers probes on its
    // API port. A second process on one host without its own METRICS_PORT runs without /metrics.
    const candidate = buildMetricsServer(
      metrics,
      runs('web')
        ? undefined
        : {
            postgres: () => pool.query('SELECT 1').then(() => true),
            redis: () => redis.ping().then(() => true),
          },
    );
    try {
      metricsUrl = `${await candidate.listen({ port: config.metrics.port, host: config.metrics.host })}/metrics`;
      metricsServer = candidate;
    } catch (error) {
      await candidate.close();
      if ((error as { code?: string }).code !== 'EADDRINUSE') throw error;
      logger.warn('/metrics is not served by this process: its port is taken (set METRICS_PORT)', {
        port: config.metrics.port,
        error: (error as Error).message,
      });
    }
  }

  let workers: WorkerPool | undefined;
  let workerRedis: ReturnType<typeof createRedis> | undefined;
  if (runs('worker')) {
    workerRedis = createRedis(config.redisUrl, 'worker');
    workerRedis.on('error', (error) => logger.warn('redis connection error', { error: error.message }));
    workers = startWorkers({
      connection: workerRedis,
      prefix: config.queuePrefix,
      handlers: mergeHandlers(
        jobHandlers({
          retention: new RetentionPurger(
            pool,
            config.retention,
            systemClock,
            createRetentionMetric(metrics.registry),
          ),
        }),
        delivery.handlers,
        briefings.handlers,
        mailouts.handlers,
        appointments.handlers,
        sequences.handlers,
        stats.handlers,
        alertJobHandlers({ alerts }),
        slackPostHandlers({
          db,
          queues,
          posts: slackPosts,
          settings,
          poster: slackToken
            ? new SlackPoster({ apiUrl: config.slack.apiUrl, token: slackToken, logger })
            : undefined,
          admins: () => reps.adminSlackUserIds(),
        }),
      ),
      logger,
      errors,
      concurrency: {
        'email-delivery': config.delivery.concurrency,
        briefings: config.briefings.concurrency,
        enrichment: 8,
        mailouts: mailouts.concurrency,
      },
      lockMs: { 'email-delivery': config.delivery.lockMs },
      // Slack: about one post per second per channel plus a workspace-wide limit; briefing DMs go
      // to many channels at once, so five a second, and a 429's Retry-After pauses the whole queue.
      // Enrichment vendors bill and throttle per minute (PDL: 100/min free, 1,000 paying).
      limiter: {
        slack: { max: 5, duration: 1_000 },
        enrichment: { max: config.enrichment.ratePerMinute, duration: 60_000 },
      },
    });
  }

  // Web accepts while Redis is away and workers lose jobs when it restarts empty: both sweep the
  // outbox as soon as it is back rather than at the next scheduled sweep.
  const outboxWatch =
    runs('web') || runs('worker')
      ? new OutboxWatch({
          redis,
          prefix: config.queuePrefix,
          sweep: () => delivery.sweep({ includeFuture: true }),
          logger: logger.child({ component: 'outbox-watch' }),
        })
      : undefined;
  outboxWatch?.start();

  let scheduler: Scheduler | undefined;
  if (runs('scheduler')) {
    scheduler = await startScheduler({
      pool,
      queues,
      logger,
      processEvery: config.schedulerProcessEveryMs,
      schedules: [...SCHEDULES, ...mailouts.schedules],
      errors,
    });
    // The sequence planner also runs once at start (then every few minutes from the schedule).
    await queues
      .get('sequences')
      .add('sequence-plan', {}, { jobId: `sequence-plan@start-${Date.now()}` })
      .catch((error) => logger.warn('could not enqueue the first sequence plan', { error: error.message }));
  }

  if (slack?.mode.kind === 'socket' && runs('bot')) await slack.app.start();

  if (!slack && (runs('web') || runs('bot'))) logger.warn(SLACK_SETUP_HINT);
  logger.info(`Briefly ready${url ? ` at ${url}` : ''}`, {
    role,
    slack: slack ? slack.mode.kind : 'not connected',
    startup_ms: Date.now() - started,
    ...(url ? { docs: `${url}/docs`, metrics: metricsUrl } : {}),
  });

  let stopping: Promise<void> | undefined;
  return {
    url,
    metricsUrl,
    server,
    queues,
    delivery,
    alerts,
    slackPosts,
    briefings,
    appointments,
    sequences,
    reps,
    mailouts,
    stats,
    errors,
    stop() {
      stopping ??= (async () => {
        const deadline = Date.now() + config.shutdownTimeoutMs;
        await metricsServer?.close();
        // Connections get a share of the budget to finish their requests; the rest is for jobs.
        if (server) await stopHttpServer(server, Math.min(5_000, config.shutdownTimeoutMs / 3));
        await outboxWatch?.stop();
        await scheduler?.stop();
        await workers?.close(Math.max(100, deadline - Date.now() - 1_000));
        if (slack?.mode.kind === 'socket') await slack.app.stop().catch(() => undefined);
        await delivery.close();
        // With Redis away these would wait for it forever: give them a moment, then drop the sockets.
        await settleWithin(queues.close(), 1_000);
        await Promise.all([closeRedis(redis), workerRedis ? closeRedis(workerRedis) : undefined]);
        await mailouts.close();
        await queues.close();
        await Promise.all([redis.quit().catch(() => undefined), workerRedis?.quit().catch(() => undefined)]);
        await pool.end();
        await errors.flush(2_000).catch(() => undefined);
      })();
      return stopping;
    },
  };
}

/** Waits for `promise` at most `ms`; whatever it does afterwards (or throws) no longer matters. */
async function settleWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise.catch(() => undefined),
    new Promise((resolve) => {
      timer = setTimeout(resolve, ms);
    }),
  ]);
  clearTimeout(timer);
}

async function closeRedis(connection: ReturnType<typeof createRedis>): Promise<void> {
  if (connection.status === 'ready') await settleWithin(connection.quit(), 1_000);
  connection.disconnect();
}
