import { createHash, randomBytes } from 'node:crypto';
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { AuditRepository } from '../audit/audit.repository.ts';
import type { Database } from '../db/client.ts';
import { apiKeys } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { MicroBatcher } from '../shared/micro-batcher.ts';
import { type ApiScope, DEFAULT_SCOPES } from './scopes.ts';

const KEY_PREFIX = 'brf_';

/**
 * A valid key is trusted this long before it is looked up again: one query per API request was
 * the largest share of the web process's PostgreSQL statements in the delivery benchmark. The
 * cost is that a revocation made elsewhere takes up to this long to reach a web process.
 */
export const API_KEY_CACHE_MS = 2_000;
const CACHE_MAX_KEYS = 1_000;

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export interface ApiKeyPrincipal {
  id: string;
  name: string;
  scopes: readonly string[];
}

/**
 * API keys are random 32-byte secrets shown once; only their SHA-256 is stored, so a database
 * leak does not leak usable keys. SHA-256 (not a slow KDF) is right here: the input is a
 * high-entropy random token, not a password, and it is checked on every request.
 */
export class ApiKeyService {
  /** Keys this process found valid, by hash, until `until` (Date.now() ms); oldest first. */
  private readonly cache = new Map<string, { row: KeyRow; until: number }>();

  /**
   * @param cacheMs how long a key found valid is trusted without asking PostgreSQL again: a key
   *   revoked by another process (the CLI, another web process) is refused within this; one
   *   revoked through this instance at once. 0 turns the cache off.
   */
  constructor(
    private readonly db: Database,
    private readonly audit: AuditRepository,
    private readonly cacheMs = API_KEY_CACHE_MS,
  ) {}

  async create(
    name: string,
    actor: string,
    scopes: readonly ApiScope[] = DEFAULT_SCOPES,
  ): Promise<{ id: string; key: string; prefix: string; scopes: ApiScope[] }> {
    const trimmed = name.trim();
    if (!trimmed || trimmed.length > 100) {
      throw AppError.validation([{ field: 'name', message: 'must be 1-100 characters' }]);
    }
    const key = `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
    const prefix = key.slice(0, KEY_PREFIX.length + 6);
    const [row] = await this.audit.audited(
      (tx) =>
        tx
          .insert(apiKeys)
          .values({ name: trimmed, prefix, hash: hashApiKey(key), scopes: [...scopes] })
          .returning(),
      ([created]) =>
        created && {
          actor,
          action: 'api_key.create',
          subject: created.id,
          details: { name: trimmed, prefix, scopes },
        },
    );
    if (!row) throw new AppError('internal', 'API key insert returned no row');
    return { id: row.id, key, prefix, scopes: [...scopes] };
  }

  async revoke(id: string, actor: string): Promise<void> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) throw AppError.notFound('API key', id);
    const [row] = await this.audit.audited(
      (tx) =>
        tx
          .update(apiKeys)
          .set({ revokedAt: sql`now()` })
          .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
          .returning(),
      ([revoked]) => revoked && { actor, action: 'api_key.revoke', subject: id },
    );
    // This process stops trusting its cached copy now; others within API_KEY_CACHE_MS.
    this.cache.clear();
    if (!row) {
      const existing = await this.db.query.apiKeys.findFirst({ where: eq(apiKeys.id, id) });
      if (!existing) throw AppError.notFound('API key', id);
    }
  }

  async list() {
    return this.db.query.apiKeys.findMany({
      columns: {
        id: true,
        name: true,
        prefix: true,
        scopes: true,
        createdAt: true,
        lastUsedAt: true,
        revokedAt: true,
      },
      orderBy: (t, { asc }) => [asc(t.createdAt)],
    });
  }

  async authenticate(key: string): Promise<ApiKeyPrincipal | undefined> {
    if (!key.startsWith(KEY_PREFIX)) return undefined;
    const hash = hashApiKey(key);
    const now = Date.now();
    const cached = this.cache.get(hash);
    let row = cached && cached.until > now ? cached.row : undefined;
    if (!row) {
      row = await this.lookups.add(hash);
      if (!row) {
        this.cache.delete(hash);
        return undefined;
      }
      if (this.cacheMs > 0) this.remember(hash, row, now);
    }
    // Touch last_used_at at most once a minute per key: cheap enough to keep on the request path.
    if (!row.last_used_at || Date.now() - row.last_used_at.getTime() > 60_000) {
      row.last_used_at = new Date();
      await this.db.update(apiKeys).set({ lastUsedAt: sql`now()` }).where(eq(apiKeys.id, row.id));
    }
    return { id: row.id, name: row.name, scopes: row.scopes };
  }

  private remember(hash: string, row: KeyRow, now: number): void {
    this.cache.delete(hash);
    this.cache.set(hash, { row, until: now + this.cacheMs });
    if (this.cache.size > CACHE_MAX_KEYS) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
  }

  /**
   * A key not in the cache is looked up; concurrent lookups share one query (raw SQL on purpose:
   * the query builder's cost showed up in the delivery benchmark's profile). Only valid keys are
   * cached: an unknown or revoked key is looked up every time (those requests are limited per
   * address).
   */
  private readonly lookups = new MicroBatcher<string, KeyRow | undefined>(
    async (hashes) => {
      const { rows } = await this.db.$client.query<KeyRow & { hash: string }>(
        'SELECT id, name, scopes, last_used_at, hash FROM api_keys WHERE hash = ANY($1) AND revoked_at IS NULL',
        [[...new Set(hashes)]],
      );
      const byHash = new Map(rows.map((row) => [row.hash, row]));
      return hashes.map((hash) => byHash.get(hash));
    },
    100,
    4,
  );
}

interface KeyRow {
  id: string;
  name: string;
  scopes: string[];
  last_used_at: Date | null;
}
