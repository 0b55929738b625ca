import { UnrecoverableError, Worker } from 'bullmq';
import { and, eq, type SQL, sql } from 'drizzle-orm';
import { channelProblemDm, unsetChannelNote } from '../../../blocks/alerts.ts';
import type { Database } from '../../db/client.ts';
import { slackPosts } from '../../db/schema.ts';
import type { Queues } from '../../jobs/queues.ts';
import type { JobHandlers } from '../../jobs/workers.ts';
import type { Logger } from '../../logging/logger.ts';
import {
  isSettingKey,
  SETTINGS,
  type SettingKey,
  type SettingsRepository,
} from '../../settings/settings.repository.ts';
import {
  CHANNEL_ERRORS,
  SlackCallError,
  type SlackMessage,
  type SlackPoster,
  SlackRateLimitedError,
} from '../slack-poster.ts';
import {
  SLACK_POST_JOB,
  SLACK_POST_SWEEP_JOB,
  type SlackPostRow,
  type SlackPostService,
} from './slack-post.service.ts';

export interface SlackPostHandlerDeps {
  db: Database;
  queues: Queues;
  posts: SlackPostService;
  settings: SettingsRepository;
  /** Undefined when Slack is not connected: posts are then recorded as skipped. */
  poster?: SlackPoster;
  /** Slack user ids of the admins (DM fallback and channel-problem DMs). */
  admins: () => Promise<string[]>;
}

type Tx = Parameters<Parameters<Database['transaction']>[0]>[0];

/** What the transaction decided; acted on after it commits (jobs must not run before their rows exist). */
interface Outcome {
  result: Record<string, unknown>;
  enqueue: { id: string; tag: string }[];
  problem?: { setting: SettingKey; channelId: string; error: string; episode: string };
  unrecoverable?: string;
}

function lock(tx: Tx, name: string) {
  return tx.execute(sql`SELECT pg_advisory_xact_lock(hashtextextended(${name}, 0))`);
}

function message(row: SlackPostRow): SlackMessage {
  return { text: row.text, blocks: row.blocks };
}

/**
 * The `slack` queue's `post` job: sends, edits or threads one `slack_posts` row (rules in
 * SlackPostService's comment). Each run holds a PostgreSQL advisory lock on its row (and on its
 * thread parent and channel setting), so two jobs for one key never post it twice, a reply never
 * misses its parent's wake-up, and a broken channel is reported to the admins once.
 */
export function slackPostHandlers(deps: SlackPostHandlerDeps): JobHandlers {
  async function run(tx: Tx, id: string, out: Outcome, logger: Logger): Promise<void> {
    await lock(tx, `slack-post:${id}`);
    const [row] = await tx.select().from(slackPosts).where(eq(slackPosts.id, id));
    if (!row) {
      out.unrecoverable = `slack post ${id} does not exist`;
      return;
    }
    const set = (values: Partial<typeof slackPosts.$inferInsert>) =>
      tx.update(slackPosts).set(values).where(eq(slackPosts.id, id));

    if (row.status === 'failed' || row.status === 'skipped' || row.status === 'held') {
      out.result = { posted: false, status: row.status };
      return;
    }
    if (row.status === 'posted' && (row.postedRevision ?? 0) >= row.revision) {
      out.result = { posted: false, status: 'up to date' };
      return;
    }
    if (row.status === 'redirected') {
      await propagateToCopies(tx, row, out);
      return;
    }
    const poster = deps.poster;
    if (!poster) {
      await set({ status: 'skipped', error: 'Slack is not connected (SLACK_BOT_TOKEN)' });
      logger.warn('slack post skipped: Slack is not connected', { kind: row.kind });
      out.result = { posted: false, status: 'skipped' };
      return;
    }

    // A message already in Slack: edit it where it is.
    if (row.ts && row.channelId) {
      try {
        await poster.update(row.channelId, row.ts, message(row));
      } catch (error) {
        if (!(error instanceof SlackCallError) || error.retryable) throw error;
        await set({ error: `edit failed: ${error.slackCode}`, postedRevision: row.revision });
        logger.warn('slack message could not be edited', { kind: row.kind, error: error.slackCode });
        out.result = { updated: false, error: error.slackCode };
        return;
      }
      await set({ postedRevision: row.revision, updatedAt: new Date(), error: null });
      out.result = { updated: true };
      return;
    }

    let channel: string | undefined;
    let threadTs: string | undefined;
    if (row.parentId) {
      await lock(tx, `slack-post:${row.parentId}`);
      const [parent] = await tx.select().from(slackPosts).where(eq(slackPosts.id, row.parentId));
      if (parent?.status === 'redirected') {
        await fanOutReply(tx, row, parent, out);
        return;
      }
      if (parent?.status === 'skipped') {
        await set({ status: 'skipped', error: `thread parent was not posted: ${parent.error ?? ''}` });
        out.result = { posted: false, status: 'skipped' };
        return;
      }
      if (parent?.ts && parent.channelId) {
        channel = parent.channelId;
        threadTs = parent.ts;
      } else if (parent && parent.status !== 'failed') {
        // Posted once the parent is (its job wakes the waiting replies).
        await set({ status: 'waiting' });
        out.result = { posted: false, status: 'waiting' };
        return;
      }
      // A parent that failed for good: the reply still goes out, as a message of its own.
    }

    const setting = isSettingKey(row.channel) ? row.channel : undefined;
    if (setting) {
      await lock(tx, `slack-target:${setting}`);
      const current = await deps.settings.get(setting);
      if (!current && !threadTs) {
        await redirect(tx, row, setting, out, logger);
        return;
      }
      if (current && current !== channel) {
        // The setting now names another channel than the thread's: post there, not into the old thread.
        channel = current;
        threadTs = undefined;
      }
      const [broken] = await tx
        .select({ error: slackPosts.error })
        .from(slackPosts)
        .where(
          and(
            eq(slackPosts.status, 'held'),
            eq(slackPosts.channel, setting),
            eq(slackPosts.channelId, channel as string),
          ),
        )
        .limit(1);
      if (broken) {
        // Already known broken and the admins told: wait with the others, without calling Slack.
        await set({ status: 'held', channelId: channel, error: broken.error });
        out.result = { posted: false, status: 'held' };
        return;
      }
    }
    const to = channel ?? row.channel;

    let posted: { channel: string; ts: string };
    try {
      posted = await poster.postMessage(
        to,
        message(row),
        threadTs ? { ts: threadTs, broadcast: row.broadcast } : undefined,
      );
    } catch (error) {
      if (!(error instanceof SlackCallError) || error.retryable) throw error;
      if (setting && CHANNEL_ERRORS.has(error.slackCode)) {
        await set({ status: 'held', channelId: to, error: error.slackCode });
        out.problem = { setting, channelId: to, error: error.slackCode, episode: row.id };
        out.result = { posted: false, status: 'held' };
        return;
      }
      await set({ status: 'failed', error: error.message });
      out.unrecoverable = error.message;
      return;
    }
    await set({
      status: 'posted',
      channelId: posted.channel,
      ts: posted.ts,
      threadTs: threadTs ?? null,
      postedRevision: row.revision,
      postedAt: new Date(),
      error: null,
    });
    out.result = { posted: true, channel: posted.channel, ts: posted.ts };
    const waiting = await tx
      .select({ id: slackPosts.id })
      .from(slackPosts)
      .where(and(eq(slackPosts.parentId, row.id), eq(slackPosts.status, 'waiting')));
    for (const reply of waiting) out.enqueue.push({ id: reply.id, tag: `parent-${posted.ts}` });
  }

  /** No channel set: every admin gets a DM copy (rows with copy_of), or the post is skipped. */
  async function redirect(tx: Tx, row: SlackPostRow, setting: SettingKey, out: Outcome, logger: Logger) {
    const { label, whenUnset } = SETTINGS[setting];
    const set = (values: Partial<typeof slackPosts.$inferInsert>) =>
      tx.update(slackPosts).set(values).where(eq(slackPosts.id, row.id));
    if (whenUnset === 'skip') {
      await set({ status: 'skipped', error: `no ${label.toLowerCase()} set (/briefly settings)` });
      out.result = { posted: false, status: 'skipped' };
      return;
    }
    const admins = await deps.admins();
    if (admins.length === 0) {
      const error = `no ${label.toLowerCase()} set and no admin to tell: set SLACK_ADMIN_USER_IDS or make a rep an admin`;
      await set({ status: 'skipped', error });
      logger.error(`slack post not delivered: ${error}`, { kind: row.kind });
      out.result = { posted: false, status: 'skipped' };
      return;
    }
    const blocks = withNote(row.blocks, label);
    const copies = await tx
      .insert(slackPosts)
      .values(
        admins.map((admin) => ({
          kind: row.kind,
          channel: admin,
          text: row.text,
          blocks,
          copyOf: row.id,
          revision: row.revision,
        })),
      )
      .returning({ id: slackPosts.id, revision: slackPosts.revision });
    for (const copy of copies) out.enqueue.push({ id: copy.id, tag: `r${copy.revision}` });
    await set({
      status: 'redirected',
      postedRevision: row.revision,
      error: `no ${label.toLowerCase()} set: sent to ${admins.length} admin(s) by DM`,
    });
    out.result = { posted: false, status: 'redirected', admins: admins.length };
  }

  /** A reply to a post that went to the admins by DM goes into each admin's copy's thread. */
  async function fanOutReply(tx: Tx, row: SlackPostRow, parent: SlackPostRow, out: Outcome) {
    const copies = await tx
      .select({ id: slackPosts.id, channel: slackPosts.channel })
      .from(slackPosts)
      .where(eq(slackPosts.copyOf, parent.id));
    if (copies.length > 0) {
      const inserted = await tx
        .insert(slackPosts)
        .values(
          copies.map((copy) => ({
            kind: row.kind,
            channel: copy.channel,
            text: row.text,
            blocks: row.blocks,
            parentId: copy.id,
            copyOf: row.id,
            revision: row.revision,
            broadcast: row.broadcast,
          })),
        )
        .returning({ id: slackPosts.id, revision: slackPosts.revision });
      for (const copy of inserted) out.enqueue.push({ id: copy.id, tag: `r${copy.revision}` });
    }
    await tx
      .update(slackPosts)
      .set({ status: 'redirected', postedRevision: row.revision, error: parent.error })
      .where(eq(slackPosts.id, row.id));
    out.result = { posted: false, status: 'redirected', copies: copies.length };
  }

  /** A later post() of a key that went to the admins edits each admin's copy. */
  async function propagateToCopies(tx: Tx, row: SlackPostRow, out: Outcome) {
    if ((row.postedRevision ?? 0) >= row.revision) {
      out.result = { posted: false, status: 'up to date' };
      return;
    }
    const setting = isSettingKey(row.channel) ? row.channel : undefined;
    const blocks = setting && !row.parentId ? withNote(row.blocks, SETTINGS[setting].label) : row.blocks;
    const copies = await tx
      .update(slackPosts)
      .set({
        text: row.text,
        blocks,
        revision: row.revision,
        status:
          sql`CASE WHEN ${slackPosts.status} IN ('failed', 'skipped') THEN 'pending' ELSE ${slackPosts.status} END` as SQL<string>,
      })
      .where(eq(slackPosts.copyOf, row.id))
      .returning({ id: slackPosts.id });
    for (const copy of copies) out.enqueue.push({ id: copy.id, tag: `r${row.revision}` });
    await tx.update(slackPosts).set({ postedRevision: row.revision }).where(eq(slackPosts.id, row.id));
    out.result = { posted: false, status: 'redirected', updatedCopies: copies.length };
  }

  /** One DM per admin per broken-channel episode (keyed by the first held post). */
  async function tellAdmins(problem: NonNullable<Outcome['problem']>, logger: Logger) {
    const { label } = SETTINGS[problem.setting];
    logger.warn('slack channel is broken: posts are held until /briefly settings is saved', {
      setting: problem.setting,
      channel: problem.channelId,
      error: problem.error,
    });
    const admins = await deps.admins();
    if (admins.length === 0) {
      logger.error('no admin to tell about a broken channel: set SLACK_ADMIN_USER_IDS', {
        setting: problem.setting,
      });
      return;
    }
    const dm = channelProblemDm({ label, channelId: problem.channelId, error: problem.error });
    for (const admin of admins) {
      await deps.posts.post(`channel-problem:${problem.episode}:${admin}`, admin, dm, {
        kind: 'channel-problem',
      });
    }
  }

  return {
    slack: {
      [SLACK_POST_JOB]: async (job, logger) => {
        const id = String(job.data.postId ?? '');
        const out: Outcome = { result: {}, enqueue: [] };
        try {
          await deps.db.transaction((tx) => run(tx, id, out, logger));
        } catch (error) {
          if (error instanceof SlackRateLimitedError) {
            // Pauses the whole queue (every process) for Slack's Retry-After; the job is retried
            // afterwards without spending one of its attempts.
            await deps.queues.get('slack').rateLimit(error.retryAfterMs);
            throw Worker.RateLimitError();
          }
          throw error;
        }
        for (const next of out.enqueue) await deps.posts.enqueue(next.id, next.tag);
        if (out.problem) await tellAdmins(out.problem, logger);
        if (out.unrecoverable) throw new UnrecoverableError(out.unrecoverable);
        return out.result;
      },
      [SLACK_POST_SWEEP_JOB]: async (_job, logger) => {
        const swept = await deps.posts.sweep();
        if (swept > 0)
          logger.warn('slack post sweeper re-enqueued posts whose job was lost', { count: swept });
        return { swept };
      },
    },
  };
}

function withNote(blocks: unknown[], label: string): unknown[] {
  return blocks.length < 50 ? [...blocks, unsetChannelNote(label)] : blocks;
}
