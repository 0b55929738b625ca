import { AppError } from '../errors.ts';
import type { Logger } from '../logging/logger.ts';
import { isInsideWindow, type LocalWindow } from '../shared/local-window.ts';
import type { Clock } from '../shared/time.ts';
import {
  type MailoutRepository,
  type MailoutRow,
  toMailout,
  toMailoutView,
  toMessageView,
} from './mailout.repository.ts';
import type { CreateMailoutInput, MailoutView, UpdateMailoutInput } from './mailout.schemas.ts';
import type { MailoutEngine } from './mailout-engine.ts';
import { assertTransition, EDITABLE, LIVE, type MailoutStatus, TERMINAL } from './mailout-state.ts';

const AUTO_APPROVED = 'auto: the workspace has no manager';

/**
 * Mailout use cases for the REST API and (next issue) Slack: creation, edits, the approval flow,
 * pause/resume/cancel/delete, previews and statistics. Sending itself is the engine's.
 */
export class MailoutService {
  constructor(
    private readonly repo: MailoutRepository,
    private readonly engine: MailoutEngine,
    private readonly clock: Clock,
    private readonly logger: Logger,
  ) {}

  private async load(id: number): Promise<MailoutRow> {
    const row = await this.repo.get(id);
    if (!row || row.deleted_at) throw AppError.notFound('Mailout', String(id));
    return row;
  }

  private async change(
    row: MailoutRow,
    to: MailoutStatus,
    action: string,
    actor: string,
    changes: Record<string, unknown> = {},
    options: { version?: number } = {},
  ): Promise<MailoutRow> {
    assertTransition(row.status, to, action);
    const updated = await this.repo.update(Number(row.id), [row.status], { status: to, ...changes }, options);
    if (!updated) {
      throw new AppError(
        'conflict',
        `The mailout changed meanwhile (it is no longer ${row.status} v${row.version}); reload and retry`,
      );
    }
    await this.engine.afterStatusChange(updated, row.status, to, actor);
    return updated;
  }

  /** One INSERT in the final state (draft, pending_approval, or scheduled without managers): answers at once. */
  async create(input: CreateMailoutInput, actor: string): Promise<MailoutView> {
    const autoApproved = input.submit && !(await this.repo.hasManagers());
    const status: MailoutStatus = !input.submit ? 'draft' : autoApproved ? 'scheduled' : 'pending_approval';
    const row = await this.repo.insert({
      name: input.name,
      text: input.text,
      startsAt: input.starts_at,
      endsAt: input.ends_at,
      operatorCodes: input.filter?.operator_codes ?? [],
      tags: input.filter?.tags ?? [],
      window: input.window ?? null,
      createdBy: input.created_by ?? actor,
      status,
      ...(autoApproved ? { approvedBy: AUTO_APPROVED, approvedAt: this.clock.now() } : {}),
    });
    await this.engine.afterStatusChange(row, 'draft', status, actor, 'created');
    if (autoApproved) await this.engine.scheduleStart(row);
    return toMailoutView(row);
  }

  /** draft/rejected -> pending_approval, or straight to scheduled when the workspace has no manager. */
  async submit(id: number, actor: string): Promise<MailoutView> {
    return toMailoutView(await this.submitRow(await this.load(id), actor));
  }

  private async submitRow(row: MailoutRow, actor: string): Promise<MailoutRow> {
    if (await this.repo.hasManagers()) return this.change(row, 'pending_approval', 'submit', actor);
    const scheduled = await this.change(row, 'scheduled', 'submit', actor, {
      approved_version: row.version,
      approved_by: AUTO_APPROVED,
      approved_at: this.clock.now(),
    });
    await this.engine.scheduleStart(scheduled);
    return scheduled;
  }

  /**
   * The one answer to "is this Slack user (or rep id) a mailout manager": chosen in /briefly settings,
   * or a rep whose role is manager or admin. REST, Slack and the admin web ask here.
   */
  async isManager(actor: string): Promise<boolean> {
    return this.repo.isManager(actor);
  }

  /** Whether `actor` wrote this mailout (the same Slack user, or the same rep by id or Slack user). */
  private async isAuthor(row: MailoutRow, actor: string): Promise<boolean> {
    if (row.created_by === actor) return true;
    const [author, who] = await Promise.all([this.repo.findRep(row.created_by), this.repo.findRep(actor)]);
    return author !== undefined && who !== undefined && author.id === who.id;
  }

  /**
   * What every decision (approve, reject, edit-and-approve) checks first, in this order: the
   * mailout is pending approval, the decision is about its current version, the actor is a
   * manager, and not its author. Throws the AppError to show; returns the row otherwise.
   */
  async checkDecision(id: number, actor: string, version: number | undefined, field = 'approved_by') {
    const row = await this.load(id);
    if (row.status !== 'pending_approval') {
      throw new AppError('conflict', `Cannot decide on a mailout that is ${row.status.replace('_', ' ')}`);
    }
    if (version !== undefined && version !== row.version) {
      throw new AppError(
        'conflict',
        `Version ${version} is not the current version (${row.version}): the mailout changed since; review it again`,
        { fields: [{ field: 'version', message: `is ${version}, the mailout is at ${row.version}` }] },
      );
    }
    if (!(await this.isManager(actor))) {
      throw new AppError('forbidden', `${actor} is not a manager: only managers approve or reject mailouts`, {
        fields: [{ field, message: 'must be the Slack user id or rep id of a manager' }],
      });
    }
    if (await this.isAuthor(row, actor)) {
      throw new AppError('forbidden', 'Nobody decides on their own mailout: ask another manager', {
        fields: [{ field, message: 'is the author of this mailout' }],
      });
    }
    return row;
  }

  /**
   * A manager approves one version. Refused when the approver is not a manager, approves their own
   * mailout, or the mailout changed since that version (the approver saw something else). Two
   * managers at once: the guarded UPDATE lets exactly one through, the other gets a conflict.
   */
  async approve(id: number, body: { approved_by: string; version: number }): Promise<MailoutView> {
    const row = await this.checkDecision(id, body.approved_by, body.version);
    if (row.ends_at.getTime() <= this.clock.now().getTime()) {
      throw new AppError('conflict', 'The mailout ends in the past; change ends_at before approving');
    }
    const scheduled = await this.change(
      row,
      'scheduled',
      'approve',
      body.approved_by,
      { approved_version: row.version, approved_by: body.approved_by, approved_at: this.clock.now() },
      { version: body.version },
    );
    await this.engine.scheduleStart(scheduled);
    return toMailoutView(scheduled);
  }

  /** A manager (not the author) rejects, with a reason; `version`, when given, must be the current one. */
  async reject(
    id: number,
    body: { rejected_by: string; reason?: string; version?: number },
  ): Promise<MailoutView> {
    const row = await this.checkDecision(id, body.rejected_by, body.version, 'rejected_by');
    return toMailoutView(
      await this.change(
        row,
        'rejected',
        'reject',
        body.rejected_by,
        { rejected_by: body.rejected_by, rejection_reason: body.reason ?? null },
        { version: row.version },
      ),
    );
  }

  /**
   * Pause, resume and cancel as a person (Slack, admin web): only managers and the mailout's author.
   * The REST API (an API key with the mailouts scope) is trusted and passes no check.
   */
  async assertMayControl(id: number, actor: string): Promise<void> {
    const row = await this.load(id);
    if ((await this.isManager(actor)) || (await this.isAuthor(row, actor))) return;
    throw new AppError(
      'forbidden',
      'Only managers and the author of a mailout can pause, resume or cancel it',
    );
  }

  async pause(id: number, actor: string): Promise<MailoutView> {
    return toMailoutView(await this.change(await this.load(id), 'paused', 'pause', actor));
  }

  async resume(id: number, actor: string): Promise<MailoutView> {
    const row = await this.change(await this.load(id), 'running', 'resume', actor);
    await this.engine.planAll(toMailout(row));
    return toMailoutView(row);
  }

  async cancel(id: number, actor: string): Promise<MailoutView> {
    const row = await this.change(await this.load(id), 'cancelled', 'cancel', actor, {
      ended_at: this.clock.now(),
    });
    await this.engine.cancelMessages(Number(row.id), 'mailout cancelled');
    return toMailoutView(row);
  }

  /** Stops sending at once and hides the mailout; its message records stay for audit until retention. */
  async remove(id: number, actor: string): Promise<void> {
    const row = await this.load(id);
    const terminal = TERMINAL.includes(row.status) || row.status === 'rejected';
    const updated = await this.repo.update(Number(row.id), [row.status], {
      deleted_at: this.clock.now(),
      ...(terminal ? {} : { status: 'cancelled', ended_at: this.clock.now() }),
    });
    if (!updated) throw new AppError('conflict', 'The mailout changed meanwhile; retry');
    await this.engine.afterStatusChange(updated, row.status, updated.status, actor, 'deleted');
    if (!terminal) await this.engine.cancelMessages(id, 'mailout deleted');
  }

  /**
   * Before sending starts, text/filter/schedule edits bump the version and need approval again;
   * while running or paused only ends_at and the window may change (the engine re-plans).
   */
  async update(id: number, input: UpdateMailoutInput, actor: string): Promise<MailoutView> {
    const row = await this.load(id);
    const changes: Record<string, unknown> = {};
    if (input.name !== undefined) changes.name = input.name;
    if (input.text !== undefined) changes.text = input.text;
    if (input.starts_at !== undefined) changes.starts_at = input.starts_at;
    if (input.ends_at !== undefined) changes.ends_at = input.ends_at;
    if (input.filter !== undefined) {
      changes.operator_codes = input.filter.operator_codes;
      changes.tags = input.filter.tags;
    }
    if (input.window !== undefined) {
      changes.window_from = input.window?.from ?? null;
      changes.window_to = input.window?.to ?? null;
    }
    const startsAt = (changes.starts_at as Date | undefined) ?? row.starts_at;
    const endsAt = (changes.ends_at as Date | undefined) ?? row.ends_at;
    if (endsAt.getTime() <= startsAt.getTime()) {
      throw AppError.validation([{ field: 'ends_at', message: 'must be after starts_at' }]);
    }
    if (Object.keys(changes).length === 0)
      throw AppError.validation([{ field: '(body)', message: 'changes nothing' }]);
    if (LIVE.includes(row.status)) {
      const forbidden = Object.keys(changes).filter(
        (k) => !['ends_at', 'window_from', 'window_to'].includes(k),
      );
      if (forbidden.length > 0) {
        throw new AppError('conflict', `While ${row.status} only ends_at and window may change`, {
          fields: forbidden.map((field) => ({ field, message: `cannot change while ${row.status}` })),
        });
      }
      if (endsAt.getTime() <= this.clock.now().getTime()) {
        throw AppError.validation([{ field: 'ends_at', message: 'must be in the future' }]);
      }
      const updated = await this.repo.update(id, [row.status], changes, {
        version: input.version,
        bumpVersion: true,
      });
      if (!updated)
        throw new AppError('conflict', 'The mailout changed meanwhile (status or version); reload and retry');
      await this.engine.afterStatusChange(
        updated,
        row.status,
        updated.status,
        input.actor ?? actor,
        'edited while live',
      );
      await this.engine.planAll(toMailout(updated));
      return toMailoutView(updated);
    }
    if (!EDITABLE.includes(row.status))
      throw new AppError('conflict', `A ${row.status} mailout cannot be changed`);
    const needsApproval = row.status !== 'draft';
    const managers = needsApproval ? await this.repo.hasManagers() : false;
    const to: MailoutStatus = !needsApproval ? 'draft' : managers ? 'pending_approval' : 'scheduled';
    const updated = await this.repo.update(
      id,
      [row.status],
      {
        ...changes,
        status: to,
        ...(to === 'pending_approval'
          ? { approved_version: null, approved_by: null, approved_at: null }
          : {}),
        ...(to === 'scheduled' ? { approved_by: AUTO_APPROVED, approved_at: this.clock.now() } : {}),
      },
      { version: input.version, bumpVersion: true },
    );
    if (!updated)
      throw new AppError('conflict', 'The mailout changed meanwhile (status or version); reload and retry');
    let result = updated;
    if (to === 'scheduled') {
      result = (await this.repo.update(id, ['scheduled'], { approved_version: updated.version })) ?? updated;
      await this.engine.scheduleStart(result);
    }
    await this.engine.afterStatusChange(
      result,
      row.status,
      to,
      input.actor ?? actor,
      `edited to v${result.version}`,
    );
    return toMailoutView(result);
  }

  /** The stored row (Slack cards read fields the API view does not carry). */
  async row(id: number): Promise<MailoutRow> {
    return this.load(id);
  }

  async get(id: number): Promise<MailoutView> {
    return toMailoutView(await this.load(id));
  }

  async list(query: { status?: MailoutStatus; limit: number; cursor?: string }) {
    const rows = await this.repo.list({
      status: query.status,
      limit: query.limit + 1,
      before: query.cursor ? Number(query.cursor) : undefined,
    });
    const page = rows.slice(0, query.limit);
    const last = page[page.length - 1];
    return {
      mailouts: page.map(toMailoutView),
      next_cursor: rows.length > query.limit && last ? String(last.id) : null,
    };
  }

  /** Adds one customer to a scheduled or running mailout, under the same window and end rules. */
  async addMessage(id: number, customerId: number, actor: string) {
    const row = await this.load(id);
    if (row.status !== 'scheduled' && row.status !== 'running') {
      throw new AppError(
        'conflict',
        `Customers can be added to a scheduled or running mailout, not a ${row.status} one`,
      );
    }
    const { row: message, created } = await this.repo.addMessage(id, customerId);
    if (!message) throw AppError.notFound('Customer', String(customerId));
    this.logger.info('customer added to mailout', {
      mailout_id: id,
      message_id: Number(message.id),
      customer_id: customerId,
      actor,
      created,
    });
    if (created && row.status === 'running') await this.engine.planZone(toMailout(row), message.time_zone);
    return { created, message: toMessageView(message) };
  }

  async preview(filter: { operatorCodes: string[]; tags: string[] }, window: LocalWindow | null) {
    const zones = await this.repo.audience(filter);
    const now = this.clock.now();
    const byZone = zones.map((z) => ({
      time_zone: z.time_zone,
      count: z.count,
      in_window_now: isInsideWindow(now, z.time_zone, window),
    }));
    return {
      total: byZone.reduce((n, z) => n + z.count, 0),
      in_window_now: byZone.reduce((n, z) => n + (z.in_window_now ? z.count : 0), 0),
      by_time_zone: byZone,
    };
  }

  /** The audience of a filter in detail: a sample, by zone (with the window), by operator code. */
  async audienceDetail(filter: { operatorCodes: string[]; tags: string[] }, window: LocalWindow | null) {
    const [preview, detail] = await Promise.all([
      this.preview(filter, window),
      this.repo.audienceDetail(filter, 10),
    ]);
    return { ...preview, sample: detail.sample, by_operator_code: detail.byOperator };
  }

  /** Operator codes or tags with their customer counts, most customers first (the modal's selects). */
  async filterOptions(kind: 'operator_code' | 'tag', prefix: string, limit: number) {
    return this.repo.filterValues(kind, { prefix, limit });
  }

  async previewOf(id: number) {
    const row = await this.load(id);
    return this.preview({ operatorCodes: row.operator_codes, tags: row.tags }, toMailout(row).window);
  }

  async statsAll() {
    const rows = await this.repo.allCounts();
    return {
      mailouts: rows.map((r) => ({ id: Number(r.id), name: r.name, status: r.status, counts: r.counts })),
    };
  }

  /** Message counts by status for each of these mailouts (one query; mailouts without messages: {}). */
  async countsFor(ids: number[]): Promise<Map<number, Record<string, number>>> {
    return ids.length === 0 ? new Map() : this.repo.countsFor(ids);
  }

  async stats(id: number) {
    const row = await this.load(id);
    const s = await this.repo.stats(id);
    const group = (rows: { key: string; status: string; n: number }[]) => {
      const out: Record<string, Record<string, number>> = {};
      for (const r of rows) {
        out[r.key] ??= {};
        (out[r.key] as Record<string, number>)[r.status] = r.n;
      }
      return out;
    };
    const counts: Record<string, number> = {};
    for (const r of s.byZone) counts[r.status] = (counts[r.status] ?? 0) + r.n;
    const first = s.sent?.first ?? null;
    const last = s.sent?.last ?? null;
    const seconds = first && last ? (last.getTime() - first.getTime()) / 1000 : 0;
    return {
      id,
      status: row.status,
      total: Object.values(counts).reduce((a, b) => a + b, 0),
      counts,
      by_operator_code: group(s.byOperator),
      by_time_zone: group(s.byZone),
      by_hour_sent: s.byHour.map((h) => ({ hour: h.hour.toISOString(), sent: h.n })),
      errors: s.errors.map((e) => ({ reason: e.reason, count: e.n })),
      first_sent_at: first?.toISOString() ?? null,
      last_sent_at: last?.toISOString() ?? null,
      throughput_per_second:
        s.sent && s.sent.n > 0 ? Math.round((s.sent.n / Math.max(1, seconds)) * 100) / 100 : null,
    };
  }

  async messages(id: number, query: { status?: string; limit: number; cursor?: string }) {
    await this.repo.get(id).then((r) => {
      if (!r) throw AppError.notFound('Mailout', String(id));
    });
    const rows = await this.repo.messages(id, {
      status: query.status,
      limit: query.limit + 1,
      after: query.cursor ? Number(query.cursor) : undefined,
    });
    const page = rows.slice(0, query.limit);
    const last = page[page.length - 1];
    return {
      messages: page.map(toMessageView),
      next_cursor: rows.length > query.limit && last ? String(last.id) : null,
    };
  }

  async message(id: number, messageId: number) {
    const found = await this.repo.message(id, messageId);
    if (!found) throw AppError.notFound('Message', `${messageId} of mailout ${id}`);
    return {
      ...toMessageView(found.row),
      attempts_log: found.attempts.map((a) => ({
        at: a.at.toISOString(),
        status_code: a.status_code,
        latency_ms: a.latency_ms,
        outcome: a.outcome,
        error: a.error,
      })),
    };
  }
}
