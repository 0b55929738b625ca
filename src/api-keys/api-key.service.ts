import { createHash, randomBytes } from 'node:crypto';
import { and, eq, isNull, sql } from 'drizzle-orm';
import type { AuditRepository } from '../audit/audit.repository.ts';
import type { Database } from '../db/client.ts';
import { apiKeys } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { MicroBatcher } from '../shared/micro-batcher.ts';
import { type ApiScope, DEFAULT_SCOPES } from './scopes.ts';

const KEY_PREFIX = 'brf_';

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
  constructor(
    private readonly db: Database,
    private readonly audit: AuditRepository,
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
    const row = await this.lookups.add(hashApiKey(key));
    if (!row) return undefined;
    // Touch last_used_at at most once a minute per key: cheap enough to keep on the request path.
    if (!row.last_used_at || Date.now() - row.last_used_at.getTime() > 60_000) {
      row.last_used_at = new Date();
      await this.db.update(apiKeys).set({ lastUsedAt: sql`now()` }).where(eq(apiKeys.id, row.id));
    }
    return { id: row.id, name: row.name, scopes: row.scopes };
  }

  /**
   * Every API request looks its key up; concurrent lookups share one query (raw SQL on purpose:
   * the query builder's cost showed up in the delivery benchmark's profile). No caching, so a
   * revoked key is refused on the very next request.
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
