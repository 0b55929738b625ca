import type { Config } from '../config/config.ts';
import { AppError, isAppError } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import type { SecretBox } from '../shared/crypto.ts';
import type { Clock } from '../shared/time.ts';
import type { CalendarRepository, ConnectionRow } from './calendar.repository.ts';
import {
  type CalendarConnectionRef,
  type CalendarProvider,
  CredentialError,
  FullSyncRequiredError,
  type SyncWindow,
} from './calendar-provider.ts';
import { GoogleCalendarProvider } from './providers/google.calendar-provider.ts';
import { IcsCalendarProvider } from './providers/ics.calendar-provider.ts';
import { MicrosoftCalendarProvider } from './providers/microsoft.calendar-provider.ts';

export type CalendarProviders = Record<ConnectionRow['provider'], CalendarProvider>;

export function createCalendarProviders(config: Config): CalendarProviders {
  const c = config.calendars;
  return {
    google: new GoogleCalendarProvider({
      baseUrl: c.google.baseUrl,
      tokenUrl: c.google.tokenUrl,
      authBaseUrl: c.google.authBaseUrl,
      serviceAccount: c.google.serviceAccount,
      oauthClient:
        c.google.clientId && c.google.clientSecret
          ? { clientId: c.google.clientId, clientSecret: c.google.clientSecret }
          : undefined,
      timeoutMs: c.timeoutMs,
    }),
    microsoft: new MicrosoftCalendarProvider({
      baseUrl: c.microsoft.baseUrl,
      loginBaseUrl: c.microsoft.loginBaseUrl,
      tenantId: c.microsoft.tenantId,
      clientId: c.microsoft.clientId,
      clientSecret: c.microsoft.clientSecret,
      timeoutMs: c.timeoutMs,
    }),
    ics: new IcsCalendarProvider({
      timeoutMs: c.timeoutMs,
      maxBytes: c.icsMaxBytes,
      allowFileUrls: c.allowFileUrls,
    }),
  };
}

/** Whose calendar: the zone reads ICS floating times, the email names the mailbox to read. */
export interface SyncRep {
  id: string;
  email: string;
  timeZone: string;
}

export type SyncOutcome =
  | { status: 'synced'; full: boolean; upserted: number; removed: number; unchanged: boolean }
  | { status: 'not_connected' }
  | { status: 'broken'; reason: string; newlyBroken: boolean };

export interface CalendarSyncDeps {
  repo: CalendarRepository;
  providers: CalendarProviders;
  box: SecretBox;
  clock: Clock;
  logger: Logger;
  historyDays: number;
  horizonDays: number;
  /** Told once when a connection breaks (DM to the rep, post to the alert channel). */
  onBroken?: (repId: string, provider: string, reason: string) => Promise<void>;
}

/**
 * Brings one rep's mirror up to date: the provider returns what changed since the stored cursor,
 * the repository applies it with the new cursor in one transaction. A cursor the vendor no longer
 * honours (410) clears the mirror and syncs in full; a dead credential marks the connection broken.
 */
export class CalendarSyncService {
  constructor(private readonly deps: CalendarSyncDeps) {}

  /**
   * Whole UTC days, so the window stays the same all day: an ICS 304 only means "unchanged" for
   * the window the stored validators were fetched for, and a Google full sync keeps its timeMin.
   */
  window(now: Date): SyncWindow {
    const day = Math.floor(now.getTime() / 86_400_000) * 86_400_000;
    return {
      start: new Date(day - this.deps.historyDays * 86_400_000),
      end: new Date(day + (this.deps.horizonDays + 1) * 86_400_000),
    };
  }

  async sync(rep: SyncRep): Promise<SyncOutcome> {
    const connection = await this.deps.repo.connection(rep.id);
    if (!connection) return { status: 'not_connected' };
    if (connection.status === 'broken') {
      return { status: 'broken', reason: connection.broken_reason ?? 'broken', newlyBroken: false };
    }
    const now = this.deps.clock.now();
    const window = this.window(now);
    let state = connection.sync_state;
    // A cursor opened for a bounded window (Graph delta links, ICS expansion) must be reopened before
    // its end comes within two days, or tomorrow's meetings would fall outside it.
    if (state.windowEnd && new Date(state.windowEnd).getTime() < now.getTime() + 2 * 86_400_000) state = {};
    const provider = this.deps.providers[connection.provider];
    const log = this.deps.logger.child({ rep_id: rep.id, provider: connection.provider });
    let stored = connection.credentials;
    const ref: CalendarConnectionRef = {
      repEmail: rep.email,
      calendarId: connection.calendar_id,
      authKind: connection.auth_kind,
      credentials: connection.credentials ? this.deps.box.open(connection.credentials) : {},
      timeZone: rep.timeZone,
      saveCredentials: async (credentials) => {
        // Only onto the credentials this sync started from (or last saved): a reconnect in the
        // meantime must win over a token refreshed for the old connection.
        const next = this.deps.box.seal(credentials);
        const saved = await this.deps.repo.replaceCredentials(connection.id, stored, next);
        if (saved) stored = next;
        log.info(
          saved
            ? 'calendar credentials renewed'
            : 'renewed calendar credentials not stored: reconnected meanwhile',
        );
      },
    };
    try {
      let result: Awaited<ReturnType<CalendarProvider['sync']>>;
      try {
        result = await provider.sync(ref, state, window);
      } catch (error) {
        if (!(error instanceof FullSyncRequiredError)) throw error;
        log.info('calendar cursor expired: clearing the mirror and syncing in full', {
          reason: error.message,
        });
        await this.deps.repo.clearMirror(rep.id);
        result = await provider.sync(ref, {}, window);
      }
      for (const warning of result.warnings ?? []) log.warn('calendar feed warning', { warning });
      if (result.unchanged) {
        await this.deps.repo.touch(rep.id);
        return { status: 'synced', full: false, upserted: 0, removed: 0, unchanged: true };
      }
      const applied = await this.deps.repo.apply(rep.id, result, window.start);
      log.debug('calendar synced', { full: result.full, ...applied });
      return { status: 'synced', full: result.full, unchanged: false, ...applied };
    } catch (error) {
      if (error instanceof CredentialError) {
        const reason = error.message;
        const newlyBroken = await this.deps.repo.markBroken(rep.id, reason);
        log.warn('calendar connection broken', { reason, newly: newlyBroken });
        if (newlyBroken) await this.deps.onBroken?.(rep.id, connection.provider, reason);
        return { status: 'broken', reason, newlyBroken };
      }
      if (isAppError(error)) throw error;
      throw new AppError(
        'vendor_error',
        `${connection.provider} calendar sync failed: ${(error as Error).message}`,
        {
          retryable: true,
          cause: error,
        },
      );
    }
  }
}
