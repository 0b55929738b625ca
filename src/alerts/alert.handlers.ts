import { UnrecoverableError, Worker } from 'bullmq';
import { eq } from 'drizzle-orm';
import type { Database } from '../db/client.ts';
import { slackPosts } from '../db/schema.ts';
import { isAppError } from '../errors.ts';
import type { Queues } from '../jobs/queues.ts';
import type { JobHandlers } from '../jobs/workers.ts';
import { SETTING_KEYS, type SettingKey, type SettingsRepository } from '../settings/settings.repository.ts';
import { postSlackMessage, SlackRateLimitedError } from '../slack/slack-poster.ts';
import type { AlertService } from './alert.service.ts';

export interface AlertHandlerDeps {
  db: Database;
  settings: SettingsRepository;
  alerts: AlertService;
  queues: Queues;
  slack: { apiUrl: string; botToken?: string };
}

export function alertJobHandlers(deps: AlertHandlerDeps): JobHandlers {
  const mark = (id: string, status: string, error: string | null) =>
    deps.db
      .update(slackPosts)
      .set({ status, error, ...(status === 'posted' ? { postedAt: new Date() } : {}) })
      .where(eq(slackPosts.id, id));

  return {
    slack: {
      post: async (job, logger) => {
        const postId = String(job.data.postId ?? '');
        const [row] = await deps.db.select().from(slackPosts).where(eq(slackPosts.id, postId));
        if (!row) throw new UnrecoverableError(`slack post ${postId} does not exist`);
        if (row.status === 'posted') return { posted: false };
        const channel = SETTING_KEYS.includes(row.channel as SettingKey)
          ? await deps.settings.get(row.channel as SettingKey)
          : row.channel;
        if (!channel) {
          await mark(row.id, 'skipped', 'no alert channel set: an admin can set one with /briefly settings');
          logger.warn('alert not posted: no channel set (/briefly settings)', {
            kind: row.kind,
            setting: row.channel,
          });
          return { posted: false };
        }
        if (!deps.slack.botToken) {
          await mark(row.id, 'skipped', 'Slack is not connected');
          logger.warn('alert not posted: Slack is not connected', { kind: row.kind });
          return { posted: false };
        }
        try {
          await postSlackMessage({
            apiUrl: deps.slack.apiUrl,
            token: deps.slack.botToken,
            channel,
            text: row.text,
            blocks: row.blocks,
          });
        } catch (error) {
          if (error instanceof SlackRateLimitedError) {
            // Pauses the whole queue (every process) for Slack's Retry-After; the job is retried
            // afterwards without spending one of its attempts.
            await deps.queues.get('slack').rateLimit(error.retryAfterMs);
            throw Worker.RateLimitError();
          }
          if (isAppError(error) && !error.retryable) {
            await mark(row.id, 'failed', error.message);
            throw new UnrecoverableError(error.message);
          }
          throw error;
        }
        await mark(row.id, 'posted', null);
        return { posted: true };
      },
      'flush-failures': async (job) => ({
        posted: await deps.alerts.flushFailures(String(job.data.group ?? '')),
      }),
    },
  };
}
