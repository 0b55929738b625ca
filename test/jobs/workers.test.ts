import { Queue } from 'bullmq';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { createRedis } from '../../src/jobs/queues.ts';
import { startWorkers } from '../../src/jobs/workers.ts';
import { testEnv, testLogger } from '../helpers/service.ts';

const closers: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const close of closers.reverse()) await close();
});

describe('workers', () => {
  it('when workers are closed while a job runs, then the job finishes first if it can within the timeout', async () => {
    const config = loadConfig(testEnv());
    const { logger } = testLogger(config);
    const connection = createRedis(config.redisUrl, 'worker');
    const producer = createRedis(config.redisUrl, 'producer');
    closers.push(() => producer.quit());
    closers.push(() => connection.quit());
    let finished = false;
    let started!: () => void;
    const running = new Promise<void>((resolve) => {
      started = resolve;
    });
    const pool = startWorkers({
      connection,
      prefix: config.queuePrefix,
      logger,
      handlers: {
        maintenance: {
          slow: async () => {
            started();
            await new Promise((r) => setTimeout(r, 500));
            finished = true;
          },
        },
      },
    });
    const queue = new Queue('maintenance', { connection: producer, prefix: config.queuePrefix });
    closers.push(() => queue.close());
    await queue.add('slow', {});
    await running;
    await pool.close(5_000);
    expect(finished).toBe(true);
    expect(await queue.getJobCounts('completed', 'active')).toEqual({ completed: 1, active: 0 });
  });

  it('when a job name has no handler, then it fails permanently without retries', async () => {
    const config = loadConfig(testEnv());
    const { logger } = testLogger(config);
    const connection = createRedis(config.redisUrl, 'worker');
    const producer = createRedis(config.redisUrl, 'producer');
    closers.push(() => producer.quit());
    closers.push(() => connection.quit());
    const pool = startWorkers({
      connection,
      prefix: config.queuePrefix,
      logger,
      handlers: { maintenance: {} },
    });
    closers.push(() => pool.close(1_000));
    const queue = new Queue('maintenance', { connection: producer, prefix: config.queuePrefix });
    closers.push(() => queue.close());
    const job = await queue.add('mystery', {}, { attempts: 5 });
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && !(await job.isFailed())) await new Promise((r) => setTimeout(r, 50));
    const failed = await queue.getJob(job.id as string);
    expect(failed?.failedReason).toMatch(/No handler for job "mystery"/);
    expect(failed?.attemptsMade).toBe(1);
  });
});
