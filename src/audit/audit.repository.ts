import type pg from 'pg';
import type { Database, Executor } from '../db/client.ts';
import { auditLog } from '../db/schema.ts';

export interface AuditEntry {
  actor: string;
  action: string;
  subject?: string;
  details?: Record<string, unknown>;
}

/**
 * For repositories written in raw SQL: the audit row inserted on the caller's connection, so it
 * commits or rolls back with the write it describes.
 */
export async function recordAudit(client: pg.ClientBase, entry: AuditEntry): Promise<void> {
  await client.query('INSERT INTO audit_log (actor, action, subject, details) VALUES ($1, $2, $3, $4)', [
    entry.actor,
    entry.action,
    entry.subject ?? null,
    JSON.stringify(entry.details ?? {}),
  ]);
}

export class AuditRepository {
  constructor(private readonly db: Database) {}

  /** Pass the transaction of the write being audited: a failed audit row then undoes the write. */
  async record(entry: AuditEntry, tx: Executor = this.db): Promise<void> {
    await tx.insert(auditLog).values({
      actor: entry.actor,
      action: entry.action,
      subject: entry.subject,
      details: entry.details ?? {},
    });
  }

  /**
   * Runs a write and its audit row in one transaction: either both are stored or neither.
   * `entry` sees the write's result and may return undefined when nothing was written.
   */
  async audited<T>(
    write: (tx: Executor) => Promise<T>,
    entry: (result: T) => AuditEntry | undefined,
  ): Promise<T> {
    return this.db.transaction(async (tx) => {
      const result = await write(tx);
      const audit = entry(result);
      if (audit) await this.record(audit, tx);
      return result;
    });
  }
}
