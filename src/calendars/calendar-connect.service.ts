import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AuditRepository } from '../audit/audit.repository.ts';
import type { Config } from '../config/config.ts';
import { AppError } from '../errors.ts';
import type { SecretBox } from '../shared/crypto.ts';
import type { Clock } from '../shared/time.ts';
import type { CalendarRepository } from './calendar.repository.ts';
import type { CalendarSyncService, SyncOutcome, SyncRep } from './calendar-sync.service.ts';
import { DEMO_CALENDAR_URL } from './demo/demo-calendar.ts';
import { GoogleAuth } from './providers/google-auth.ts';
import { MicrosoftAuth } from './providers/microsoft-auth.ts';

/** The vendors whose per-rep consent comes back to `/oauth/<provider>/callback`. */
export type OAuthProvider = 'google' | 'microsoft';

export interface CalendarStatus {
  provider: 'google' | 'microsoft' | 'ics';
  status: 'active' | 'broken';
  brokenReason: string | null;
  lastSyncedAt: Date | null;
}

export type ConnectResult =
  | { kind: 'connected'; provider: string; outcome: SyncOutcome }
  | { kind: 'queued'; provider: string }
  | { kind: 'authorize'; provider: string; url: string };

/**
 * When the first sync runs: `now` (Slack, CLI: the person connecting hears at once whether the
 * calendar can be read) or `queued` (the REST API answers without waiting on a vendor).
 */
export type FirstSync = 'now' | 'queued';

/**
 * Connecting a rep's calendar from Slack or the API: validates what was given, stores the
 * credential encrypted, and runs a first sync right away so a wrong URL or a missing consent is
 * reported to the person who just connected rather than at 05:00 the next morning.
 */
export class CalendarConnectService {
  /** Consent links and code exchange for per-rep OAuth. */
  private readonly google: GoogleAuth;
  private readonly microsoft: MicrosoftAuth;

  constructor(
    private readonly deps: {
      config: Config;
      calendars: CalendarRepository;
      sync: CalendarSyncService;
      box: SecretBox;
      audit: AuditRepository;
      clock: Clock;
      /** Signs OAuth `state` so a callback cannot attach a calendar to someone else's rep. */
      stateKey: Buffer;
      /** Queues a sync of the rep's calendar (the `calendar-sync` job); needed for `queued`. */
      enqueueSync?: (repId: string) => Promise<void>;
    },
  ) {
    const c = deps.config.calendars;
    this.google = new GoogleAuth({
      tokenUrl: c.google.tokenUrl,
      authBaseUrl: c.google.authBaseUrl,
      oauthClient:
        c.google.clientId && c.google.clientSecret
          ? { clientId: c.google.clientId, clientSecret: c.google.clientSecret }
          : undefined,
      timeoutMs: c.timeoutMs,
    });
    this.microsoft = new MicrosoftAuth({
      loginBaseUrl: c.microsoft.loginBaseUrl,
      tenantId: c.microsoft.tenantId,
      clientId: c.microsoft.clientId,
      clientSecret: c.microsoft.clientSecret,
      timeoutMs: c.timeoutMs,
    });
  }

  private async firstSync(rep: SyncRep, provider: string, when: FirstSync): Promise<ConnectResult> {
    if (when === 'queued' && this.deps.enqueueSync) {
      await this.deps.enqueueSync(rep.id);
      return { kind: 'queued', provider };
    }
    return { kind: 'connected', provider, outcome: await this.deps.sync.sync(rep) };
  }

  /** What App Home and `/briefing` show about a rep's calendar (never its credentials). */
  async status(repId: string): Promise<CalendarStatus | null> {
    const row = await this.deps.calendars.connection(repId);
    if (!row) return null;
    return {
      provider: row.provider,
      status: row.status,
      brokenReason: row.broken_reason,
      lastSyncedAt: row.last_synced_at,
    };
  }

  private redirectUri(provider: OAuthProvider = 'google'): string {
    return `${this.deps.config.http.publicUrl}/oauth/${provider}/callback`;
  }

  async connectIcs(
    rep: SyncRep,
    rawUrl: string,
    actor: string,
    when: FirstSync = 'now',
  ): Promise<ConnectResult> {
    const url = parseFeedUrl(rawUrl, this.deps.config.calendars.allowFileUrls);
    await this.deps.calendars.connect({
      repId: rep.id,
      provider: 'ics',
      authKind: 'url',
      credentials: this.deps.box.seal({ url }),
      audit: {
        actor,
        action: 'calendar.connect',
        subject: rep.id,
        details: { provider: 'ics' },
      },
    });
    return this.firstSync(rep, 'ics', when);
  }

  /** Workspace-wide service account when configured, else a per-rep OAuth consent link. */
  async connectGoogle(rep: SyncRep, actor: string, when: FirstSync = 'now'): Promise<ConnectResult> {
    const google = this.deps.config.calendars.google;
    if (google.serviceAccount) {
      await this.deps.calendars.connect({
        repId: rep.id,
        provider: 'google',
        authKind: 'service_account',
        audit: {
          actor,
          action: 'calendar.connect',
          subject: rep.id,
          details: { provider: 'google', auth: 'service_account' },
        },
      });
      return this.firstSync(rep, 'google', when);
    }
    if (!google.clientId) {
      throw new AppError(
        'unavailable',
        'Google Calendar is not set up on this Briefly: an admin must set GOOGLE_SERVICE_ACCOUNT_JSON (domain-wide delegation) or GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET (see README, "Calendars").',
        { retryable: false },
      );
    }
    return {
      kind: 'authorize',
      provider: 'google',
      url: this.google.authUrl(this.redirectUri(), this.signState(rep.id)),
    };
  }

  /** `/oauth/google/callback`: the consent came back; store the refresh token and sync. */
  async completeGoogle(code: string, state: string, loadRep: (id: string) => Promise<SyncRep | undefined>) {
    const repId = this.verifyState(state);
    const rep = await loadRep(repId);
    if (!rep) throw AppError.notFound('Rep', repId);
    const { refreshToken } = await this.google.exchangeCode(code, this.redirectUri());
    await this.deps.calendars.connect({
      repId: rep.id,
      provider: 'google',
      authKind: 'oauth',
      credentials: this.deps.box.seal({ refresh_token: refreshToken }),
      audit: {
        actor: `oauth:${rep.id}`,
        action: 'calendar.connect',
        subject: rep.id,
        details: { provider: 'google', auth: 'oauth' },
      },
    });
    return { rep, outcome: await this.deps.sync.sync(rep) };
  }

  /** App-only access (an Entra admin consented for the tenant): the rep's mailbox is read by email. */
  /**
   * App-only access (an Entra admin consented for the tenant: the rep's mailbox is read by email)
   * or, with MICROSOFT_AUTH_MODE=delegated (the default without a tenant), a consent link for the
   * rep to connect their own Microsoft 365 calendar.
   */
  async connectMicrosoft(rep: SyncRep, actor: string, when: FirstSync = 'now'): Promise<ConnectResult> {
    const ms = this.deps.config.calendars.microsoft;
    if (!ms.clientId || !ms.clientSecret) {
      throw new AppError(
        'unavailable',
        'Microsoft 365 is not set up on this Briefly: an admin must register an app in Entra ID and set MICROSOFT_CLIENT_ID and MICROSOFT_CLIENT_SECRET, plus MICROSOFT_TENANT_ID for app-only access (see README, "Calendars").',
        { retryable: false },
      );
    }
    if (ms.authMode === 'delegated') {
      return {
        kind: 'authorize',
        provider: 'microsoft',
        url: await this.microsoft.authUrl(this.redirectUri('microsoft'), this.signState(rep.id, 'microsoft')),
      };
    }
    await this.deps.calendars.connect({
      repId: rep.id,
      provider: 'microsoft',
      authKind: 'app',
      audit: {
        actor,
        action: 'calendar.connect',
        subject: rep.id,
        details: { provider: 'microsoft', auth: 'app' },
      },
    });
    return this.firstSync(rep, 'microsoft', when);
  }

  /**
   * `/oauth/microsoft/callback`: the rep consented; MSAL's token cache (with the refresh token)
   * is stored encrypted and the calendar synced.
   */
  async completeMicrosoft(
    code: string,
    state: string,
    loadRep: (id: string) => Promise<SyncRep | undefined>,
  ) {
    const repId = this.verifyState(state, 'microsoft');
    const rep = await loadRep(repId);
    if (!rep) throw AppError.notFound('Rep', repId);
    const { credentials, username } = await this.microsoft.redeemCode(code, this.redirectUri('microsoft'));
    await this.deps.calendars.connect({
      repId: rep.id,
      provider: 'microsoft',
      authKind: 'delegated',
      credentials: this.deps.box.seal({ ...credentials }),
      audit: {
        actor: `oauth:${rep.id}`,
        action: 'calendar.connect',
        subject: rep.id,
        details: { provider: 'microsoft', auth: 'delegated', account: username },
      },
    });
    return { rep, account: username, outcome: await this.deps.sync.sync(rep) };
  }

  /** `repId.expiry.hmac`, valid 15 minutes, for one provider's callback only. */
  signState(repId: string, provider: OAuthProvider = 'google'): string {
    const expires = this.deps.clock.now().getTime() + 15 * 60_000;
    const payload = `${repId}.${expires}`;
    return `${payload}.${this.stateMac(payload, provider).toString('base64url')}`;
  }

  verifyState(state: string, provider: OAuthProvider = 'google'): string {
    const [repId, expires, signature] = state.split('.');
    const bad = () =>
      new AppError(
        'validation_failed',
        `The sign-in link is invalid or has expired: run /briefing connect ${provider} again`,
        {
          fields: [{ field: 'query.state', message: 'is not a valid or current state' }],
        },
      );
    if (!repId || !expires || !signature) throw bad();
    const expected = this.stateMac(`${repId}.${expires}`, provider);
    const given = Buffer.from(signature, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw bad();
    if (Number(expires) < this.deps.clock.now().getTime()) throw bad();
    return repId;
  }

  /** Google's MAC is over the bare payload (links already handed out stay valid); others name themselves. */
  private stateMac(payload: string, provider: OAuthProvider): Buffer {
    const input = provider === 'google' ? payload : `${provider}:${payload}`;
    return createHmac('sha256', this.deps.stateKey).update(input).digest();
  }
}

/** http(s) and webcal feed URLs, the bundled demo calendar, and file: only outside production. */
export function parseFeedUrl(raw: string, allowFile: boolean): string {
  if (raw.trim() === DEMO_CALENDAR_URL) return DEMO_CALENDAR_URL;
  const trimmed =
    raw
      .trim()
      .replace(/^<(.*)>$/, '$1')
      .split('|')[0] ?? '';
  let url: URL;
  try {
    url = new URL(trimmed.replace(/^webcal:/i, 'https:'));
  } catch {
    throw AppError.validation([
      { field: 'url', message: "is not a URL; paste the calendar's ICS/iCal address (https://…)" },
    ]);
  }
  const ok = url.protocol === 'https:' || url.protocol === 'http:' || (allowFile && url.protocol === 'file:');
  if (!ok)
    throw AppError.validation([{ field: 'url', message: 'must start with https://, http:// or webcal://' }]);
  return url.toString();
}
