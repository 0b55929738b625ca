import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type pg from 'pg';
import type { AuditRepository } from '../audit/audit.repository.ts';
import type { Config } from '../config/config.ts';
import type { Queues } from '../jobs/queues.ts';
import type { Logger } from '../logging/logger.ts';
import { loadOrCreateDevKey, SecretBox } from '../shared/crypto.ts';
import type { Clock } from '../shared/time.ts';
import { CalendarRepository } from './calendar.repository.ts';
import { CalendarConnectService } from './calendar-connect.service.ts';
import {
  type CalendarProviders,
  CalendarSyncService,
  createCalendarProviders,
} from './calendar-sync.service.ts';

/** Syncs one rep's calendar outside a briefing (the first sync after connecting through the API). */
export const CALENDAR_SYNC_JOB = 'calendar-sync';

export interface Calendars {
  repo: CalendarRepository;
  sync: CalendarSyncService;
  connect: CalendarConnectService;
}

/** ENCRYPTION_KEY, or in development a key kept beside the outbox (var/dev-encryption.key). */
export function encryptionKeyFor(config: Config, logger: Logger): Buffer {
  if (config.encryptionKey) return config.encryptionKey;
  const path = join(config.email.outboxDir, '..', 'dev-encryption.key');
  logger.warn('ENCRYPTION_KEY is not set: stored calendar credentials use a development key', { path });
  return loadOrCreateDevKey(path);
}

/**
 * Calendar connections, sync and connect, from their dependencies. The briefing pipeline builds
 * it with a queue and the broken-connection alert; the CLI builds it from a pool alone (first
 * syncs then run in the calling process).
 */
export function createCalendars(deps: {
  config: Config;
  pool: pg.Pool;
  audit: AuditRepository;
  clock: Clock;
  logger: Logger;
  providers?: CalendarProviders;
  queues?: Queues;
  /** Told once when a connection breaks (DM to the rep, post to the alert channel). */
  onBroken?: (repId: string, provider: string, reason: string) => Promise<void>;
}): Calendars {
  const { config, clock, logger } = deps;
  const key = encryptionKeyFor(config, logger);
  const box = new SecretBox(key);
  const repo = new CalendarRepository(deps.pool);
  const sync = new CalendarSyncService({
    repo,
    providers: deps.providers ?? createCalendarProviders(config),
    box,
    clock,
    logger,
    // The mirror never reaches back past what the retention purge deletes (it would only re-fetch it).
    historyDays: Math.min(config.calendars.historyDays, config.retention.calendar_events),
    horizonDays: config.calendars.horizonDays,
    onBroken: deps.onBroken,
  });
  const queues = deps.queues;
  const connect = new CalendarConnectService({
    config,
    calendars: repo,
    sync,
    box,
    audit: deps.audit,
    clock,
    // A key of its own for OAuth state, derived so that one secret (ENCRYPTION_KEY) is enough.
    stateKey: createHash('sha256').update(key).update('briefly-oauth-state').digest(),
    enqueueSync: queues
      ? async (repId) => {
          const connection = await repo.connection(repId);
          if (!connection) return;
          // One job per connect: a retried request does not sync twice, a reconnect syncs again.
          await queues.get('briefings').add(
            CALENDAR_SYNC_JOB,
            { repId },
            {
              jobId: `calendar-sync-${repId}-${connection.updated_at.getTime()}`,
              attempts: 5,
              backoff: { type: 'exponential', delay: 30_000 },
            },
          );
        }
      : undefined,
  });
  return { repo, sync, connect };
}
