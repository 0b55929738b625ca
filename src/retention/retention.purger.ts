import type pg from 'pg';
import client from 'prom-client';
import type { Logger } from '../logging/logger.ts';
import type { Clock } from '../shared/time.ts';
import { RETENTION, type RetentionName, type RetentionRule } from './retention.ts';

export interface RetentionOptions {
  /** Rows per statement: each batch is its own short transaction holding row locks only. */
  batchSize?: number;
  /** Batches per table per run; what is left waits for the next run. */
  maxBatches?: number;
}

export type PurgeCounts = Record<string, number>;

/**
 * Purges what RETENTION says may no longer be kept. Each batch locks at most `batchSize` rows
 * (`FOR UPDATE SKIP LOCKED`: rows a worker is busy with are left for the next run), deletes them
 * (or clears the listed columns) and commits, so no lock outlives one small statement and the job
 * can stop anywhere without leaving work half done.
 */
export class RetentionPurger {
  private readonly batchSize: number;
  private readonly maxBatches: number;

  constructor(
    private readonly pool: pg.Pool,
    private readonly days: Record<RetentionName, number>,
    private readonly clock: Clock,
    private readonly purged: client.Counter<'table'>,
    options: RetentionOptions = {},
  ) {
    this.batchSize = options.batchSize ?? 1_000;
    this.maxBatches = options.maxBatches ?? 1_000;
  }

  async purgeAll(logger: Logger): Promise<PurgeCounts> {
    const counts: PurgeCounts = {};
    const rules: readonly RetentionRule[] = RETENTION;
    for (const rule of rules) {
      const cutoff = new Date(
        this.clock.now().getTime() - this.days[rule.name as RetentionName] * 86_400_000,
      );
      const result = await this.purge(rule, cutoff);
      counts[rule.name] = (counts[rule.name] ?? 0) + result.rows;
      if (rule.cascade) counts[rule.cascade.name] = (counts[rule.cascade.name] ?? 0) + result.cascaded;
      if (result.rows > 0)
        logger.info('retention purge', { table: rule.name, cutoff: cutoff.toISOString(), ...result });
    }
    return counts;
  }

  async purge(
    rule: RetentionRule,
    cutoff: Date,
  ): Promise<{ rows: number; cascaded: number; batches: number }> {
    const sql = purgeStatement(rule);
    let rows = 0;
    let cascaded = 0;
    let batches = 0;
    while (batches < this.maxBatches) {
      const { rows: result } = await this.pool.query<{ rows: number; cascaded: number }>(sql, [
        cutoff,
        this.batchSize,
      ]);
      batches += 1;
      const done = result[0] ?? { rows: 0, cascaded: 0 };
      rows += done.rows;
      cascaded += done.cascaded;
      if (done.rows > 0) this.purged.inc({ table: rule.name }, done.rows);
      if (done.cascaded > 0 && rule.cascade) this.purged.inc({ table: rule.cascade.name }, done.cascaded);
      if (done.rows < this.batchSize) break;
    }
    return { rows, cascaded, batches };
  }
}

/** One batch: pick the oldest candidates by their (indexed) age, lock them, purge them, count. */
export function purgeStatement(rule: RetentionRule): string {
  const key = rule.key ?? 'id';
  const where = rule.where ? ` AND (${rule.where})` : '';
  const batch = `${key} = ANY(ARRAY(SELECT k FROM doomed))`;
  const action = rule.clear
    ? `UPDATE ${rule.table} SET ${rule.clear.map((c) => `${c} = NULL`).join(', ')} WHERE ${batch} RETURNING 1`
    : `DELETE FROM ${rule.table} WHERE ${batch} RETURNING 1`;
  const cascaded = rule.cascade
    ? `(SELECT count(*) FROM ${rule.cascade.table} WHERE ${rule.cascade.column} = ANY(ARRAY(SELECT k FROM doomed)))`
    : '0';
  return `WITH doomed AS (
      SELECT ${key} AS k FROM ${rule.table} WHERE ${rule.age} < $1${where}
      ORDER BY ${rule.age} LIMIT $2 FOR UPDATE SKIP LOCKED
    ), cascaded AS (SELECT ${cascaded} AS n), gone AS (${action})
    SELECT (SELECT count(*) FROM gone)::int AS rows, (SELECT n FROM cascaded)::int AS cascaded`;
}

export function createRetentionMetric(registry: client.Registry): client.Counter<'table'> {
  return new client.Counter({
    name: 'briefly_retention_purged_rows_total',
    help: 'Rows purged by the retention job, by table (idempotency_keys: keys cleared)',
    labelNames: ['table'] as const,
    registers: [registry],
  });
}
