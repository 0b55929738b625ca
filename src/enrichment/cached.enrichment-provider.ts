import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { PersonProfile } from '../db/schema.ts';
import { AppError, isAppError } from '../errors.ts';
import type { Clock } from '../shared/time.ts';
import { type EnrichmentProvider, QuotaExhaustedError } from './enrichment-provider.ts';
import type { ParticipantRepository, ParticipantRow } from './participant.repository.ts';

export interface CachedEnrichmentDeps {
  repo: ParticipantRepository;
  redis: Redis;
  /** Redis key prefix (the queue prefix): keeps test files and deployments apart. */
  prefix: string;
  clock: Clock;
  /** How long a match is kept. 30 days is also the most we may keep vendor data. */
  ttlDays?: number;
  /** How long "no match" is believed: people change jobs and vendors add records. */
  notFoundTtlDays?: number;
  /** Must outlast the vendor timeout, or a slow call lets a second worker call too. */
  lockMs?: number;
  /** How long a worker that did not get the lock waits for the holder's answer. */
  waitMs?: number;
  pollMs?: number;
  /** How long lookups pause after a quota error that says nothing about when it ends. */
  quotaPauseSeconds?: number;
  /** Called by one worker per pause period, whichever saw the quota error first. */
  onQuotaExhausted?: (error: QuotaExhaustedError) => Promise<void> | void;
}

/** What `lookupMany` found. Emails are lower-cased; failed and skipped ones are not in `profiles`. */
export interface EnrichmentBatch {
  /** A profile, or null when the vendor has no match. */
  profiles: Map<string, PersonProfile | null>;
  /** Lookups that failed for this email alone (vendor outage, garbage answer...). */
  failed: string[];
  errors: Map<string, Error>;
  /** Not looked up because the vendor quota is exhausted. */
  skipped: string[];
  quotaExhausted: boolean;
}

const DAY_MS = 86_400_000;
const EMAIL = /^[^\s@]+@[^\s@]+$/;

/** Deletes the lock only if it is still ours: after lockMs another worker may hold it. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

interface FailureMemo {
  code: string;
  message: string;
  retryable: boolean;
  retryAfterSeconds?: number;
  quota: boolean;
}

/**
 * The enrichment cache and its single-flight guarantee, as a decorator over a vendor adapter.
 * PostgreSQL holds the answers (found 30 days, not-found 7); a Redis lock per email makes sure that
 * across all workers one email is sent to the vendor once: the holder calls the vendor and stores
 * the row, the others poll the table until it appears. Within one process concurrent lookups of
 * one email also share one promise, so the lock is contended by processes, not by requests.
 */
export class CachedEnrichmentProvider implements EnrichmentProvider {
  readonly name: string;
  private calls = 0;
  private readonly inflight = new Map<string, Promise<PersonProfile | null>>();
  private readonly ttlMs: number;
  private readonly notFoundTtlMs: number;
  private readonly lockMs: number;
  private readonly waitMs: number;
  private readonly pollMs: number;
  private readonly quotaPauseSeconds: number;

  constructor(
    private readonly inner: EnrichmentProvider,
    private readonly deps: CachedEnrichmentDeps,
  ) {
    this.name = inner.name;
    this.ttlMs = (deps.ttlDays ?? 30) * DAY_MS;
    this.notFoundTtlMs = (deps.notFoundTtlDays ?? 7) * DAY_MS;
    this.lockMs = deps.lockMs ?? 30_000;
    this.waitMs = deps.waitMs ?? 20_000;
    this.pollMs = deps.pollMs ?? 100;
    this.quotaPauseSeconds = deps.quotaPauseSeconds ?? 3_600;
  }

  /** Calls this instance made to the vendor (each one may cost a credit). */
  get vendorCalls(): number {
    return this.calls;
  }

  async lookup(email: string): Promise<PersonProfile | null> {
    const key = normalize(email);
    const row = (await this.deps.repo.getFresh([key], this.deps.clock.now())).get(key);
    if (row) return fromRow(row);
    return this.singleFlight(key);
  }

  /**
   * Looks up many emails (one database read for the cached ones, at most `concurrency` vendor
   * lookups at a time) and never throws for one email: a briefing is built with whatever came back.
   * After a quota error the rest are skipped, here and in every worker, until the pause ends.
   */
  async lookupMany(emails: string[], concurrency = 4): Promise<EnrichmentBatch> {
    const batch: EnrichmentBatch = {
      profiles: new Map(),
      failed: [],
      errors: new Map(),
      skipped: [],
      quotaExhausted: false,
    };
    const wanted: string[] = [];
    for (const raw of new Set(emails.map((e) => e.trim().toLowerCase()))) {
      if (EMAIL.test(raw)) wanted.push(raw);
      else if (raw) {
        batch.failed.push(raw);
        batch.errors.set(raw, invalidEmail());
      }
    }
    const cached = await this.deps.repo.getFresh(wanted, this.deps.clock.now());
    for (const [email, row] of cached) batch.profiles.set(email, fromRow(row));
    const todo = wanted.filter((email) => !cached.has(email));
    if (todo.length > 0 && (await this.isQuotaExhausted())) {
      batch.quotaExhausted = true;
      batch.skipped.push(...todo);
      return batch;
    }
    let next = 0;
    const work = async (): Promise<void> => {
      while (next < todo.length) {
        const email = todo[next++] as string;
        if (batch.quotaExhausted) {
          batch.skipped.push(email);
          continue;
        }
        try {
          batch.profiles.set(email, await this.singleFlight(email));
        } catch (error) {
          if (error instanceof QuotaExhaustedError) {
            batch.quotaExhausted = true;
            batch.skipped.push(email);
          } else {
            batch.failed.push(email);
            batch.errors.set(email, error instanceof Error ? error : new Error(String(error)));
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, todo.length)) }, work));
    return batch;
  }

  async isQuotaExhausted(): Promise<boolean> {
    return (await this.deps.redis.exists(this.key('enrich-quota-exhausted'))) === 1;
  }

  private singleFlight(email: string): Promise<PersonProfile | null> {
    let pending = this.inflight.get(email);
    if (!pending) {
      pending = this.resolveUncached(email).finally(() => this.inflight.delete(email));
      this.inflight.set(email, pending);
    }
    return pending;
  }

  private async resolveUncached(email: string): Promise<PersonProfile | null> {
    const lockKey = this.key('enrich-lock', email);
    // Date.now, not the injected clock: this is a real wait, and tests freeze the clock.
    const deadline = Date.now() + this.waitMs;
    for (;;) {
      const token = randomUUID();
      if ((await this.deps.redis.set(lockKey, token, 'PX', this.lockMs, 'NX')) === 'OK') {
        try {
          return await this.fetchAndStore(email);
        } finally {
          // If Redis is unreachable the lock simply expires after lockMs.
          await this.deps.redis.eval(RELEASE, 1, lockKey, token).catch(() => undefined);
        }
      }
      await sleep(this.pollMs);
      const row = (await this.deps.repo.getFresh([email], this.deps.clock.now())).get(email);
      if (row) return fromRow(row);
      const memo = await this.deps.redis.get(this.key('enrich-failed', email));
      if (memo) throw this.fromMemo(memo);
      if (Date.now() >= deadline) {
        throw new AppError(
          'unavailable',
          `Timed out after ${this.waitMs} ms waiting for another worker's lookup`,
          {
            retryable: true,
          },
        );
      }
    }
  }

  private async fetchAndStore(email: string): Promise<PersonProfile | null> {
    const failedKey = this.key('enrich-failed', email);
    // A memo left by an earlier holder must not fail the workers now waiting for this one.
    await this.deps.redis.del(failedKey);
    const row = (await this.deps.repo.getFresh([email], this.deps.clock.now())).get(email);
    if (row) return fromRow(row);
    if (await this.isQuotaExhausted()) {
      throw new QuotaExhaustedError(this.inner.name, 'lookups are paused until the quota resets');
    }
    this.calls++;
    let profile: PersonProfile | null;
    try {
      profile = await this.inner.lookup(email);
    } catch (error) {
      if (error instanceof QuotaExhaustedError) await this.tripQuota(error);
      // Waiting workers read this instead of waiting out waitMs and then calling the vendor themselves.
      await this.deps.redis
        .set(failedKey, JSON.stringify(toMemo(error)), 'PX', Math.min(this.waitMs, 5_000))
        .catch(() => undefined);
      throw error;
    }
    const now = this.deps.clock.now();
    await this.deps.repo.upsert({
      email,
      status: profile ? 'found' : 'not_found',
      provider: this.inner.name,
      profile: profile ?? {},
      fetchedAt: now,
      expiresAt: new Date(now.getTime() + (profile ? this.ttlMs : this.notFoundTtlMs)),
    });
    return profile;
  }

  /** SET NX: the flag is both the pause and the "already alerted" mark, shared by every worker. */
  private async tripQuota(error: QuotaExhaustedError): Promise<void> {
    const seconds = Math.max(60, Math.ceil(error.retryAfterSeconds ?? this.quotaPauseSeconds));
    const first = await this.deps.redis.set(
      this.key('enrich-quota-exhausted'),
      error.message,
      'EX',
      seconds,
      'NX',
    );
    if (first !== 'OK' || !this.deps.onQuotaExhausted) return;
    try {
      await this.deps.onQuotaExhausted(error);
    } catch {
      // The alert is best effort: a failing alert channel must not fail the briefings too.
    }
  }

  private fromMemo(raw: string): AppError {
    let memo: Partial<FailureMemo> = {};
    try {
      memo = JSON.parse(raw) as Partial<FailureMemo>;
    } catch {
      // A memo we cannot read still means the holder failed.
    }
    const message = `another worker's lookup failed: ${memo.message ?? 'unknown error'}`;
    if (memo.quota) return new QuotaExhaustedError(this.inner.name, message, memo.retryAfterSeconds);
    return new AppError(isErrorCode(memo.code) ? memo.code : 'unavailable', message, {
      retryable: memo.retryable ?? true,
      retryAfterSeconds: memo.retryAfterSeconds,
    });
  }

  private key(kind: string, email?: string): string {
    return email === undefined ? `${this.deps.prefix}:${kind}` : `${this.deps.prefix}:${kind}:${email}`;
  }
}

function normalize(email: string): string {
  const key = email.trim().toLowerCase();
  if (!EMAIL.test(key)) throw invalidEmail();
  return key;
}

function invalidEmail(): AppError {
  return AppError.validation([{ field: 'email', message: 'is not an email address' }]);
}

function fromRow(row: ParticipantRow): PersonProfile | null {
  return row.status === 'found' ? row.profile : null;
}

function toMemo(error: unknown): FailureMemo {
  if (isAppError(error)) {
    return {
      code: error.code,
      message: error.message,
      retryable: error.retryable,
      retryAfterSeconds: error.retryAfterSeconds,
      quota: error instanceof QuotaExhaustedError,
    };
  }
  return {
    code: 'internal',
    message: error instanceof Error ? error.message : String(error),
    retryable: false,
    quota: false,
  };
}

const ERROR_CODES = new Set([
  'validation_failed',
  'not_found',
  'conflict',
  'unauthorized',
  'forbidden',
  'payload_too_large',
  'rate_limited',
  'unavailable',
  'vendor_error',
  'internal',
]);

function isErrorCode(code: unknown): code is AppError['code'] {
  return typeof code === 'string' && ERROR_CODES.has(code);
}
