import type { Redis } from 'ioredis';
import type pg from 'pg';
import { sendApiCircuitAlert } from '../../blocks/mailouts.ts';
import type { AlertService } from '../alerts/alert.service.ts';
import type { AuditRepository } from '../audit/audit.repository.ts';
import type { CircuitBreaker } from '../delivery/circuit-breaker.ts';
import type { Queues } from '../jobs/queues.ts';
import type { Logger } from '../logging/logger.ts';
import { isInsideWindow, nextAllowedInstant, windowClosesAt } from '../shared/local-window.ts';
import type { Clock } from '../shared/time.ts';
import type { MailoutConfig } from './mailout.config.ts';
import type { MailoutMetrics } from './mailout.metrics.ts';
import { type Mailout, type MailoutRepository, type MailoutRow, toMailout } from './mailout.repository.ts';
import type { MailoutStatus } from './mailout-state.ts';
import { type SmsGateway, SmsGatewayError } from './providers/sms-gateway.ts';

/** The breaker key of the send API (one circuit shared by every worker process). */
export const SEND_API_CIRCUIT = 'send-api';
/** A send job hands its worker slot back after this long, so zones and mailouts take turns. */
const SLICE_MS = 15_000;

export interface StatusEvent {
  mailout: MailoutRow;
  from: MailoutStatus;
  to: MailoutStatus;
  actor: string;
}

export interface EngineDeps {
  pool: pg.Pool;
  repo: MailoutRepository;
  queues: Queues;
  redis: Redis;
  prefix: string;
  gateway?: SmsGateway;
  breaker: CircuitBreaker;
  alerts: AlertService;
  audit: AuditRepository;
  metrics: MailoutMetrics;
  config: MailoutConfig;
  clock: Clock;
  logger: Logger;
  /** Status changes made by the engine (start, finish, expire): the Slack progress card listens here. */
  onStatusChange?: (event: StatusEvent) => Promise<void>;
  /** A send batch recorded outcomes (called often: the listener throttles and never throws). */
  onProgress?: (mailoutId: number) => void;
  /** The send API circuit opened or closed (once across workers): the Slack cards reply in their threads. */
  onCircuitChange?: (to: 'open' | 'closed', reason: string) => Promise<void>;
}

interface Claimed {
  id: string;
  customer_id: string;
  phone: string;
  attempts: number;
}

interface Outcome {
  id: string;
  status: 'pending' | 'sent' | 'failed' | 'expired';
  error: string | null;
  sentAt: Date | null;
  next: Date | null;
  attempt?: { at: Date; statusCode: number | null; latencyMs: number; outcome: string; error: string | null };
}

const zoneKey = (zone: string) => zone.replace(/[^A-Za-z0-9_+-]/g, '_');

/**
 * The sending engine: fan-out at starts_at, planning per time zone (one job when a zone's window
 * opens), send jobs that claim batches with FOR UPDATE SKIP LOCKED and send them with bounded
 * concurrency, and the end of a mailout. Every job is idempotent; the per-minute tick re-creates
 * anything Redis lost.
 *
 * Why a batch is sent inside its claiming transaction: the batch holds the mailout row FOR SHARE
 * and each customer row FOR KEY SHARE until its requests have returned, so pause, cancel, delete
 * (UPDATE of the mailout) and customer deletion (DELETE of the customer) wait for in-flight
 * requests and, once they return, nothing more is sent. A batch is at most one round of requests,
 * so that wait is bounded by SEND_API_TIMEOUT_MS.
 */
export class MailoutEngine {
  constructor(private readonly deps: EngineDeps) {}

  private get queue() {
    return this.deps.queues.get('mailouts');
  }

  private log(mailoutId: number, extra: Record<string, unknown> = {}): Logger {
    return this.deps.logger.child({ mailout_id: mailoutId, ...extra });
  }

  /** Schedules the start job at starts_at (at once if it has come). */
  async scheduleStart(mailout: MailoutRow): Promise<void> {
    const delay = Math.max(0, mailout.starts_at.getTime() - this.deps.clock.now().getTime());
    await this.queue.add(
      'start',
      { mailoutId: Number(mailout.id) },
      { jobId: `start-${mailout.id}-v${mailout.version}-${mailout.starts_at.getTime()}`, delay },
    );
    this.log(Number(mailout.id)).info('mailout start scheduled', {
      starts_at: mailout.starts_at.toISOString(),
      delay_ms: delay,
    });
  }

  private async setStatus(
    row: MailoutRow,
    from: MailoutStatus[],
    to: MailoutStatus,
    changes: Record<string, unknown>,
    reason: string,
  ): Promise<MailoutRow | undefined> {
    const updated = await this.deps.repo.update(Number(row.id), from, { status: to, ...changes });
    if (!updated) return undefined;
    await this.afterStatusChange(updated, row.status, to, 'system', reason);
    return updated;
  }

  async afterStatusChange(
    row: MailoutRow,
    from: MailoutStatus,
    to: MailoutStatus,
    actor: string,
    reason?: string,
  ): Promise<void> {
    await this.deps.audit.record({
      actor,
      action: `mailout.${to}`,
      subject: `mailout:${row.id}`,
      details: { from, to, version: row.version, ...(reason ? { reason } : {}) },
    });
    this.log(Number(row.id)).info('mailout status changed', {
      from,
      to,
      actor,
      ...(reason ? { reason } : {}),
    });
    await this.deps.onStatusChange?.({ mailout: row, from, to, actor }).catch((error: Error) => {
      this.log(Number(row.id)).warn('status listener failed', { error: error.message });
    });
  }

  /** The `start` job: fan-out (once) then planning. Safe to run twice. */
  async start(mailoutId: number): Promise<void> {
    const log = this.log(mailoutId);
    const row = await this.deps.repo.get(mailoutId);
    if (!row || row.deleted_at) return;
    if (row.status === 'running') {
      await this.planAll(toMailout(row));
      return;
    }
    if (row.status !== 'scheduled') return;
    const now = this.deps.clock.now();
    if (row.starts_at.getTime() > now.getTime()) {
      await this.scheduleStart(row);
      return;
    }
    const started = Date.now();
    const client = await this.deps.pool.connect();
    let running: MailoutRow | undefined;
    let added = 0;
    try {
      await client.query('BEGIN');
      running = await this.deps.repo.update(
        mailoutId,
        ['scheduled'],
        { status: 'running', started_at: now },
        { client, version: row.version },
      );
      if (running) added = await this.deps.repo.fanOut(client, running);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
    if (!running) return;
    this.deps.metrics.messages.inc({ status: 'pending' }, added);
    log.info('mailout fanned out', { messages: added, duration_ms: Date.now() - started });
    await this.afterStatusChange(running, 'scheduled', 'running', 'system', `fan-out of ${added} messages`);
    await this.planAll(toMailout(running));
  }

  /** Plans every zone that has pending messages, and the end of the mailout. */
  async planAll(mailout: Mailout): Promise<void> {
    if (mailout.status !== 'running') return;
    await this.queue.add(
      'end',
      { mailoutId: mailout.id },
      {
        jobId: `end-${mailout.id}-${mailout.endsAt.getTime()}`,
        delay: Math.max(0, mailout.endsAt.getTime() - this.deps.clock.now().getTime()),
      },
    );
    const zones = await this.deps.repo.pendingZones(mailout.id);
    for (const zone of zones) await this.planZone(mailout, zone.time_zone, zone.next_attempt_at);
    if (zones.length === 0) await this.complete(mailout.id);
  }

  /**
   * Enqueues the send jobs of one zone at the next instant its window is open (and a retry is due),
   * or expires the zone's pending messages when the window does not open again before ends_at.
   */
  async planZone(mailout: Mailout, zone: string, notBefore?: Date): Promise<void> {
    const now = this.deps.clock.now();
    const from = notBefore && notBefore.getTime() > now.getTime() ? notBefore : now;
    const at = nextAllowedInstant(from, zone, mailout.window, mailout.endsAt);
    const log = this.log(mailout.id, { time_zone: zone });
    if (!at) {
      const expired = await this.deps.repo.closePending(
        mailout.id,
        'expired',
        'window does not open again before ends_at',
        zone,
      );
      this.deps.metrics.messages.inc({ status: 'expired' }, expired);
      log.info('zone expired: its window does not open again before ends_at', { expired });
      await this.complete(mailout.id);
      return;
    }
    const delay = Math.max(0, at.getTime() - now.getTime());
    const jobs = Array.from({ length: this.deps.config.jobsPerZone }, (_, slot) => ({
      name: 'send',
      data: { mailoutId: mailout.id, zone, slot },
      opts: { jobId: `send-${mailout.id}-${zoneKey(zone)}-${at.getTime()}-${slot}`, delay },
    }));
    await this.queue.addBulk(jobs);
    log.debug('zone planned', { at: at.toISOString(), jobs: jobs.length });
  }

  /** Finishes a running mailout whose messages are all done. */
  async complete(mailoutId: number): Promise<void> {
    const status = await this.deps.repo.completeIfDone(mailoutId);
    if (!status) return;
    const row = await this.deps.repo.get(mailoutId);
    if (row) await this.afterStatusChange(row, 'running', status, 'system', 'no message left to send');
  }

  /** The `end` job at ends_at: whatever is still pending expires; the mailout ends. */
  async end(mailoutId: number): Promise<void> {
    const row = await this.deps.repo.get(mailoutId);
    if (!row) return;
    const now = this.deps.clock.now();
    if (row.ends_at.getTime() > now.getTime()) return; // ends_at moved later; a new end job exists
    if (!['running', 'paused', 'scheduled', 'pending_approval'].includes(row.status) || row.deleted_at)
      return;
    const expired = await this.deps.repo.closePending(
      mailoutId,
      'expired',
      'ends_at passed before it could be sent',
    );
    this.deps.metrics.messages.inc({ status: 'expired' }, expired);
    const counts = await this.deps.repo.countsByStatus(mailoutId);
    const to: MailoutStatus = row.status === 'running' && !counts.expired ? 'finished' : 'expired';
    await this.setStatus(row, [row.status], to, { ended_at: now }, `ends_at passed (${expired} expired now)`);
  }

  /** Moves pending messages of a stopped mailout to cancelled (after cancel or delete). */
  async cancelMessages(mailoutId: number, reason: string): Promise<void> {
    const cancelled = await this.deps.repo.closePending(mailoutId, 'cancelled', reason);
    this.deps.metrics.messages.inc({ status: 'cancelled' }, cancelled);
    this.log(mailoutId).info('pending messages cancelled', { cancelled, reason });
  }

  /** The per-minute sweep: starts due mailouts, re-plans running ones (jobs Redis may have lost), ends overdue ones. */
  async tick(): Promise<void> {
    const now = this.deps.clock.now();
    for (const row of await this.deps.repo.due(now)) {
      const id = Number(row.id);
      if (row.ends_at.getTime() <= now.getTime()) await this.end(id);
      else if (row.status === 'scheduled') await this.scheduleStart(row);
      else if (row.status === 'running') {
        const mailout = toMailout(row);
        const zones = await this.deps.repo.pendingZones(id);
        for (const zone of zones) {
          // One more send job per open zone and minute at most; a running chain makes it a no-op.
          const at = nextAllowedInstant(
            zone.next_attempt_at > now ? zone.next_attempt_at : now,
            zone.time_zone,
            mailout.window,
            mailout.endsAt,
          );
          if (!at) {
            await this.planZone(mailout, zone.time_zone);
            continue;
          }
          const bucket = Math.floor(at.getTime() / 60_000) * 60_000;
          await this.queue.add(
            'send',
            { mailoutId: id, zone: zone.time_zone, slot: 0 },
            {
              jobId: `send-${id}-${zoneKey(zone.time_zone)}-tick-${bucket}`,
              delay: Math.max(0, at.getTime() - now.getTime()),
            },
          );
        }
        if (zones.length === 0) await this.complete(id);
      }
    }
  }

  /**
   * The `send` job for one zone: claims and sends batches until the zone has nothing due, the
   * window closes, ends_at comes, the mailout stops, or its time slice is used up; then it plans
   * what comes next (a later job) and returns.
   */
  async send(mailoutId: number, zone: string, slot: number): Promise<{ sent: number; batches: number }> {
    const log = this.log(mailoutId, { time_zone: zone });
    const sliceEnds = Date.now() + SLICE_MS;
    let sent = 0;
    let batches = 0;
    const gateway = this.deps.gateway;
    if (!gateway) {
      log.warn('SEND_API_TOKEN is not set: mailout messages wait until it is configured');
      await this.again(mailoutId, zone, slot, 60_000);
      return { sent, batches };
    }
    for (;;) {
      const circuit = await this.deps.breaker.state(SEND_API_CIRCUIT);
      let probe = false;
      if (circuit.state === 'open') {
        // One real send (idempotent by msgId) per probe interval tests the API; the others wait.
        const key = `${this.deps.prefix}:mailouts:probe`;
        const won = await this.deps.redis.set(key, '1', 'PX', this.deps.config.sendApi.probeIntervalMs, 'NX');
        if (won !== 'OK') {
          // Keep waiting for the probe only while this zone still has work.
          if (await this.hasWork(mailoutId, zone)) {
            await this.again(mailoutId, zone, slot, this.deps.config.sendApi.probeIntervalMs);
          }
          return { sent, batches };
        }
        probe = true;
      }
      const result = await this.sendBatch(
        mailoutId,
        zone,
        probe ? 1 : this.deps.config.sendApi.concurrency,
        log,
      );
      batches++;
      sent += result.sent;
      if (result.claimed > 0) this.deps.onProgress?.(mailoutId);
      if (probe) {
        if (result.sent > 0) {
          if (await this.deps.breaker.close(SEND_API_CIRCUIT, 'probe succeeded'))
            await this.circuitChanged('closed', 'probe succeeded');
        } else if (result.claimed > 0) {
          await this.again(mailoutId, zone, slot, this.deps.config.sendApi.probeIntervalMs);
          return { sent, batches };
        }
      }
      if (result.stop) {
        if (result.stop === 'ended') await this.end(mailoutId);
        if (result.stop === 'window' || result.stop === 'idle') await this.replanZone(mailoutId, zone);
        return { sent, batches };
      }
      if (Date.now() >= sliceEnds) {
        await this.again(mailoutId, zone, slot, 0);
        return { sent, batches };
      }
    }
  }

  private async hasWork(mailoutId: number, zone: string): Promise<boolean> {
    const row = await this.deps.repo.get(mailoutId);
    if (row?.status !== 'running' || row.deleted_at) return false;
    return (await this.deps.repo.nextAttemptInZone(mailoutId, zone)) !== undefined;
  }

  /** Re-enqueues this send job (same zone and slot) after `delayMs`. */
  private async again(mailoutId: number, zone: string, slot: number, delayMs: number): Promise<void> {
    const at = Date.now() + delayMs;
    await this.queue.add(
      'send',
      { mailoutId, zone, slot },
      { jobId: `send-${mailoutId}-${zoneKey(zone)}-${at}-${slot}`, delay: delayMs },
    );
  }

  /** After a zone ran dry or its window closed: the next due retry or window opening, or the end. */
  private async replanZone(mailoutId: number, zone: string): Promise<void> {
    const row = await this.deps.repo.get(mailoutId);
    if (row?.status !== 'running' || row.deleted_at) return;
    const next = await this.deps.repo.nextAttemptInZone(mailoutId, zone);
    if (!next) {
      await this.complete(mailoutId);
      return;
    }
    const now = this.deps.clock.now();
    // Due rows that could not be claimed are held by another send job, which carries on with them.
    if (
      next.getTime() <= now.getTime() &&
      isInsideWindow(
        now,
        zone,
        row.window_from && row.window_to ? { from: row.window_from, to: row.window_to } : null,
      )
    )
      return;
    await this.planZone(toMailout(row), zone, next);
  }

  private async circuitChanged(to: 'open' | 'closed', reason: string): Promise<void> {
    const at = this.deps.clock.now();
    if (to === 'open') this.deps.logger.warn('send API circuit opened: mailout sending paused', { reason });
    else this.deps.logger.info('send API circuit closed: mailout sending resumed', { reason });
    await this.deps.alerts
      .post('send-api-circuit', sendApiCircuitAlert({ to, reason, at }))
      .catch((error: Error) =>
        this.deps.logger.error('could not post the send API alert', { error: error.message }),
      );
    await this.deps.onCircuitChange?.(to, reason).catch((error: Error) =>
      this.deps.logger.error('could not tell the running mailouts about the send API', {
        error: error.message,
      }),
    );
  }

  private async sendBatch(
    mailoutId: number,
    zone: string,
    size: number,
    log: Logger,
  ): Promise<{ sent: number; claimed: number; stop?: 'stopped' | 'ended' | 'window' | 'idle' }> {
    const client = await this.deps.pool.connect();
    try {
      await client.query('BEGIN');
      const { rows: mailoutRows } = await client.query<MailoutRow>(
        'SELECT * FROM mailouts WHERE id = $1 FOR SHARE',
        [mailoutId],
      );
      const row = mailoutRows[0];
      if (row?.status !== 'running' || row.deleted_at) {
        await client.query('COMMIT');
        return { sent: 0, claimed: 0, stop: 'stopped' };
      }
      const mailout = toMailout(row);
      const now = this.deps.clock.now();
      if (now.getTime() >= mailout.endsAt.getTime()) {
        await client.query('COMMIT');
        return { sent: 0, claimed: 0, stop: 'ended' };
      }
      if (!isInsideWindow(now, zone, mailout.window)) {
        await client.query('COMMIT');
        return { sent: 0, claimed: 0, stop: 'window' };
      }
      const closes = windowClosesAt(now, zone, mailout.window);
      const stopAt = Math.min(closes?.getTime() ?? Number.POSITIVE_INFINITY, mailout.endsAt.getTime());
      const { rows: claimed } = await client.query<Claimed>(
        `SELECT m.id, m.customer_id, m.attempts, c.phone FROM mailout_messages m JOIN customers c ON c.id = m.customer_id
         WHERE m.mailout_id = $1 AND m.time_zone = $2 AND m.status = 'pending' AND m.next_attempt_at <= $3
         ORDER BY m.next_attempt_at, m.id LIMIT $4
         FOR UPDATE OF m SKIP LOCKED FOR KEY SHARE OF c SKIP LOCKED`,
        [mailoutId, zone, now, size],
      );
      if (claimed.length === 0) {
        await client.query('COMMIT');
        return { sent: 0, claimed: 0, stop: 'idle' };
      }
      const outcomes = await Promise.all(
        claimed.map((message) => this.sendOne(mailout, message, stopAt, log)),
      );
      await this.record(client, outcomes);
      await client.query('COMMIT');
      const sent = outcomes.filter((o) => o.status === 'sent').length;
      for (const outcome of outcomes) {
        if (outcome.status !== 'pending') this.deps.metrics.messages.inc({ status: outcome.status });
      }
      return { sent, claimed: claimed.length };
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  private async sendOne(
    mailout: Mailout,
    message: Claimed,
    stopAt: number,
    batchLog: Logger,
  ): Promise<Outcome> {
    // A child logger per message is not free at 1,000 sends/s: ids go in as fields, debug only when enabled.
    const ids = { message_id: Number(message.id), customer_id: Number(message.customer_id) };
    const log = batchLog;
    const debug = batchLog.isDebugEnabled();
    const started = this.deps.clock.now();
    // No request starts at or after ends_at, nor once the customer's window has closed.
    if (started.getTime() >= stopAt)
      return { id: message.id, status: 'pending', error: null, sentAt: null, next: null };
    const { timeoutMs } = this.deps.config.sendApi;
    const endsAt = mailout.endsAt.getTime();
    const deadlineIsEnd = endsAt <= started.getTime() + timeoutMs;
    const deadline = new Date(Math.min(started.getTime() + timeoutMs, endsAt));
    if (debug) log.debug('send api request', { ...ids, deadline: deadline.toISOString() });
    const t0 = performance.now();
    try {
      const { status } = await (this.deps.gateway as SmsGateway).send(
        { id: Number(message.id), phone: message.phone, text: mailout.text },
        { deadline, deadlineIsEnd },
      );
      const latencyMs = Math.round(performance.now() - t0);
      this.deps.metrics.sendDuration.observe({ outcome: 'sent' }, latencyMs / 1000);
      await this.deps.breaker.recordSuccess(SEND_API_CIRCUIT);
      if (debug)
        log.debug('send api answer', { ...ids, status_code: status, latency_ms: latencyMs, outcome: 'sent' });
      return {
        id: message.id,
        status: 'sent',
        error: null,
        sentAt: this.deps.clock.now(),
        next: null,
        attempt: { at: started, statusCode: status, latencyMs, outcome: 'sent', error: null },
      };
    } catch (caught) {
      const latencyMs = Math.round(performance.now() - t0);
      const error =
        caught instanceof SmsGatewayError
          ? caught
          : new SmsGatewayError('transient', 'connection', (caught as Error).message ?? String(caught));
      this.deps.metrics.sendDuration.observe({ outcome: error.kind }, latencyMs / 1000);
      this.deps.metrics.sendErrors.inc({ kind: error.errorKind });
      const attempt = {
        at: started,
        statusCode: error.status ?? null,
        latencyMs,
        outcome: error.kind,
        error: error.message,
      };
      if (error.kind === 'permanent') {
        log.info('send api answer', {
          ...ids,
          status_code: error.status,
          latency_ms: latencyMs,
          outcome: 'permanent',
          error: error.message,
        });
        return { id: message.id, status: 'failed', error: error.message, sentAt: null, next: null, attempt };
      }
      // Our own deadline (ends_at) says nothing about the API's health.
      if (error.errorKind !== 'deadline') {
        const opened = await this.deps.breaker.recordFailure(SEND_API_CIRCUIT, error.message);
        if (opened.opened) await this.circuitChanged('open', error.message);
      }
      // A backoff that would cross ends_at is shortened to leave one last attempt before the end
      // (when there is time for one), rather than giving the message up early.
      const nowMs = this.deps.clock.now().getTime();
      let nextMs = nowMs + this.backoffMs(message.attempts + 1);
      if (nextMs >= endsAt && endsAt - nowMs > 2 * this.deps.config.sendApi.retryBaseMs) {
        nextMs = nowMs + Math.floor((endsAt - nowMs) / 2);
      }
      const next = new Date(nextMs);
      const expired = error.errorKind === 'deadline' || next.getTime() >= endsAt;
      log.info('send api answer', {
        ...ids,
        status_code: error.status,
        latency_ms: latencyMs,
        outcome: 'transient',
        kind: error.errorKind,
        error: error.message,
        ...(expired ? { final: 'expired' } : { retry_at: next.toISOString() }),
      });
      return {
        id: message.id,
        status: expired ? 'expired' : 'pending',
        error: error.message,
        sentAt: null,
        next: expired ? null : next,
        attempt,
      };
    }
  }

  /** Exponential backoff (base * 2^(attempts-1), capped) with jitter between half and all of it. */
  private backoffMs(attempts: number): number {
    const { retryBaseMs, retryMaxMs } = this.deps.config.sendApi;
    const ceiling = Math.min(retryMaxMs, retryBaseMs * 2 ** Math.min(20, attempts - 1));
    return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
  }

  private async record(client: pg.PoolClient, outcomes: Outcome[]): Promise<void> {
    const attempted = outcomes.filter((o) => o.attempt);
    if (attempted.length === 0) return;
    await client.query(
      `UPDATE mailout_messages AS m SET status = v.status::mailout_message_status, attempts = m.attempts + 1,
         last_error = v.error, sent_at = v.sent_at, next_attempt_at = coalesce(v.next, m.next_attempt_at), updated_at = now()
       FROM unnest($1::bigint[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[]) AS v(id, status, error, sent_at, next)
       WHERE m.id = v.id`,
      [
        attempted.map((o) => o.id),
        attempted.map((o) => o.status),
        attempted.map((o) => o.error),
        attempted.map((o) => o.sentAt),
        attempted.map((o) => o.next),
      ],
    );
    await client.query(
      `INSERT INTO mailout_message_attempts (message_id, at, status_code, latency_ms, outcome, error)
       SELECT * FROM unnest($1::bigint[], $2::timestamptz[], $3::int[], $4::int[], $5::text[], $6::text[])`,
      [
        attempted.map((o) => o.id),
        attempted.map((o) => o.attempt?.at),
        attempted.map((o) => o.attempt?.statusCode),
        attempted.map((o) => o.attempt?.latencyMs),
        attempted.map((o) => o.attempt?.outcome),
        attempted.map((o) => o.attempt?.error),
      ],
    );
  }
}
