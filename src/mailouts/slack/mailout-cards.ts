import { randomUUID } from 'node:crypto';
import type { KnownBlock } from '@slack/types';
import type { Redis } from 'ioredis';
import {
  decisionDm,
  errorsReply,
  homeMailoutBlocks,
  type MailoutCardData,
  type MailoutListItem,
  mailoutCard,
  outageReply,
} from '../../../blocks/mailouts.ts';
import type { Queues } from '../../jobs/queues.ts';
import type { JobHandlers } from '../../jobs/workers.ts';
import type { Logger } from '../../logging/logger.ts';
import type { SettingsRepository } from '../../settings/settings.repository.ts';
import type { Clock } from '../../shared/time.ts';
import type { SlackPostService, SlackTarget } from '../../slack/posts/slack-post.service.ts';
import type { MailoutRepository, MailoutRow } from '../mailout.repository.ts';
import type { MailoutService } from '../mailout.service.ts';
import type { StatusEvent } from '../mailout-engine.ts';
import { TERMINAL } from '../mailout-state.ts';

/** A progress card is edited at most this often while the mailout runs (plus once at the end). */
export const CARD_INTERVAL_MS = 30_000;

/**
 * The throttle, shared by every worker process: the last card update's instant (of the service's
 * clock) in Redis. Returns -1 and records `now` when an update may go out (or `force`), else the
 * instant of the last update. One Lua call, so two workers never both win the same window.
 */
const THROTTLE = `
local last = tonumber(redis.call('GET', KEYS[1]) or '-1')
local now = tonumber(ARGV[1])
if ARGV[3] == '1' or last < 0 or now - last >= tonumber(ARGV[2]) then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', 604800000)
  return -1
end
return last`;

const QUEUE = 'mailout-cards' as const;
const SLACK_USER = /^[UW][A-Z0-9]{2,}$/;

export interface MailoutCardsDeps {
  service: MailoutService;
  repo: MailoutRepository;
  posts: SlackPostService;
  settings: SettingsRepository;
  queues: Queues;
  redis: Redis;
  prefix: string;
  clock: Clock;
  logger: Logger;
  intervalMs?: number;
  /** Re-publishes a user's App Home (its mailout sections change with every state change). */
  refreshHome?: (slackUserId: string) => Promise<void>;
}

/**
 * The Slack side of a mailout's life, driven by the engine's events and run on the `mailout-cards`
 * queue (never on a Slack request's path): the approval card (in the approvals channel, or one DM
 * per manager when none is set), edited in place by key as the mailout is decided, runs and ends;
 * the creator's DM on a decision; the final error summary and send API outages as thread replies;
 * App Home refreshes. Progress edits are throttled to one per CARD_INTERVAL_MS across all workers
 * (a Redis timestamp), with a delayed job for the trailing edit.
 */
export class MailoutCards {
  private readonly quietUntil = new Map<number, number>();
  private readonly interval: number;

  constructor(private readonly deps: MailoutCardsDeps) {
    this.interval = deps.intervalMs ?? CARD_INTERVAL_MS;
  }

  private get queue() {
    return this.deps.queues.get(QUEUE);
  }

  private throttleKey(id: number) {
    return `${this.deps.prefix}:mailout-card:${id}:last`;
  }

  /** Engine hook: every status change becomes a job (the request that caused it answers at once). */
  async onStatusChange(event: StatusEvent): Promise<void> {
    const id = Number(event.mailout.id);
    await this.queue.add(
      'status',
      { mailoutId: id, from: event.from, to: event.to },
      { jobId: `status-${id}-${event.to}-${randomUUID()}` },
    );
  }

  /** Engine hook after each send batch: cheap when throttled (an in-process memo before Redis). */
  onProgress(mailoutId: number): void {
    const now = this.deps.clock.now().getTime();
    if ((this.quietUntil.get(mailoutId) ?? 0) > now) return;
    this.quietUntil.set(mailoutId, now + 1_000);
    this.progress(mailoutId, false).catch((error: Error) =>
      this.deps.logger.warn('progress card not scheduled', { mailout_id: mailoutId, error: error.message }),
    );
  }

  async onCircuitChange(to: 'open' | 'closed', reason: string): Promise<void> {
    await this.queue.add('outage', { to, reason }, { jobId: `outage-${to}-${randomUUID()}` });
  }

  /**
   * Either wins the throttle (a `render` job now) or makes sure one trailing `progress` job runs
   * when the window ends; its id names the window, so every worker adds the same one.
   */
  private async progress(mailoutId: number, fromTrailingJob: boolean): Promise<void> {
    const now = this.deps.clock.now().getTime();
    const last = Number(
      await this.deps.redis.eval(THROTTLE, 1, this.throttleKey(mailoutId), now, this.interval, '0'),
    );
    if (last < 0) {
      this.quietUntil.set(mailoutId, now + this.interval);
      // The card shows the instant its edit was granted (the render may run a moment later).
      await this.queue.add('render', { mailoutId, at: now }, { jobId: `render-${mailoutId}-${now}` });
      return;
    }
    const due = last + this.interval;
    this.quietUntil.set(mailoutId, due);
    await this.queue.add(
      'progress',
      { mailoutId },
      {
        jobId: `progress-${mailoutId}-${last}${fromTrailingJob ? `-${randomUUID()}` : ''}`,
        delay: Math.max(0, due - now),
      },
    );
  }

  handlers(): JobHandlers {
    return {
      [QUEUE]: {
        status: async (job) =>
          this.status(Number(job.data.mailoutId), String(job.data.from), String(job.data.to)),
        render: async (job) =>
          this.render(Number(job.data.mailoutId), { progressOnly: true, at: new Date(Number(job.data.at)) }),
        progress: async (job) => {
          const row = await this.deps.repo.get(Number(job.data.mailoutId));
          if (row?.status !== 'running' || row.deleted_at) return { skipped: row?.status ?? 'gone' };
          await this.progress(Number(row.id), true);
          return { checked: true };
        },
        outage: async (job) =>
          this.outage(job.data.to === 'open' ? 'open' : 'closed', String(job.data.reason)),
      },
    };
  }

  private async status(id: number, from: string, to: string) {
    const row = await this.deps.repo.get(id);
    if (!row) return { skipped: 'gone' };
    let cards: string[];
    if (to === 'running' && from === 'scheduled') {
      // The start is the first progress edit: throttled like the others (never two within the interval).
      await this.progress(id, false);
      cards = row.slack_cards;
    } else {
      if (['running', 'paused', ...TERMINAL].includes(to)) {
        // A person's pause/resume/cancel and the end show at once, and count as this window's edit.
        await this.deps.redis.eval(
          THROTTLE,
          1,
          this.throttleKey(id),
          this.deps.clock.now().getTime(),
          this.interval,
          '1',
        );
      }
      cards = await this.render(id, { progressOnly: false });
    }
    const creator = await this.creatorSlackId(row);
    const decided = (from === 'pending_approval' && to === 'scheduled') || to === 'rejected';
    if (decided && creator) {
      const current = (await this.deps.repo.get(id)) ?? row;
      await this.deps.posts.post(
        `mailout-decision:${id}:v${current.version}:${to}`,
        creator,
        decisionDm(await this.cardData(current)),
      );
    }
    if ((TERMINAL as readonly string[]).includes(to) && row.started_at) {
      const stats = await this.deps.service.stats(id);
      for (const key of cards) {
        await this.deps.posts.reply(key, errorsReply({ id, errors: stats.errors }), { key: `${key}:errors` });
      }
    }
    await this.refreshHomes(creator);
    return { cards: cards.length };
  }

  /** Where a card key posts: a manager's DM, or the approvals channel (admins by DM when unset). */
  private target(key: string): SlackTarget {
    return /^mailout:\d+:dm:(.+)$/.exec(key)?.[1] ?? 'approvals_channel';
  }

  private async placeCards(row: MailoutRow): Promise<string[]> {
    const id = Number(row.id);
    if (await this.deps.settings.get('approvals_channel')) return [`mailout:${id}`];
    const managers = row.status === 'pending_approval' ? await this.deps.repo.managerSlackIds() : [];
    return managers.length ? managers.map((u) => `mailout:${id}:dm:${u}`) : [`mailout:${id}`];
  }

  /**
   * Posts or edits every card of the mailout with its current state, one render at a time per
   * mailout (an advisory lock), so a slow render never overwrites a newer one. `progressOnly`
   * (throttled progress edits) renders only a running or paused mailout: the end is the status job's.
   */
  async render(id: number, options: { progressOnly: boolean; at?: Date }): Promise<string[]> {
    const client = await this.deps.repo.pool.connect();
    const lock = `mailout-card:${id}`;
    try {
      await client.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [lock]);
      const row = await this.deps.repo.get(id);
      if (!row) return [];
      if (options.progressOnly && !['running', 'paused'].includes(row.status)) return [];
      let keys = row.slack_cards;
      if (keys.length === 0) {
        if (row.status !== 'pending_approval' && !row.started_at) return [];
        keys = await this.placeCards(row);
        await this.deps.repo.setSlackCards(id, keys);
      }
      const message = mailoutCard(await this.cardData(row, options.at));
      for (const key of keys) await this.deps.posts.post(key, this.target(key), message);
      return keys;
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [lock]).catch(() => undefined);
      client.release();
    }
  }

  private async outage(to: 'open' | 'closed', reason: string) {
    let replies = 0;
    for (const id of await this.deps.repo.runningIds()) {
      const row = await this.deps.repo.get(id);
      for (const key of row?.slack_cards ?? []) {
        await this.deps.posts.reply(key, outageReply({ to, reason }));
        replies++;
      }
    }
    return { replies };
  }

  async creatorSlackId(row: MailoutRow): Promise<string | undefined> {
    if (SLACK_USER.test(row.created_by)) return row.created_by;
    return (await this.deps.repo.findRep(row.created_by))?.slack_user_id ?? undefined;
  }

  private async refreshHomes(creator: string | undefined): Promise<void> {
    const refresh = this.deps.refreshHome;
    if (!refresh) return;
    const users = new Set([...(creator ? [creator] : []), ...(await this.deps.repo.managerSlackIds())]);
    for (const user of users) {
      await refresh(user).catch((error: Error) =>
        this.deps.logger.warn('App Home not refreshed', { user, error: error.message }),
      );
    }
  }

  /** What a card shows: the row, plus the audience before it runs or the counts once it does. */
  async cardData(row: MailoutRow, at?: Date): Promise<MailoutCardData> {
    const id = Number(row.id);
    const base: MailoutCardData = {
      id,
      name: row.name,
      text: row.text,
      status: row.status,
      version: row.version,
      createdBy: row.created_by,
      startsAt: row.starts_at,
      endsAt: row.ends_at,
      window: row.window_from && row.window_to ? { from: row.window_from, to: row.window_to } : null,
      operatorCodes: row.operator_codes,
      tags: row.tags,
      approvedBy: row.approved_by,
      approvedAt: row.approved_at,
      rejectedBy: row.rejected_by,
      rejectionReason: row.rejection_reason,
      startedAt: row.started_at,
      endedAt: row.ended_at,
      at: at ?? this.deps.clock.now(),
    };
    if (row.started_at) {
      const p = await this.deps.repo.progress(id);
      const sent = p.counts.sent ?? 0;
      const seconds = p.first && p.last ? (p.last.getTime() - p.first.getTime()) / 1000 : 0;
      return { ...base, counts: p.counts, ratePerSecond: sent > 1 && seconds > 0 ? sent / seconds : null };
    }
    if (row.status === 'cancelled' || row.status === 'finished' || row.status === 'expired') return base;
    const preview = await this.deps.service.preview(
      { operatorCodes: row.operator_codes, tags: row.tags },
      base.window,
    );
    return { ...base, audience: { total: preview.total, inWindowNow: preview.in_window_now } };
  }

  /** Rows as list items with sent/total (and the audience size before fan-out). */
  async listItems(rows: MailoutRow[]): Promise<MailoutListItem[]> {
    const counts = await this.deps.repo.sentAndTotal(rows.map((r) => Number(r.id)));
    return rows.map((r) => ({
      id: Number(r.id),
      name: r.name,
      status: r.status,
      startsAt: r.starts_at,
      endsAt: r.ends_at,
      sent: counts.get(Number(r.id))?.sent ?? 0,
      total: counts.get(Number(r.id))?.total ?? 0,
    }));
  }

  /** App Home sections for one user: requests waiting for them (managers) and their own mailouts. */
  async home(slackUserId: string): Promise<{ top: KnownBlock[]; bottom: KnownBlock[] }> {
    const [manager, mine] = await Promise.all([
      this.deps.service.isManager(slackUserId),
      this.deps.repo.recent({ createdBy: slackUserId, limit: 10 }),
    ]);
    const pending = manager
      ? (await this.deps.repo.recent({ statuses: ['pending_approval'], limit: 20 })).filter(
          (r) => r.created_by !== slackUserId,
        )
      : [];
    const waiting = pending.map(
      (row): MailoutCardData => ({
        id: Number(row.id),
        name: row.name,
        text: row.text,
        status: row.status,
        version: row.version,
        createdBy: row.created_by,
        startsAt: row.starts_at,
        endsAt: row.ends_at,
        window: null,
        operatorCodes: row.operator_codes,
        tags: row.tags,
        approvedBy: null,
        approvedAt: null,
        rejectedBy: null,
        rejectionReason: null,
        startedAt: null,
        endedAt: null,
        at: this.deps.clock.now(),
      }),
    );
    return homeMailoutBlocks({ waiting, mine: await this.listItems(mine) });
  }
}
