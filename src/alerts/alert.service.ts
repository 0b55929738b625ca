import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { backlogAlert, permanentFailureAlert, providerSwapAlert } from '../../blocks/alerts.ts';
import type { Queues } from '../jobs/queues.ts';
import type { Logger } from '../logging/logger.ts';
import type { Clock } from '../shared/time.ts';
import type { SlackPostService, SlackTarget } from '../slack/posts/slack-post.service.ts';

export interface AlertDeps {
  redis: Redis;
  queues: Queues;
  posts: SlackPostService;
  prefix: string;
  /** At most one failure post per reason, and one backlog post, per window (default 10 min). */
  groupWindowMs: number;
  clock: Clock;
  logger: Logger;
  /** A burst of failures gathers this long before the first post (default 5 s). */
  minFlushDelayMs?: number;
}

/**
 * Alerts for the alert channel, through SlackPostService (a `slack_posts` row first, then the
 * rate-limited `slack` queue; with no alert channel set they go to the admins by DM).
 * An incident is one parent message with its follow-ups in its thread: a provider's outage from
 * swap-out to swap-back, and a failure reason for as long as its failures keep coming (a quiet
 * period of two windows ends it). Incident keys live in Redis: if Redis loses one, the next
 * follow-up simply starts a new thread.
 */
export class AlertService {
  constructor(private readonly deps: AlertDeps) {}

  /** A one-off alert (or, with a user id as `channel`, a DM). Returns the slack_posts id. */
  async post(
    kind: string,
    message: { text: string; blocks: unknown[] },
    channel: SlackTarget = 'alert_channel',
    options: { delayMs?: number } = {},
  ): Promise<string> {
    const ref = await this.deps.posts.send(channel, message, { kind, delayMs: options.delayMs });
    return ref.id;
  }

  private keys(group: string) {
    const base = `${this.deps.prefix}:alerts:failures:${group}`;
    return {
      reason: `${base}:reason`,
      count: `${base}:count`,
      examples: `${base}:examples`,
      scheduled: `${base}:scheduled`,
      last: `${base}:last`,
      incident: `${base}:incident`,
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

  /**
   * Posts what gathered for one reason and resets it (the `flush-failures` job). The first flush of
   * an incident is its parent message; later ones reply in its thread and edit the parent's total.
   */
  async flushFailures(group: string): Promise<boolean> {
    const k = this.keys(group);
    const now = this.deps.clock.now();
    const window = this.deps.groupWindowMs;
    const results = await this.deps.redis
      .multi()
      .get(k.reason)
      .getdel(k.count)
      .lrange(k.examples, 0, 4)
      .del(k.examples)
      .del(k.scheduled)
      .set(k.last, String(now.getTime()), 'PX', window * 2)
      .hgetall(k.incident)
      .exec();
    const reason = results?.[0]?.[1] as string | null;
    const count = Number(results?.[1]?.[1] ?? 0);
    if (!reason || count === 0) return false;
    const examples = ((results?.[2]?.[1] as string[]) ?? []).map(
      (e) => JSON.parse(e) as { messageId: string; to: string },
    );
    const open = (results?.[6]?.[1] ?? {}) as Record<string, string>;
    const windowMinutes = Math.round(window / 60_000);
    const incidentTtlMs = window * 2 + (this.deps.minFlushDelayMs ?? 5_000) + 60_000;

    if (open.key && open.since) {
      const total = Number(open.total ?? 0) + count;
      const since = new Date(Number(open.since));
      await this.deps.redis
        .multi()
        .hset(k.incident, 'total', String(total))
        .pexpire(k.incident, incidentTtlMs)
        .exec();
      await this.deps.posts.reply(
        open.key,
        permanentFailureAlert({ reason, count, examples, windowMinutes, followUp: true }),
        { kind: 'delivery-failures' },
      );
      await this.deps.posts.post(
        open.key,
        'alert_channel',
        permanentFailureAlert({ reason, count: total, examples, windowMinutes, since }),
        { kind: 'delivery-failures' },
      );
      return true;
    }
    const key = `alert-incident:failures:${group}:${now.getTime()}`;
    await this.deps.redis
      .multi()
      .hset(k.incident, { key, total: String(count), since: String(now.getTime()) })
      .pexpire(k.incident, incidentTtlMs)
      .exec();
    await this.deps.posts.post(
      key,
      'alert_channel',
      permanentFailureAlert({ reason, count, examples, windowMinutes, since: now }),
      { kind: 'delivery-failures' },
    );
    return true;
  }

  /** Swap-out opens an incident (the parent message); swap-back replies in its thread and to the channel. */
  async providerSwap(event: {
    provider: string;
    to: 'open' | 'closed';
    reason: string;
    actor: string;
    at: Date;
    next?: string;
  }): Promise<void> {
    const incident = `${this.deps.prefix}:alerts:incident:provider:${event.provider}`;
    const message = providerSwapAlert(event);
    if (event.to === 'open') {
      const key = `alert-incident:provider:${event.provider}:${event.at.getTime()}`;
      const open = {
        key,
        reason: event.reason,
        actor: event.actor,
        at: event.at.getTime(),
        next: event.next,
      };
      await this.deps.redis.set(incident, JSON.stringify(open), 'EX', 30 * 86_400);
      await this.deps.posts.post(key, 'alert_channel', message, { kind: 'provider-swap' });
      return;
    }
    const open = parseOpenIncident(await this.deps.redis.getdel(incident));
    if (open && (await this.deps.posts.find(open.key))) {
      await this.deps.posts.reply(open.key, message, { kind: 'provider-swap', broadcast: true });
      await this.deps.posts.post(
        open.key,
        'alert_channel',
        providerSwapAlert({
          provider: event.provider,
          to: 'open',
          reason: open.reason,
          actor: open.actor,
          at: new Date(open.at),
          next: open.next,
          resolvedAt: event.at,
        }),
        { kind: 'provider-swap' },
      );
      return;
    }
    await this.post('provider-swap', message);
  }

  async backlog(backlog: { queue: string; depth: number; threshold: number }): Promise<void> {
    const key = `${this.deps.prefix}:alerts:backlog:${backlog.queue}`;
    const first = await this.deps.redis.set(key, '1', 'PX', this.deps.groupWindowMs, 'NX');
    if (first !== 'OK') return;
    await this.post('backlog', backlogAlert(backlog));
  }
}

interface OpenProviderIncident {
  key: string;
  reason: string;
  actor: string;
  at: number;
  next?: string;
}

function parseOpenIncident(raw: string | null): OpenProviderIncident | undefined {
  if (!raw) return undefined;
  try {
    const value = JSON.parse(raw) as Partial<OpenProviderIncident>;
    if (typeof value.key !== 'string' || typeof value.at !== 'number') return undefined;
    return {
      key: value.key,
      reason: String(value.reason ?? ''),
      actor: String(value.actor ?? ''),
      at: value.at,
      next: value.next,
    };
  } catch {
    return undefined;
  }
}
