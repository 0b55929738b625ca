import type { Redis } from 'ioredis';
import type { Logger } from '../logging/logger.ts';

/**
 * Runs the outbox sweep the moment Redis is usable again instead of at the next once-a-minute
 * schedule:
 * - on every (re)connect of the producer connection: messages accepted while Redis was away were
 *   stored but not enqueued, and a Redis that restarted without persistence lost every job;
 * - when a marker key has vanished although the connection stayed up (FLUSHALL, a failover to an
 *   empty replica): checked every `checkEveryMs` with one `SET NX`, which also makes exactly one
 *   process notice it.
 * Several processes reconnecting together each sweep: that is a few extra queries, and enqueueing
 * twice is harmless (deterministic job ids). A lock would be worse: a process that reconnects a
 * moment later, holding messages it accepted meanwhile, would skip its sweep.
 */
export class OutboxWatch {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again: string | undefined;
  private readonly onReady = () => this.trigger('redis connected');

  constructor(
    private readonly deps: {
      redis: Redis;
      prefix: string;
      sweep: () => Promise<{ due: number; missing: number }>;
      logger: Logger;
      checkEveryMs?: number;
    },
  ) {}

  private get markerKey() {
    return `${this.deps.prefix}:outbox:marker`;
  }

  start(): void {
    this.deps.redis.on('ready', this.onReady);
    if (this.deps.redis.status === 'ready') this.trigger('started');
    this.timer = setInterval(() => void this.checkMarker(), this.deps.checkEveryMs ?? 5_000);
    this.timer.unref();
  }

  private async checkMarker(): Promise<void> {
    if (this.deps.redis.status !== 'ready') return;
    try {
      const set = await this.deps.redis.set(this.markerKey, new Date().toISOString(), 'NX');
      if (set === 'OK') this.trigger('Redis lost its data (marker key missing)');
    } catch {
      // Redis went away between the status check and the call: the next 'ready' sweeps.
    }
  }

  /** Sweeps now, or once more right after the sweep already running. */
  trigger(reason: string): void {
    if (this.running) {
      this.again = reason;
      return;
    }
    this.running = this.sweep(reason).finally(() => {
      this.running = undefined;
      const next = this.again;
      this.again = undefined;
      if (next && this.timer) this.trigger(next);
    });
  }

  private async sweep(reason: string): Promise<void> {
    try {
      await this.deps.redis.set(this.markerKey, new Date().toISOString(), 'NX');
      const result = await this.deps.sweep();
      if (result.missing > 0) this.deps.logger.info('outbox swept', { reason, ...result });
    } catch (error) {
      // Redis or PostgreSQL failed mid-sweep; the next reconnect or the scheduled sweep retries.
      this.deps.logger.warn('outbox sweep failed', { reason, error: (error as Error).message });
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    this.deps.redis.off('ready', this.onReady);
    await this.running;
  }
}
