import type { Redis } from 'ioredis';
import type pg from 'pg';
import { briefingBlocks } from '../../blocks/briefing.ts';
import { calendarBrokenAlert, calendarBrokenDm } from '../../blocks/calendar.ts';
import type { AlertService } from '../alerts/alert.service.ts';
import type { AuditRepository } from '../audit/audit.repository.ts';
import { createCalendars } from '../calendars/calendar.module.ts';
import type { CalendarRepository } from '../calendars/calendar.repository.ts';
import type { CalendarConnectService } from '../calendars/calendar-connect.service.ts';
import type { CalendarProviders, CalendarSyncService } from '../calendars/calendar-sync.service.ts';
import type { Config } from '../config/config.ts';
import type { DeliveryService } from '../delivery/delivery.service.ts';
import { CachedEnrichmentProvider } from '../enrichment/cached.enrichment-provider.ts';
import { type EnrichmentProvider, NoEnrichmentProvider } from '../enrichment/enrichment-provider.ts';
import { ParticipantRepository } from '../enrichment/participant.repository.ts';
import { ApolloEnrichmentProvider } from '../enrichment/providers/apollo.enrichment-provider.ts';
import { PdlEnrichmentProvider } from '../enrichment/providers/pdl.enrichment-provider.ts';
import type { Queues } from '../jobs/queues.ts';
import type { JobHandlers } from '../jobs/workers.ts';
import type { Logger } from '../logging/logger.ts';
import type { RepRepository } from '../reps/rep.repository.ts';
import type { Clock } from '../shared/time.ts';
import { briefingJobHandlers } from './briefing.handlers.ts';
import { BriefingRepository } from './briefing.repository.ts';
import { BriefingService, type BriefingServiceDeps } from './briefing.service.ts';

export interface Briefings {
  service: BriefingService;
  sync: CalendarSyncService;
  calendars: CalendarRepository;
  enrichment: CachedEnrichmentProvider;
  connect: CalendarConnectService;
  handlers: JobHandlers;
}

export function createEnrichmentProvider(config: Config): EnrichmentProvider {
  const e = config.enrichment;
  switch (e.provider) {
    case 'pdl':
      return new PdlEnrichmentProvider({
        apiKey: e.pdl.apiKey ?? '',
        baseUrl: e.pdl.baseUrl,
        timeoutMs: e.timeoutMs,
      });
    case 'apollo':
      return new ApolloEnrichmentProvider({
        apiKey: e.apollo.apiKey ?? '',
        baseUrl: e.apollo.baseUrl,
        timeoutMs: e.timeoutMs,
      });
    default:
      return new NoEnrichmentProvider();
  }
}

/** Composition of the briefing pipeline: calendars, enrichment, briefings and their jobs. */
export function createBriefings(deps: {
  config: Config;
  pool: pg.Pool;
  redis: Redis;
  queues: Queues;
  delivery: DeliveryService;
  alerts: AlertService;
  reps: RepRepository;
  audit: AuditRepository;
  clock: Clock;
  logger: Logger;
  calendarProviders?: CalendarProviders;
  enrichmentProvider?: EnrichmentProvider;
  slackConnected: boolean;
  /** Today's appointments for the briefing (the appointments feature). */
  appointments?: BriefingServiceDeps['appointments'];
}): Briefings {
  const { config, clock } = deps;
  const logger = deps.logger.child({ component: 'briefings' });
  const participants = new ParticipantRepository(deps.pool);
  const enrichment = new CachedEnrichmentProvider(
    deps.enrichmentProvider ?? createEnrichmentProvider(config),
    {
      repo: participants,
      redis: deps.redis,
      prefix: config.queuePrefix,
      clock,
      onQuotaExhausted: async (error) => {
        await deps.alerts.post('enrichment-quota', {
          text: `Enrichment quota exhausted: ${error.message}. Briefings go out without enrichment until it is back.`,
          blocks: [
            {
              type: 'section',
              text: {
                type: 'mrkdwn',
                text: `:warning: *Enrichment quota exhausted* (${config.enrichment.provider})\n${error.message}\nBriefings go out with what the calendars know until the quota is back.`,
              },
            },
          ],
        });
      },
    },
  );
  const {
    repo: calendars,
    sync,
    connect,
  } = createCalendars({
    config,
    pool: deps.pool,
    audit: deps.audit,
    clock,
    logger,
    providers: deps.calendarProviders,
    queues: deps.queues,
    onBroken: async (repId, provider, reason) => {
      const rep = await deps.reps.findById(repId);
      if (!rep) return;
      if (rep.slackUserId)
        await deps.alerts.post('calendar-broken-dm', calendarBrokenDm({ provider, reason }), rep.slackUserId);
      await deps.alerts.post(
        'calendar-broken',
        calendarBrokenAlert({ rep: { name: rep.name, email: rep.email }, provider, reason }),
      );
    },
  });
  const service = new BriefingService({
    repo: new BriefingRepository(deps.pool),
    calendars,
    sync,
    participants,
    enrichment,
    delivery: deps.delivery,
    queues: deps.queues,
    alerts: deps.alerts,
    clock,
    logger,
    loadRep: async (id) => deps.reps.findById(id),
    appointments: deps.appointments,
    options: {
      companyDomains: config.briefings.companyDomains,
      refreshMinutes: config.briefings.refreshMinutes,
      cutoff: config.briefings.cutoff,
      enrichWaitMs: 20_000,
      slackBlocks: deps.slackConnected ? briefingBlocks : undefined,
    },
  });
  return {
    service,
    sync,
    calendars,
    enrichment,
    connect,
    handlers: briefingJobHandlers({
      service,
      enrichment,
      participants,
      clock,
      syncCalendar: async (repId) => {
        const rep = await deps.reps.findById(repId);
        if (!rep) return { status: 'no_rep' };
        return sync.sync({ id: rep.id, email: rep.email, timeZone: rep.timeZone });
      },
    }),
  };
}
