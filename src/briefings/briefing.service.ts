import { createHash } from 'node:crypto';
import { renderBriefingEmail } from '../../emails/briefing.tsx';
import type { AlertService } from '../alerts/alert.service.ts';
import type { CalendarRepository, MirrorEvent } from '../calendars/calendar.repository.ts';
import type { CalendarSyncService, SyncOutcome } from '../calendars/calendar-sync.service.ts';
import type { PersonProfile } from '../db/schema.ts';
import type { DeliveryService } from '../delivery/delivery.service.ts';
import type { CachedEnrichmentProvider } from '../enrichment/cached.enrichment-provider.ts';
import type { ParticipantRepository } from '../enrichment/participant.repository.ts';
import { AppError } from '../errors.ts';
import type { Queues } from '../jobs/queues.ts';
import type { Logger } from '../logging/logger.ts';
import type { Clock } from '../shared/time.ts';
import type { BriefingAppointment, BriefingModel } from './briefing.model.ts';
import type { BriefingRepository, BriefingRow, DueRep } from './briefing.repository.ts';
import { briefingMeetings, buildBriefing, companyDomainsFor, externalEmails } from './briefing-builder.ts';
import { type BriefingTimes, briefingTimes, localDateAt } from './briefing-schedule.ts';

export const PREPARE_JOB = 'prepare';
export const FINALIZE_JOB = 'finalize';
export const ENRICH_JOB = 'enrich';

/** BullMQ custom job ids must not contain ":", hence "-" where the design says briefing:<rep>:<date>. */
export const prepareJobId = (b: { rep_id: string; local_date: string }) =>
  `briefing-${b.rep_id}-${b.local_date}`;
export const finalizeJobId = (b: { rep_id: string; local_date: string }) =>
  `briefing-final-${b.rep_id}-${b.local_date}`;
export const enrichJobId = (email: string) => `enrich-${createHash('sha1').update(email).digest('hex')}`;

export interface BriefingRep {
  id: string;
  name: string;
  email: string;
  timeZone: string;
  prepTime: string;
  briefingTime: string;
  slackUserId: string | null;
  slackDm: boolean;
  emptyBriefings: boolean;
}

export interface BriefingServiceDeps {
  repo: BriefingRepository;
  calendars: CalendarRepository;
  sync: CalendarSyncService;
  participants: ParticipantRepository;
  enrichment: CachedEnrichmentProvider;
  delivery: DeliveryService;
  queues: Queues;
  alerts: AlertService;
  clock: Clock;
  logger: Logger;
  loadRep(id: string): Promise<BriefingRep | undefined>;
  /** The rep's booked appointments in a window (absent: briefings show none). */
  appointments?: (repId: string, window: { start: Date; end: Date }) => Promise<BriefingAppointment[]>;
  options: {
    companyDomains: readonly string[];
    refreshMinutes: number;
    cutoff: string;
    /** How long finalize waits for enrichment jobs still running (a briefing sent right away). */
    enrichWaitMs: number;
    /** Slack DM rendering; absent when Slack is not connected. */
    slackBlocks?: (model: BriefingModel) => { text: string; blocks: unknown[] };
  };
}

export type TickResult = { created: number; skipped: number; requeued: number };

/**
 * The briefing pipeline. The tick (every minute) creates the day's row once the rep's local
 * preparation time has passed and enqueues `prepare` (sync + enrichment jobs); `finalize` runs at
 * the refresh time before delivery (a second incremental sync), renders and hands the email to the
 * delivery layer with send_at = the delivery time. Late finalizes send at once until the cutoff,
 * then the briefing is recorded as skipped.
 */
export class BriefingService {
  constructor(private readonly deps: BriefingServiceDeps) {}

  private times(
    rep: Pick<BriefingRep, 'timeZone' | 'prepTime' | 'briefingTime'>,
    localDate: string,
  ): BriefingTimes {
    return briefingTimes(rep, localDate, {
      refreshMinutes: this.deps.options.refreshMinutes,
      cutoff: this.deps.options.cutoff,
    });
  }

  async tick(): Promise<TickResult> {
    const now = this.deps.clock.now();
    const result: TickResult = { created: 0, skipped: 0, requeued: 0 };
    let after: string | null = null;
    for (;;) {
      const page: DueRep[] = await this.deps.repo.repsPage(after, 1_000);
      if (page.length === 0) break;
      after = page[page.length - 1]?.id ?? null;
      const due = page
        .map((rep) => {
          const zoneRep = {
            timeZone: rep.time_zone,
            prepTime: rep.prep_time,
            briefingTime: rep.briefing_time,
          };
          return { rep, times: this.times(zoneRep, localDateAt(now, rep.time_zone)) };
        })
        .filter(({ times }) => times.prepareAt.getTime() <= now.getTime());
      const existing = await this.deps.repo.existing(
        due.map(({ rep, times }) => ({ repId: rep.id, localDate: times.localDate })),
      );
      for (const { rep, times } of due) {
        if (existing.has(`${rep.id}|${times.localDate}`)) continue;
        if (now.getTime() >= times.cutoffAt.getTime()) {
          const row = await this.deps.repo.create(
            rep.id,
            rep.time_zone,
            times,
            'skipped',
            `not prepared before the ${this.deps.options.cutoff} cutoff (the service was not running)`,
          );
          if (row) result.skipped++;
          continue;
        }
        const row = await this.deps.repo.create(rep.id, rep.time_zone, times);
        if (!row) continue;
        await this.enqueuePrepare(row);
        result.created++;
      }
      if (page.length < 1_000) break;
    }
    for (const row of await this.deps.repo.stalled(now, this.deps.options.refreshMinutes, 1_000)) {
      if (row.status === 'pending') await this.enqueuePrepare(row);
      else await this.enqueueFinalize(row, now);
      result.requeued++;
    }
    return result;
  }

  private async enqueuePrepare(row: BriefingRow): Promise<void> {
    await this.deps.queues
      .get('briefings')
      .add(PREPARE_JOB, { briefingId: row.id }, { jobId: prepareJobId(row), attempts: 5 });
  }

  private async enqueueFinalize(row: BriefingRow, now: Date): Promise<void> {
    const refreshAt = row.deliver_at.getTime() - this.deps.options.refreshMinutes * 60_000;
    await this.deps.queues
      .get('briefings')
      .add(
        FINALIZE_JOB,
        { briefingId: row.id },
        { jobId: finalizeJobId(row), delay: Math.max(0, refreshAt - now.getTime()), attempts: 5 },
      );
  }

  private async loadRep(repId: string): Promise<BriefingRep> {
    const rep = await this.deps.loadRep(repId);
    if (!rep) throw AppError.notFound('Rep', repId);
    return rep;
  }

  /** Syncs, then tells the caller whether the calendar can be used (a broken one cannot). */
  private async syncFor(rep: BriefingRep): Promise<SyncOutcome> {
    return this.deps.sync.sync({ id: rep.id, email: rep.email, timeZone: rep.timeZone });
  }

  /** External attendees the cache does not know yet go to the (rate-limited) enrichment queue. */
  private async enqueueLookups(emails: string[]): Promise<void> {
    if (emails.length === 0) return;
    await this.deps.queues.get('enrichment').addBulk(
      emails.map((email) => ({
        name: ENRICH_JOB,
        data: { email },
        opts: { jobId: enrichJobId(email), attempts: 4 },
      })),
    );
  }

  /** The external attendees of a window's meetings, and which of them the cache knows. */
  private async participantsOf(rep: BriefingRep, events: MirrorEvent[], window: { start: Date; end: Date }) {
    const meetings = briefingMeetings(events, window);
    const domains = companyDomainsFor(rep.email, this.deps.options.companyDomains);
    const emails = externalEmails(meetings, rep.email, domains);
    const fresh = await this.deps.participants.getFresh(emails, this.deps.clock.now());
    return { meetings, domains, emails, fresh, missing: emails.filter((email) => !fresh.has(email)) };
  }

  /** The `prepare` job: first sync of the day and enrichment of who the rep will meet. */
  async prepare(briefingId: string): Promise<{ status: string }> {
    const row = await this.deps.repo.get(briefingId);
    if (row?.status !== 'pending') return { status: row?.status ?? 'missing' };
    const rep = await this.loadRep(row.rep_id);
    const outcome = await this.syncFor(rep);
    if (outcome.status === 'synced') {
      const window = { start: row.deliver_at, end: new Date(row.deliver_at.getTime() + 86_400_000) };
      const events = await this.deps.calendars.eventsBetween(rep.id, window.start, window.end);
      await this.enqueueLookups((await this.participantsOf(rep, events, window)).missing);
    }
    // A missing or broken calendar still gets a briefing attempt at finalize time: the rep is told there.
    await this.deps.repo.transition(row.id, ['pending'], 'prepared', { prepared: true });
    await this.enqueueFinalize(row, this.deps.clock.now());
    return { status: 'prepared' };
  }

  /**
   * Builds the model for a window from the mirror and the enrichment cache. Attendees not cached
   * yet are queued for lookup (when `enqueue`) and waited for up to `waitMs` while their lookups run.
   */
  async build(
    rep: BriefingRep,
    localDate: string,
    window: { start: Date; end: Date },
    waitMs: number,
    enqueue = true,
  ): Promise<BriefingModel> {
    const dayStart = new Date(`${localDate}T00:00:00Z`);
    const from = new Date(Math.min(window.start.getTime(), dayStart.getTime()));
    const events = await this.deps.calendars.eventsBetween(rep.id, from, window.end);
    const { meetings, domains, emails, missing, ...known } = await this.participantsOf(rep, events, window);
    let fresh = known.fresh;
    if (enqueue) await this.enqueueLookups(missing);
    const deadline = Date.now() + waitMs;
    while (
      fresh.size < emails.length &&
      Date.now() < deadline &&
      (await this.lookupsPending(emails, fresh))
    ) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      fresh = await this.deps.participants.getFresh(emails, this.deps.clock.now());
    }
    const profiles = new Map<string, PersonProfile | null>();
    for (const [email, row] of fresh) profiles.set(email, row.status === 'found' ? row.profile : null);
    const quota = await this.deps.enrichment.isQuotaExhausted();
    const allEmails = [...new Set(meetings.flatMap((m) => m.attendees.map((a) => a.email.toLowerCase())))];
    const appointments = this.deps.appointments ? await this.deps.appointments(rep.id, window) : [];
    const model = buildBriefing({
      rep: { name: rep.name, email: rep.email },
      timeZone: rep.timeZone,
      localDate,
      window,
      events,
      companyDomains: domains,
      profiles,
      metBefore: await this.deps.calendars.metBefore(rep.id, allEmails, window.start),
      enrichmentNote:
        quota && fresh.size < emails.length
          ? 'Some people could not be looked up today (the enrichment quota is used up); they show what the calendar says.'
          : undefined,
    });
    return appointments.length > 0 ? { ...model, appointments } : model;
  }

  private async lookupsPending(emails: string[], fresh: Map<string, unknown>): Promise<boolean> {
    const queue = this.deps.queues.get('enrichment');
    for (const email of emails) {
      if (fresh.has(email)) continue;
      const job = await queue.getJob(enrichJobId(email));
      if (job && !(await job.isCompleted()) && !(await job.isFailed())) return true;
    }
    return false;
  }

  /** The `finalize` job: last-minute sync, render, hand to delivery (or skip past the cutoff). */
  async finalize(briefingId: string): Promise<{ status: string; messageId?: string }> {
    const row = await this.deps.repo.get(briefingId);
    if (row?.status !== 'prepared') return { status: row?.status ?? 'missing' };
    const now = this.deps.clock.now();
    if (now.getTime() >= row.cutoff_at.getTime()) {
      await this.deps.repo.transition(row.id, ['prepared'], 'skipped', {
        reason: `not delivered before the ${this.deps.options.cutoff} cutoff`,
      });
      return { status: 'skipped' };
    }
    const rep = await this.loadRep(row.rep_id);
    // Back after the delivery time (downtime, a slow sync): send at once rather than "in the past".
    const sendAt = new Date(Math.max(row.deliver_at.getTime(), now.getTime()));
    const window = { start: row.deliver_at, end: new Date(row.deliver_at.getTime() + 86_400_000) };
    return this.deliver(rep, row, window, sendAt);
  }

  private async deliver(
    rep: BriefingRep,
    row: BriefingRow,
    window: { start: Date; end: Date },
    sendAt: Date,
  ): Promise<{ status: string; messageId?: string }> {
    const outcome = await this.syncFor(rep);
    const model = await this.build(
      rep,
      row.local_date,
      window,
      this.deps.options.enrichWaitMs,
      outcome.status === 'synced',
    );
    const empty = model.meetings.length === 0 && model.allDay.length === 0 && !model.appointments?.length;
    if (outcome.status !== 'synced' && empty) {
      const reason =
        outcome.status === 'not_connected'
          ? 'no calendar connected (/briefing connect)'
          : `calendar connection broken: ${outcome.reason}`;
      await this.deps.repo.transition(row.id, ['prepared', 'pending'], 'failed', { reason, content: model });
      return { status: 'failed' };
    }
    if (empty && !rep.emptyBriefings) {
      await this.deps.repo.transition(row.id, ['prepared', 'pending'], 'empty', {
        content: model,
        meetingCount: 0,
        reason: 'no meetings (empty briefings are off)',
      });
      return { status: 'empty' };
    }
    const messageId = await this.deps.repo.reserveMessageId(row.id);
    await this.sendEmail(rep, model, { id: messageId, sendAt, briefingId: row.id });
    await this.deps.repo.transition(row.id, ['prepared', 'pending'], 'scheduled', {
      content: model,
      meetingCount: model.meetings.length,
      reason: null,
    });
    await this.postDm(rep, model, sendAt);
    return { status: 'scheduled', messageId };
  }

  /** Renders the briefing and hands it to the delivery layer (high priority: it is time-bound). */
  private async sendEmail(
    rep: BriefingRep,
    model: BriefingModel,
    options: { id?: string; sendAt: Date; briefingId: string; onDemand?: boolean },
  ): Promise<{ id: string }> {
    const email = await renderBriefingEmail(model);
    return this.deps.delivery.sendInternal({
      id: options.id,
      kind: 'briefing',
      to: [{ email: rep.email, name: rep.name }],
      subject: email.subject,
      html: email.html,
      text: email.text,
      priority: 'high',
      sendAt: options.sendAt,
      tags: options.onDemand ? ['briefing', 'on-demand'] : ['briefing'],
      metadata: {
        briefing_id: options.briefingId,
        rep_id: rep.id,
        local_date: model.localDate,
        ...(options.onDemand ? { on_demand: true } : {}),
      },
    });
  }

  /** The Slack DM goes out with the email, at the delivery time (the slack queue delays it). */
  private async postDm(rep: BriefingRep, model: BriefingModel, at: Date): Promise<void> {
    const render = this.deps.options.slackBlocks;
    if (!render || !rep.slackDm || !rep.slackUserId) return;
    const delayMs = Math.max(0, at.getTime() - this.deps.clock.now().getTime());
    await this.deps.alerts.post('briefing-dm', render(model), rep.slackUserId, { delayMs });
  }

  /** `/briefing` and the manager preview: today's briefing, built now from the mirror (not sent). */
  async preview(repId: string): Promise<BriefingModel> {
    const rep = await this.loadRep(repId);
    const now = this.deps.clock.now();
    const localDate = localDateAt(now, rep.timeZone);
    await this.syncFor(rep).catch((error: Error) =>
      this.deps.logger.warn('preview: calendar sync failed, showing the mirror', {
        rep_id: rep.id,
        error: error.message,
      }),
    );
    return this.build(rep, localDate, { start: now, end: new Date(now.getTime() + 86_400_000) }, 0);
  }

  /**
   * `/briefing send` and `POST /v1/reps/{id}/briefings/send`: today's briefing goes out now. If
   * today's is not sent yet it is this one (so 08:00 does not send it again); if it was, a copy.
   */
  async sendNow(repId: string): Promise<{ status: string; messageId?: string; briefingId: string }> {
    const rep = await this.loadRep(repId);
    const now = this.deps.clock.now();
    const localDate = localDateAt(now, rep.timeZone);
    const times = this.times(rep, localDate);
    const window = { start: now, end: new Date(now.getTime() + 86_400_000) };
    await this.deps.repo.create(rep.id, rep.timeZone, times);
    const row = await this.deps.repo.forDate(rep.id, localDate);
    if (!row) throw new AppError('internal', 'briefing row vanished');
    if (row.status === 'pending' || row.status === 'prepared') {
      const result = await this.deliver({ ...rep, emptyBriefings: true }, row, window, now);
      return { ...result, briefingId: row.id };
    }
    const model = await this.build(rep, localDate, window, this.deps.options.enrichWaitMs);
    const { id } = await this.sendEmail(rep, model, { sendAt: now, briefingId: row.id, onDemand: true });
    return { status: 'scheduled', messageId: id, briefingId: row.id };
  }

  /** A job that will not be retried again failed: recorded on the row and alerted, never silently dropped. */
  async recordFailure(briefingId: string, error: Error): Promise<void> {
    const row = await this.deps.repo.get(briefingId);
    if (!row) return;
    const moved = await this.deps.repo.transition(row.id, ['pending', 'prepared'], 'failed', {
      reason: error.message.slice(0, 500),
    });
    if (!moved) return;
    await this.deps.alerts.post('briefing-failed', {
      text: `A briefing failed: rep ${row.rep_id}, ${row.local_date}: ${error.message.slice(0, 300)}`,
      blocks: [
        {
          type: 'section',
          text: {
            type: 'mrkdwn',
            text: `:warning: *Briefing failed* for rep \`${row.rep_id}\` on ${row.local_date}\n${error.message.slice(0, 500)}`,
          },
        },
      ],
    });
  }

  async list(repId: string, limit = 30, before?: string) {
    await this.loadRep(repId);
    return this.deps.repo.list(repId, limit, before);
  }
}
