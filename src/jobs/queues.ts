import { type ConnectionOptions, type JobsOptions, Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { RATE_LIMIT_COMMAND } from '../http/rate-limit.ts';

/**
 * Every BullMQ queue the service uses, in one place. Jobs carry ids only (never secrets or whole
 * documents) and are enqueued with deterministic job ids so that enqueueing twice is harmless.
 */
export const QUEUE_NAMES = [
  'maintenance',
  'email-delivery',
  'slack',
  'briefings',
  'enrichment',
  'mailouts',
  'mailout-cards',
  'appointments',
  'sequences',
  'stats',
] as const;
export type QueueName = (typeof QUEUE_NAMES)[number];

export const DEFAULT_JOB_OPTIONS: JobsOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 2_000, jitter: 0.5 },
  removeOnComplete: { age: 24 * 3600, count: 10_000 },
  removeOnFail: { age: 7 * 24 * 3600 },
};

/** Producers fail fast when Redis is down (a request should error, not hang); workers wait for it. */
export function createRedis(url: string, role: 'producer' | 'worker'): Redis {
  return new Redis(url, {
    maxRetriesPerRequest: role === 'worker' ? null : 2,
    enableOfflineQueue: true,
    lazyConnect: false,
    connectTimeout: 5_000,
    // Commands issued in the same tick (many concurrent requests) go out in one write; not those
    // already batched by their caller, which autopipelining would only wrap in a pipeline of one
    // (building an ioredis pipeline copies every defined script: a visible cost per call).
    enableAutoPipelining: role === 'producer',
    autoPipeliningIgnoredCommands: [RATE_LIMIT_COMMAND],
  });
}

export class Queues {
  private readonly queues = new Map<QueueName, Queue>();

  constructor(
    private readonly connection: ConnectionOptions,
    readonly prefix: string,
  ) {}

  get(name: QueueName): Queue {
    let queue = this.queues.get(name);
    if (!queue) {
      queue = new Queue(name, {
        connection: this.connection,
        prefix: this.prefix,
        defaultJobOptions: DEFAULT_JOB_OPTIONS,
      });
      // Connection errors are already logged by the connection's owner; without a listener BullMQ
      // prints each one to stderr.
      queue.on('error', () => undefined);
      this.queues.set(name, queue);
    }
    return queue;
  }

  /**
   * False while the producer connection is not connected: a producer on a request path then
   * leaves the work in PostgreSQL (the outbox sweeper enqueues it) instead of waiting on Redis.
   */
  ready(): boolean {
    const status = (this.connection as { status?: unknown }).status;
    return typeof status !== 'string' || status === 'ready';
  }

  all(): Queue[] {
    return QUEUE_NAMES.map((name) => this.get(name));
  }

  async depths(): Promise<Record<QueueName, Record<string, number>>> {
    const entries = await Promise.all(
      QUEUE_NAMES.map(async (name) => {
        const counts = await this.get(name).getJobCounts(
          'waiting',
          'active',
          'delayed',
          'failed',
          'completed',
          'prioritized',
        );
        return [name, counts] as const;
      }),
    );
    return Object.fromEntries(entries) as Record<QueueName, Record<string, number>>;
  }

  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((queue) => queue.close()));
    this.queues.clear();
  }
}
