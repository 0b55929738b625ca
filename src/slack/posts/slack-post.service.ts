import { and, asc, count, eq, inArray, lte, or, sql } from 'drizzle-orm';
import type { Database } from '../../db/client.ts';
import { slackPosts } from '../../db/schema.ts';
import { AppError } from '../../errors.ts';
import type { Queues } from '../../jobs/queues.ts';
import type { SettingKey } from '../../settings/settings.repository.ts';
import type { Clock } from '../../shared/time.ts';
import type { SlackMessage } from '../slack-poster.ts';

export type SlackPostRow = typeof slackPosts.$inferSelect;

/**
 * Where a post goes: a settings key (`alert_channel`, `stats_channel`, `approvals_channel`),
 * resolved when the post is sent, or a Slack channel id (C…/G…) or user id (U…, posts as a DM).
 */
export type SlackTarget = SettingKey | (string & {});

export interface SlackPostRef {
  id: string;
  key: string | null;
  /** 1 for the first post() of a key, +1 for each later call (each is one chat.update). */
  revision: number;
}

/** What Slack shows for a key right now. `ts` and `channelId` are set once the first post went out. */
export interface SlackPostState {
  id: string;
  key: string | null;
  status: string;
  channelId: string | null;
  ts: string | null;
  threadTs: string | null;
  error: string | null;
  postedAt: Date | null;
}

export interface HeldPosts {
  setting: string;
  channelId: string | null;
  error: string | null;
  count: number;
}

export const SLACK_POST_JOB = 'post';
export const SLACK_POST_SWEEP_JOB = 'post-sweep';

const JOB_OPTIONS = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 2_000, jitter: 0.5 },
} as const;

/** "mailout-approval:42" -> "mailout-approval": the row's kind unless the caller names one. */
function kindOf(key: string): string {
  return key.split(':')[0] || key;
}

/**
 * Posts, edits and threads Slack messages by a caller-chosen key, through the rate-limited `slack`
 * queue. Every call writes a `slack_posts` row first and returns at once; the queue does the Slack
 * calls (so nothing is lost when Slack or Redis hiccups, and 429s pause the queue, not the caller).
 *
 * - `post(key, channel, message)`: the first call for a key posts a new message; every later call
 *   with the same key edits that same message in place (chat.update). `channel` only counts on the
 *   first call (a message cannot move). Calls made before the first post went out just change what
 *   will be posted (one message, the latest content). Use it for anything that changes: approval
 *   cards, progress cards, the daily stats post ("stats:<channel>:<date>").
 * - `reply(parentKey, message, { key?, broadcast? })`: a message in the thread of the post for
 *   `parentKey` (`thread_ts` = the thread's root ts; replying to a reply's key threads under the same
 *   root). Sent only after its parent is posted. Give it its own `key` to edit it later with the
 *   same call; `broadcast` also shows it in the channel (reply_broadcast).
 * - `send(channel, message)`: a one-off message that will never be edited.
 *
 * Keys are global: prefix them with the feature ("mailout-approval:<id>", "alert-incident:…"); the
 * part before the first ':' becomes the row's `kind` unless `options.kind` says otherwise.
 *
 * Delivery rules (the worker, slack-post.handlers.ts): a settings target that is not set goes to
 * every admin by DM when the setting's `whenUnset` is 'admins' (threads and edits follow the DM
 * copies), else it is skipped; a settings target whose channel is broken (not_in_channel,
 * channel_not_found, is_archived) is held, the admins get one DM naming the fix, and held posts go
 * out when an admin saves `/briefly settings` (releaseHeld). A user or channel id that fails fails.
 */
export class SlackPostService {
  constructor(private readonly deps: { db: Database; queues: Queues; clock: Clock }) {}

  async post(
    key: string,
    channel: SlackTarget,
    message: SlackMessage,
    options: { kind?: string; delayMs?: number } = {},
  ): Promise<SlackPostRef> {
    const ref = await this.upsert(key, {
      kind: options.kind ?? kindOf(key),
      channel,
      text: message.text,
      blocks: message.blocks ?? [],
      notBefore: this.notBefore(options.delayMs),
    });
    await this.enqueue(ref.id, `r${ref.revision}`, options.delayMs);
    return ref;
  }

  async reply(
    parentKey: string,
    message: SlackMessage,
    options: { key?: string; broadcast?: boolean; kind?: string } = {},
  ): Promise<SlackPostRef> {
    const parent = await this.deps.db.query.slackPosts.findFirst({ where: eq(slackPosts.key, parentKey) });
    if (!parent) throw new AppError('not_found', `No Slack post with key "${parentKey}" to reply to`);
    const values = {
      kind: options.kind ?? (options.key ? kindOf(options.key) : `${parent.kind}-reply`),
      channel: parent.channel,
      text: message.text,
      blocks: message.blocks ?? [],
      parentId: parent.parentId ?? parent.id,
      broadcast: options.broadcast ?? false,
    };
    const ref = options.key ? await this.upsert(options.key, values) : await this.insert(values);
    await this.enqueue(ref.id, `r${ref.revision}`);
    return ref;
  }

  async send(
    channel: SlackTarget,
    message: SlackMessage,
    options: { kind: string; delayMs?: number },
  ): Promise<SlackPostRef> {
    const ref = await this.insert({
      kind: options.kind,
      channel,
      text: message.text,
      blocks: message.blocks ?? [],
      notBefore: this.notBefore(options.delayMs),
    });
    await this.enqueue(ref.id, 'r1', options.delayMs);
    return ref;
  }

  async find(key: string): Promise<SlackPostState | undefined> {
    const row = await this.deps.db.query.slackPosts.findFirst({ where: eq(slackPosts.key, key) });
    if (!row) return undefined;
    return {
      id: row.id,
      key: row.key,
      status: row.status,
      channelId: row.channelId,
      ts: row.ts,
      threadTs: row.threadTs,
      error: row.error,
      postedAt: row.postedAt,
    };
  }

  /** Re-queues, oldest first, the posts held because `setting`'s channel was broken. */
  async releaseHeld(setting: SettingKey): Promise<number> {
    const now = this.deps.clock.now();
    const released = await this.deps.db
      .update(slackPosts)
      .set({ status: 'pending', error: null, channelId: null })
      .where(and(eq(slackPosts.status, 'held'), eq(slackPosts.channel, setting)))
      .returning({ id: slackPosts.id, createdAt: slackPosts.createdAt });
    released.sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
    for (const row of released) await this.enqueue(row.id, `release-${now.getTime()}`);
    return released.length;
  }

  /** Posts waiting for a broken channel to be fixed, per setting and channel (App Home shows them). */
  async held(): Promise<HeldPosts[]> {
    const rows = await this.deps.db
      .select({
        setting: slackPosts.channel,
        channelId: slackPosts.channelId,
        error: slackPosts.error,
        count: count(),
      })
      .from(slackPosts)
      .where(eq(slackPosts.status, 'held'))
      .groupBy(slackPosts.channel, slackPosts.channelId, slackPosts.error)
      .orderBy(asc(slackPosts.channel));
    return rows;
  }

  /** Adds the job that (re)processes a row; `tag` makes the job id unique per reason to run. */
  async enqueue(id: string, tag: string, delayMs?: number): Promise<void> {
    const jobId = `post-${id}-${tag}`;
    await this.deps.queues
      .get('slack')
      .add(SLACK_POST_JOB, { postId: id }, { jobId, ...JOB_OPTIONS, ...(delayMs ? { delay: delayMs } : {}) });
    await this.deps.db.update(slackPosts).set({ jobId }).where(eq(slackPosts.id, id));
  }

  /**
   * Re-enqueues posts that should be moving but whose job Redis lost (a restart without
   * persistence) or gave up on (Slack down through every attempt): pending ones past their
   * `not_before`, edits not shown yet, and replies still waiting although their parent is out. Running a row twice is
   * harmless (the worker locks it and checks its status), so this errs on the side of re-running.
   */
  async sweep(stuckAfterMs = 120_000, limit = 500): Promise<number> {
    const now = this.deps.clock.now();
    const before = new Date(now.getTime() - stuckAfterMs);
    const rows = await this.deps.db
      .select({ id: slackPosts.id, jobId: slackPosts.jobId })
      .from(slackPosts)
      .where(
        or(
          and(
            eq(slackPosts.status, 'pending'),
            lte(
              sql`coalesce(${slackPosts.notBefore}, ${slackPosts.updatedAt}, ${slackPosts.createdAt})`,
              before,
            ),
          ),
          and(
            inArray(slackPosts.status, ['posted', 'redirected']),
            sql`coalesce(${slackPosts.postedRevision}, 0) < ${slackPosts.revision}`,
            lte(sql`coalesce(${slackPosts.updatedAt}, ${slackPosts.createdAt})`, before),
          ),
          and(
            eq(slackPosts.status, 'waiting'),
            lte(sql`coalesce(${slackPosts.updatedAt}, ${slackPosts.createdAt})`, before),
            sql`EXISTS (SELECT 1 FROM slack_posts p WHERE p.id = ${slackPosts.parentId} AND p.ts IS NOT NULL)`,
          ),
        ),
      )
      .orderBy(asc(slackPosts.createdAt))
      .limit(limit);
    const queue = this.deps.queues.get('slack');
    let swept = 0;
    for (const row of rows) {
      const state = row.jobId ? await queue.getJobState(row.jobId) : 'unknown';
      if (state !== 'unknown' && state !== 'failed' && state !== 'completed') continue;
      await this.enqueue(row.id, `sweep-${now.getTime()}`);
      swept++;
    }
    return swept;
  }

  private notBefore(delayMs: number | undefined): Date | null {
    return delayMs ? new Date(this.deps.clock.now().getTime() + delayMs) : null;
  }

  private async insert(values: typeof slackPosts.$inferInsert): Promise<SlackPostRef> {
    const [row] = await this.deps.db
      .insert(slackPosts)
      .values(values)
      .returning({ id: slackPosts.id, key: slackPosts.key, revision: slackPosts.revision });
    if (!row) throw new AppError('internal', 'slack_posts insert returned no row');
    return row;
  }

  /** One row per key: a later call replaces the content and bumps the revision. */
  private async upsert(key: string, values: typeof slackPosts.$inferInsert): Promise<SlackPostRef> {
    const [row] = await this.deps.db
      .insert(slackPosts)
      .values({ ...values, key })
      .onConflictDoUpdate({
        target: slackPosts.key,
        set: {
          text: values.text,
          blocks: values.blocks ?? [],
          revision: sql`${slackPosts.revision} + 1`,
          updatedAt: sql`now()`,
          notBefore: values.notBefore ?? null,
          // A message that never made it gets another try with the new content.
          status: sql`CASE WHEN ${slackPosts.status} IN ('failed', 'skipped') THEN 'pending' ELSE ${slackPosts.status} END`,
        },
      })
      .returning({ id: slackPosts.id, key: slackPosts.key, revision: slackPosts.revision });
    if (!row) throw new AppError('internal', 'slack_posts upsert returned no row');
    return row;
  }
}
