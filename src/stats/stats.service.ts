import { DateTime } from 'luxon';
import { statsChannelProblemAlert, statsPostMessage } from '../../blocks/stats.ts';
import { renderStatsEmail, STATS_CHART_CID } from '../../emails/stats.tsx';
import { derivedUuid } from '../appointments/appointment.handlers.ts';
import type { InternalEmail } from '../delivery/delivery.service.ts';
import { AppError } from '../errors.ts';
import type { Queues } from '../jobs/queues.ts';
import type { Logger } from '../logging/logger.ts';
import type { SettingsRepository } from '../settings/settings.repository.ts';
import { type Clock, localTimeToInstant } from '../shared/time.ts';
import type { ChannelCheckResult } from '../slack/channel-check.ts';
import type { SlackPostService } from '../slack/posts/slack-post.service.ts';
import { CHANNEL_ERRORS, SlackCallError } from '../slack/slack-poster.ts';
import type { ChartUploader } from './slack-chart-uploader.ts';
import type { StatsChannelRow, StatsRecipientRow, StatsRepository, StatsRunRow } from './stats.repository.ts';
import type {
  CreateStatsChannelInput,
  CreateStatsRecipientInput,
  UpdateStatsChannelInput,
  UpdateStatsRecipientInput,
} from './stats.schemas.ts';
import { STATS_SECTIONS, type StatsSection } from './stats.tables.ts';
import { renderChartPng } from './stats-chart.ts';
import { CHART_DAYS, localDay, type StatsReport, shiftDate } from './stats-report.ts';

export const STATS_MESSAGE_KIND = 'stats';
export const STATS_POST_JOB = 'post';
export const STATS_CHART_JOB = 'chart';
export const STATS_EMAIL_JOB = 'email';

/** BullMQ job ids must not contain ':'; they name the target and the local date. */
export const statsPostJobId = (channelId: string, localDate: string) => `stats-${channelId}-${localDate}`;
export const statsEmailJobId = (recipientId: string, localDate: string) =>
  `stats-email-${recipientId}-${localDate}`;
/** The slack_posts key of a channel's post for a local date: every rerun edits this message. */
export const statsPostKey = (channelId: string, localDate: string) => `stats:${channelId}:${localDate}`;

/** A due run whose job has not finished after this long is enqueued again (Redis lost the job). */
const STUCK_AFTER_MS = 5 * 60_000;
const CHART_JOB_OPTIONS = {
  attempts: 8,
  backoff: { type: 'exponential', delay: 5_000, jitter: 0.3 },
  delay: 2_000,
} as const;

export interface Actor {
  id: string;
}

export interface StatsServiceDeps {
  repo: StatsRepository;
  queues: Queues;
  slackPosts: SlackPostService;
  settings: SettingsRepository;
  sendEmail(email: InternalEmail): Promise<{ id: string }>;
  /** Undefined without a Slack bot token: posts are then recorded as skipped and no chart is uploaded. */
  uploader?: ChartUploader;
  /** Can Briefly post to this channel (joining it if public)? Undefined without Slack. */
  channelCheck?(channel: string): Promise<ChannelCheckResult>;
  clock: Clock;
  logger: Logger;
}

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function toApiChannel(row: StatsChannelRow) {
  return {
    id: row.id,
    channel_id: row.channel_id,
    time: row.post_time,
    time_zone: row.time_zone,
    sections: row.sections,
    status: row.status,
    broken_reason: row.broken_reason,
    broken_at: iso(row.broken_at),
    created_by: row.created_by,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

export function toApiRecipient(row: StatsRecipientRow) {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    time: row.send_time,
    time_zone: row.time_zone,
    sections: row.sections,
    created_by: row.created_by,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

/** The Slack error code in a failed post's stored error ("Slack refused chat.postMessage: is_archived"). */
function channelError(error: string | null): string | undefined {
  const code = error?.match(/([a-z_]+)$/)?.[1];
  return code && CHANNEL_ERRORS.has(code) ? code : undefined;
}

/**
 * Daily stats: configuration of channels and recipients, the numbers of one local day, and the
 * jobs that post them (once per channel per local day, edited in place on a rerun), upload the
 * chart into the post's thread, and email them (once per recipient per local day).
 */
export class StatsService {
  constructor(private readonly deps: StatsServiceDeps) {}

  // --- numbers

  async report(localDate: string, timeZone: string, sections: readonly StatsSection[]): Promise<StatsReport> {
    const day = localDay(localDate, timeZone);
    const { repo } = this.deps;
    const want = (s: StatsSection) => sections.includes(s);
    const [deliveries, mailouts, sequences, appointments, briefings] = await Promise.all([
      want('deliveries') ? repo.deliveries(day) : undefined,
      want('mailouts') ? repo.mailouts(day) : undefined,
      want('sequences') ? repo.sequences(day) : undefined,
      want('appointments') ? repo.appointments(day) : undefined,
      want('briefings') ? repo.briefings(day) : undefined,
    ]);
    return {
      localDate,
      timeZone,
      from: day.from.toISOString(),
      to: day.to.toISOString(),
      sections: STATS_SECTIONS.filter(want),
      ...(deliveries ? { deliveries } : {}),
      ...(mailouts ? { mailouts } : {}),
      ...(sequences ? { sequences } : {}),
      ...(appointments ? { appointments } : {}),
      ...(briefings ? { briefings } : {}),
    };
  }

  /** The 14-day chart (PNG) ending with the report's day, in its zone. */
  async chart(report: StatsReport): Promise<Buffer> {
    const points = await this.deps.repo.chartSeries(localDay(report.localDate, report.timeZone));
    return renderChartPng(points, `Messages by status per day, last ${CHART_DAYS} days (${report.timeZone})`);
  }

  // --- channels

  listChannels() {
    return this.deps.repo.listChannels();
  }

  async getChannel(id: string): Promise<StatsChannelRow> {
    const row = await this.deps.repo.getChannel(id);
    if (!row) throw AppError.notFound('Stats channel', id);
    return row;
  }

  async createChannel(input: CreateStatsChannelInput, actor: Actor): Promise<StatsChannelRow> {
    await this.checkChannel(input.channel_id, 'channel_id');
    const row = await this.deps.repo.createChannel(
      {
        channel_id: input.channel_id,
        post_time: input.time,
        time_zone: input.time_zone,
        sections: input.sections,
      },
      actor.id,
      (r) => ({ actor: actor.id, action: 'stats_channel.create', subject: r.id, details: toApiChannel(r) }),
    );
    if (!row) {
      throw new AppError('conflict', `Channel ${input.channel_id} is already a stats channel`, {
        fields: [{ field: 'channel_id', message: 'is already a stats channel' }],
      });
    }
    await this.catchUp(row);
    return row;
  }

  /** Any save re-checks the channel and clears a broken state (then today's post goes out if due). */
  async updateChannel(id: string, input: UpdateStatsChannelInput, actor: Actor): Promise<StatsChannelRow> {
    const current = await this.getChannel(id);
    const channelId = input.channel_id ?? current.channel_id;
    if (input.channel_id && input.channel_id !== current.channel_id) {
      const other = await this.deps.repo.findChannelBySlackId(input.channel_id);
      if (other) {
        throw new AppError('conflict', `Channel ${input.channel_id} is already a stats channel`, {
          fields: [{ field: 'channel_id', message: 'is already a stats channel' }],
        });
      }
    }
    await this.checkChannel(channelId, 'channel_id');
    const row = await this.deps.repo.updateChannel(
      id,
      {
        channel_id: input.channel_id,
        post_time: input.time,
        time_zone: input.time_zone,
        sections: input.sections,
      },
      (r) => ({ actor: actor.id, action: 'stats_channel.update', subject: r.id, details: toApiChannel(r) }),
    );
    if (!row) throw AppError.notFound('Stats channel', id);
    await this.catchUp(row);
    return row;
  }

  async deleteChannel(id: string, actor: Actor): Promise<void> {
    const row = await this.deps.repo.deleteChannel(id, (r) => ({
      actor: actor.id,
      action: 'stats_channel.delete',
      subject: r.id,
      details: toApiChannel(r),
    }));
    if (!row) throw AppError.notFound('Stats channel', id);
  }

  /** The Slack modal: adds the channel, or changes it when it is already a stats channel. */
  async saveChannel(input: CreateStatsChannelInput, actor: Actor): Promise<StatsChannelRow> {
    const existing = await this.deps.repo.findChannelBySlackId(input.channel_id);
    if (!existing) return this.createChannel(input, actor);
    return this.updateChannel(
      existing.id,
      { time: input.time, time_zone: input.time_zone, sections: input.sections },
      actor,
    );
  }

  /** Posts (or edits) today's stats in a channel now: the API's rerun. */
  async runChannelNow(id: string): Promise<{ local_date: string; job_id: string }> {
    const row = await this.getChannel(id);
    if (row.status === 'broken') {
      throw new AppError(
        'conflict',
        `Briefly cannot post to ${row.channel_id} (${row.broken_reason}); fix the channel and save it again (PATCH) first`,
      );
    }
    const localDate = this.today(row.time_zone);
    await this.deps.repo.ensureRun('channel', row.id, localDate);
    const jobId = `${statsPostJobId(row.channel_id, localDate)}-rerun-${this.deps.clock.now().getTime()}`;
    await this.enqueuePost(row, localDate, jobId);
    return { local_date: localDate, job_id: jobId };
  }

  private async checkChannel(channel: string, field: string): Promise<void> {
    if (!this.deps.channelCheck) return;
    const result = await this.deps.channelCheck(channel);
    if (!result.ok) throw AppError.validation([{ field, message: result.message }]);
  }

  /** A channel saved after its time today gets today's post now (a fixed broken channel included). */
  private async catchUp(row: StatsChannelRow): Promise<void> {
    if (row.status !== 'active') return;
    const localDate = this.today(row.time_zone);
    if (
      this.deps.clock.now().getTime() < localTimeToInstant(localDate, row.post_time, row.time_zone).getTime()
    ) {
      return;
    }
    // Posted already today: the same key edits it (new zone or sections); else it is posted now.
    await this.deps.repo.ensureRun('channel', row.id, localDate);
    await this.enqueuePost(
      row,
      localDate,
      `${statsPostJobId(row.channel_id, localDate)}-save-${this.deps.clock.now().getTime()}`,
    );
  }

  // --- recipients

  listRecipients() {
    return this.deps.repo.listRecipients();
  }

  async getRecipient(id: string): Promise<StatsRecipientRow> {
    const row = await this.deps.repo.getRecipient(id);
    if (!row) throw AppError.notFound('Stats recipient', id);
    return row;
  }

  async createRecipient(input: CreateStatsRecipientInput, actor: Actor): Promise<StatsRecipientRow> {
    const row = await this.deps.repo.createRecipient(
      {
        email: input.email,
        name: input.name,
        send_time: input.time,
        time_zone: input.time_zone,
        sections: input.sections,
      },
      actor.id,
      (r) => ({
        actor: actor.id,
        action: 'stats_recipient.create',
        subject: r.id,
        details: { email: r.email },
      }),
    );
    if (!row) {
      throw new AppError('conflict', `${input.email} already gets the daily stats`, {
        fields: [{ field: 'email', message: 'already gets the daily stats' }],
      });
    }
    return row;
  }

  async updateRecipient(
    id: string,
    input: UpdateStatsRecipientInput,
    actor: Actor,
  ): Promise<StatsRecipientRow> {
    const row = await this.deps.repo.updateRecipient(
      id,
      {
        email: input.email,
        name: input.name,
        send_time: input.time,
        time_zone: input.time_zone,
        sections: input.sections,
      },
      (r) => ({
        actor: actor.id,
        action: 'stats_recipient.update',
        subject: r.id,
        details: { email: r.email },
      }),
    );
    if (row === 'conflict') {
      throw new AppError('conflict', `${input.email} already gets the daily stats`, {
        fields: [{ field: 'email', message: 'already gets the daily stats' }],
      });
    }
    if (!row) throw AppError.notFound('Stats recipient', id);
    return row;
  }

  async deleteRecipient(id: string, actor: Actor): Promise<void> {
    const row = await this.deps.repo.deleteRecipient(id, (r) => ({
      actor: actor.id,
      action: 'stats_recipient.delete',
      subject: r.id,
      details: { email: r.email },
    }));
    if (!row) throw AppError.notFound('Stats recipient', id);
  }

  // --- scheduling

  private today(zone: string): string {
    return DateTime.fromJSDate(this.deps.clock.now(), { zone }).toISODate() ?? '';
  }

  private due(time: string, zone: string): string | undefined {
    const localDate = this.today(zone);
    const at = localTimeToInstant(localDate, time, zone);
    return this.deps.clock.now().getTime() >= at.getTime() ? localDate : undefined;
  }

  private isStuck(run: StatsRunRow | undefined): boolean {
    if (!run) return true;
    if (run.status !== 'pending') return false;
    return this.deps.clock.now().getTime() - run.updated_at.getTime() > STUCK_AFTER_MS;
  }

  /**
   * Every minute (schedule `stats-tick`): each active channel and each recipient whose local time
   * has passed today and whose run for today is not done gets its job. The run row (unique per
   * target and local date) and the deterministic job id make a second scheduler, or the next tick,
   * enqueue nothing new; a run whose job Redis lost is enqueued again after a few minutes.
   * A service that was down at 09:00 catches up at its next tick the same local day.
   */
  async tick(): Promise<{ posts: number; emails: number }> {
    await this.adoptSettingsChannel();
    const channels = (await this.deps.repo.listChannels()).filter((c) => c.status === 'active');
    const dueChannels = channels.flatMap((c) => {
      const localDate = this.due(c.post_time, c.time_zone);
      return localDate ? [{ row: c, localDate }] : [];
    });
    const channelRuns = await this.deps.repo.runsFor(
      'channel',
      dueChannels.map((d) => ({ targetId: d.row.id, localDate: d.localDate })),
    );
    let posts = 0;
    for (const { row, localDate } of dueChannels) {
      const run = channelRuns.find((r) => r.target_id === row.id && r.local_date === localDate);
      if (!this.isStuck(run)) continue;
      await this.deps.repo.ensureRun('channel', row.id, localDate);
      await this.enqueuePost(row, localDate, statsPostJobId(row.channel_id, localDate));
      posts++;
    }

    const recipients = await this.deps.repo.listRecipients();
    const dueRecipients = recipients.flatMap((r) => {
      const localDate = this.due(r.send_time, r.time_zone);
      return localDate ? [{ row: r, localDate }] : [];
    });
    const emailRuns = await this.deps.repo.runsFor(
      'email',
      dueRecipients.map((d) => ({ targetId: d.row.id, localDate: d.localDate })),
    );
    let emails = 0;
    for (const { row, localDate } of dueRecipients) {
      const run = emailRuns.find((r) => r.target_id === row.id && r.local_date === localDate);
      if (!this.isStuck(run)) continue;
      await this.deps.repo.ensureRun('email', row.id, localDate);
      await this.deps.queues
        .get('stats')
        .add(
          STATS_EMAIL_JOB,
          { recipient_id: row.id, local_date: localDate },
          { jobId: statsEmailJobId(row.id, localDate) },
        );
      emails++;
    }
    return { posts, emails };
  }

  /**
   * The settings modal's single "Stats channel" (`stats_channel`) becomes a stats channel with the
   * defaults (09:00 UTC, every section); its time, zone and sections are then changed like any other.
   */
  private async adoptSettingsChannel(): Promise<void> {
    const channel = await this.deps.settings.get('stats_channel');
    if (!channel || !/^[CG]/.test(channel)) return;
    if (await this.deps.repo.findChannelBySlackId(channel)) return;
    await this.deps.repo.createChannel(
      { channel_id: channel, post_time: '09:00', time_zone: 'UTC', sections: [...STATS_SECTIONS] },
      'settings',
      (r) => ({ actor: 'system', action: 'stats_channel.create', subject: r.id, details: toApiChannel(r) }),
    );
  }

  private async enqueuePost(row: StatsChannelRow, localDate: string, jobId: string): Promise<void> {
    await this.deps.queues
      .get('stats')
      .add(STATS_POST_JOB, { channel_row_id: row.id, local_date: localDate }, { jobId });
  }

  // --- jobs

  /**
   * The `post` job: the previous local day's numbers into the channel, by the key of the channel and
   * date, so a rerun (or a second scheduler's job) edits the same message instead of posting again.
   * Then the chart job, which waits for the post's ts to thread under it.
   */
  async runPost(channelRowId: string, localDate: string): Promise<Record<string, unknown>> {
    const row = await this.deps.repo.getChannel(channelRowId);
    if (!row) return { status: 'channel removed' };
    const run = await this.deps.repo.ensureRun('channel', row.id, localDate);
    if (row.status === 'broken') {
      await this.deps.repo.updateRun(run.id, {
        status: 'skipped',
        error: `channel broken: ${row.broken_reason}`,
      });
      return { status: 'channel broken' };
    }
    const report = await this.report(shiftDate(localDate, -1), row.time_zone, row.sections);
    const key = statsPostKey(row.channel_id, localDate);
    const ref = await this.deps.slackPosts.post(key, row.channel_id, statsPostMessage(report), {
      kind: 'stats',
    });
    const chartDone = run.chart_status === 'uploaded';
    await this.deps.repo.updateRun(run.id, {
      status: 'done',
      report: report as unknown as Record<string, unknown>,
      post_key: key,
      error: null,
      ...(chartDone ? {} : { chart_status: 'pending', chart_error: null }),
    });
    if (!chartDone) {
      await this.deps.queues
        .get('stats')
        .add(
          STATS_CHART_JOB,
          { channel_row_id: row.id, local_date: localDate },
          { jobId: `stats-chart-${row.channel_id}-${localDate}-r${ref.revision}`, ...CHART_JOB_OPTIONS },
        );
    }
    return { status: 'posted', key, revision: ref.revision };
  }

  /**
   * The `chart` job: once the day's post is in Slack, the 14-day chart goes into its thread (once
   * per day: a rerun keeps the uploaded one). A post Slack refused for the channel's sake marks the
   * channel broken and alerts once; an upload failure leaves the text post as it is.
   */
  async runChart(
    channelRowId: string,
    localDate: string,
    attempt: { made: number; max: number },
  ): Promise<Record<string, unknown>> {
    const row = await this.deps.repo.getChannel(channelRowId);
    if (!row) return { status: 'channel removed' };
    const run = await this.deps.repo.getRun('channel', row.id, localDate);
    if (!run?.post_key) return { status: 'no post' };
    if (run.chart_status === 'uploaded') return { status: 'already uploaded' };
    const post = await this.deps.slackPosts.find(run.post_key);
    const refused = channelError(post?.error ?? null);
    if (post && refused && (post.status === 'failed' || !post.ts || post.error?.startsWith('edit failed'))) {
      await this.broken(row, refused);
      await this.deps.repo.updateRun(run.id, {
        chart_status: 'skipped',
        error: `Slack refused the post: ${refused}`,
      });
      return { status: 'channel broken', error: refused };
    }
    if (!post || post.status === 'failed' || post.status === 'skipped') {
      await this.deps.repo.updateRun(run.id, {
        chart_status: 'skipped',
        chart_error: `post ${post?.status ?? 'missing'}`,
      });
      return { status: 'post not posted' };
    }
    if (!post.ts || !post.channelId) {
      if (attempt.made + 1 >= attempt.max) {
        await this.deps.repo.updateRun(run.id, {
          chart_status: 'skipped',
          chart_error: 'post never went out',
        });
        return { status: 'post never went out' };
      }
      throw new AppError('unavailable', 'the stats post is not in Slack yet; the chart waits for it');
    }
    if (!this.deps.uploader) {
      await this.deps.repo.updateRun(run.id, {
        chart_status: 'skipped',
        chart_error: 'Slack is not connected',
      });
      return { status: 'no uploader' };
    }
    const report = await this.report(shiftDate(localDate, -1), row.time_zone, []);
    try {
      const png = await this.chart(report);
      const { fileId } = await this.deps.uploader.upload({
        channelId: post.channelId,
        threadTs: post.ts,
        filename: `briefly-stats-${localDate}.png`,
        title: `Briefly stats, ${CHART_DAYS} days to ${report.localDate}`,
        altText: `Messages by status per day for the ${CHART_DAYS} days to ${report.localDate}`,
        comment: `Messages by status per day, last ${CHART_DAYS} days (${row.time_zone})`,
        content: png,
      });
      await this.deps.repo.updateRun(run.id, {
        chart_status: 'uploaded',
        chart_file_id: fileId,
        chart_error: null,
      });
      return { status: 'uploaded', file_id: fileId };
    } catch (error) {
      const message = (error as Error).message;
      const final = attempt.made + 1 >= attempt.max;
      if (error instanceof SlackCallError && CHANNEL_ERRORS.has(error.slackCode)) {
        await this.broken(row, error.slackCode);
        await this.deps.repo.updateRun(run.id, { chart_status: 'failed', chart_error: message });
        return { status: 'channel broken', error: error.slackCode };
      }
      const permanent = error instanceof AppError && !error.retryable;
      await this.deps.repo.updateRun(run.id, {
        chart_status: final || permanent ? 'failed' : 'pending',
        chart_error: message,
      });
      this.deps.logger.warn('stats chart upload failed; the text post stands', {
        channel: row.channel_id,
        local_date: localDate,
        attempt: attempt.made + 1,
        error: message,
      });
      throw error;
    }
  }

  /** Once per episode (markBroken only succeeds on the change): one alert, then no more tries. */
  private async broken(row: StatsChannelRow, error: string): Promise<void> {
    const at = this.deps.clock.now();
    const changed = await this.deps.repo.markBroken(row.id, error, at);
    if (!changed) return;
    this.deps.logger.warn('stats channel is broken: paused until it is saved again', {
      channel: row.channel_id,
      error,
    });
    await this.deps.slackPosts.post(
      `stats-channel-problem:${row.id}:${at.getTime()}`,
      'alert_channel',
      statsChannelProblemAlert({ channelId: row.channel_id, error }),
      { kind: 'stats-channel-problem' },
    );
  }

  /**
   * The `email` job: the same numbers and chart (inline, cid:stats-chart) through the delivery
   * layer, as a `messages` row of kind `stats` whose id is derived from recipient and date, so a
   * retried or duplicated job stores (and sends) one message.
   */
  async runEmail(recipientId: string, localDate: string): Promise<Record<string, unknown>> {
    const recipient = await this.deps.repo.getRecipient(recipientId);
    if (!recipient) return { status: 'recipient removed' };
    const run = await this.deps.repo.ensureRun('email', recipient.id, localDate);
    const report = await this.report(shiftDate(localDate, -1), recipient.time_zone, recipient.sections);
    let png: Buffer | undefined;
    try {
      png = await this.chart(report);
    } catch (error) {
      this.deps.logger.warn('stats chart could not be drawn; the email goes without it', {
        error: (error as Error).message,
      });
    }
    const email = await renderStatsEmail({ report, chartSrc: png ? `cid:${STATS_CHART_CID}` : undefined });
    const sent = await this.deps.sendEmail({
      id: derivedUuid(`stats-email:${recipient.id}:${localDate}`),
      kind: STATS_MESSAGE_KIND,
      to: [{ email: recipient.email, ...(recipient.name ? { name: recipient.name } : {}) }],
      subject: email.subject,
      html: email.html,
      text: email.text,
      tags: ['stats'],
      metadata: { stats_recipient_id: recipient.id, local_date: localDate, report_date: report.localDate },
      ...(png
        ? {
            attachments: [
              {
                filename: 'stats-chart.png',
                contentType: 'image/png',
                disposition: 'inline' as const,
                contentId: STATS_CHART_CID,
                content: png,
              },
            ],
          }
        : {}),
    });
    await this.deps.repo.updateRun(run.id, {
      status: 'done',
      report: report as unknown as Record<string, unknown>,
      message_id: sent.id,
      error: null,
    });
    return { status: 'handed to delivery', message_id: sent.id };
  }
}
