import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { backlogAlert, permanentFailureAlert, providerSwapAlert } from '../../blocks/alerts.ts';
import type { Database } from '../db/client.ts';
import { slackPosts } from '../db/schema.ts';
import type { Queues } from '../jobs/queues.ts';
import type { Logger } from '../logging/logger.ts';
import type { Clock } from '../shared/time.ts';

export interface AlertDeps {
  db: Database;
  redis: Redis;
  queues: Queues;
  prefix: string;
  /** At most one failure post per reason, and one backlog post, per window (default 10 min). */
  groupWindowMs: number;
  clock: Clock;
  logger: Logger;
  /** A burst of failures gathers this long before the first post (default 5 s). */
  minFlushDelayMs?: number;
}

/**
 * Alerts for the alert channel. Every post is a `slack_posts` row first, then a job on the
 * rate-limited `slack` queue carrying only the row id; the channel is resolved when posting.
 */
export class AlertService {
  constructor(private readonly deps: AlertDeps) {}

  async post(
    kind: string,
    message: { text: string; blocks: unknown[] },
    channel = 'alert_channel',
    options: { delayMs?: number; jobId?: string } = {},
  ): Promise<string> {
    const [row] = await this.deps.db
      .insert(slackPosts)
      .values({ kind, channel, text: message.text, blocks: message.blocks })
      .returning({ id: slackPosts.id });
    if (!row) throw new Error('slack_posts insert returned no row');
    await this.deps.queues.get('slack').add(
      'post',
      { postId: row.id },
      {
        jobId: `post-${row.id}`,
        attempts: 8,
        backoff: { type: 'exponential', delay: 2_000, jitter: 0.5 },
        ...(options.delayMs ? { delay: options.delayMs } : {}),
      },
    );
    return row.id;
  }

  private keys(group: string) {
    const base = `${this.deps.prefix}:alerts:failures:${group}`;
    return {
      reason: `${base}:reason`,
      count: `${base}:count`,
      examples: `${base}:examples`,
      scheduled: `${base}:scheduled`,
      last: `${base}:last`,
    };
  }

  /**
   * Counts a permanent failure under its reason. The first failure after a quiet period schedules
   * a flush a few seconds later (so a burst becomes one post); later ones join the pending flush,
   * which never runs sooner than one window after the previous post for that reason.
   */
  async permanentFailure(failure: { reason: string; messageId: string; to: string }): Promise<void> {
    const group = createHash('sha1').update(failure.reason).digest('hex').slice(0, 16);
    const k = this.keys(group);
    const ttl = Math.ceil((this.deps.groupWindowMs * 3) / 1000) + 60;
    const results = await this.deps.redis
      .multi()
      .set(k.reason, failure.reason, 'EX', ttl)
      .incr(k.count)
      .expire(k.count, ttl)
      .lpush(k.examples, JSON.stringify({ messageId: failure.messageId, to: failure.to }))
      .ltrim(k.examples, 0, 4)
      .expire(k.examples, ttl)
      .set(k.scheduled, '1', 'EX', ttl, 'NX')
      .get(k.last)
      .exec();
    const scheduled = results?.[6]?.[1] === 'OK';
    if (!scheduled) return;
    const now = this.deps.clock.now().getTime();
    const last = Number(results?.[7]?.[1] ?? 0);
    const delay = Math.max(this.deps.minFlushDelayMs ?? 5_000, last + this.deps.groupWindowMs - now);
    await this.deps.queues
      .get('slack')
      .add('flush-failures', { group }, { jobId: `flush-${group}-${now}`, delay, attempts: 5 });
  }

  /** Posts what gathered for one reason and resets it (the `flush-failures` job). */
  async flushFailures(group: string): Promise<boolean> {
    const k = this.keys(group);
    const now = this.deps.clock.now().getTime();
    const results = await this.deps.redis
      .multi()
      .get(k.reason)
      .getdel(k.count)
      .lrange(k.examples, 0, 4)
      .del(k.examples)
      .del(k.scheduled)
      .set(k.last, String(now), 'PX', this.deps.groupWindowMs * 2)
      .exec();
    const reason = results?.[0]?.[1] as string | null;
    const count = Number(results?.[1]?.[1] ?? 0);
    if (!reason || count === 0) return false;
    const examples = ((results?.[2]?.[1] as string[]) ?? []).map(
      (e) => JSON.parse(e) as { messageId: string; to: string },
    );
    await this.post(
      'delivery-failures',
      permanentFailureAlert({
        reason,
        count,
        examples,
        windowMinutes: Math.round(this.deps.groupWindowMs / 60_000),
      }),
    );
    return true;
  }

  async providerSwap(event: {
    provider: string;
    to: 'open' | 'closed';
    reason: string;
    actor: string;
    at: Date;
    next?: string;
  }): Promise<void> {
    await this.post('provider-swap', providerSwapAlert(event));
  }

  async backlog(backlog: { queue: string; depth: number; threshold: number }): Promise<void> {
    const key = `${this.deps.prefix}:alerts:backlog:${backlog.queue}`;
    const first = await this.deps.redis.set(key, '1', 'PX', this.deps.groupWindowMs, 'NX');
    if (first !== 'OK') return;
    await this.post('backlog', backlogAlert(backlog));
  }
}
