import { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.ts';
import { createPool } from '../../src/db/client.ts';
import { prepareDatabase } from '../../src/db/migrate.ts';
import { createRedis, Queues } from '../../src/jobs/queues.ts';
import { startScheduler } from '../../src/jobs/scheduler.ts';
import { SCHEDULES, type Schedule, scheduledJobId } from '../../src/jobs/schedules.ts';
import { dropDatabase, testEnv, testLogger } from '../helpers/service.ts';

const env = testEnv();
const config = loadConfig(env);
const { logger } = testLogger(config);
const redis = createRedis(config.redisUrl, 'producer');
const queues = new Queues(redis, config.queuePrefix);
let pool: ReturnType<typeof createPool>;

beforeAll(async () => {
  await prepareDatabase(config.databaseUrl);
  pool = createPool(config.databaseUrl);
});

afterAll(async () => {
  await queues.close();
  await redis.quit();
  await pool.end();
  await dropDatabase(config.databaseUrl);
});

describe('scheduler', () => {
  it('when two schedulers start at once, then each schedule exists once in agenda_jobs', async () => {
    const [a, b] = await Promise.all([
      startScheduler({ pool, queues, logger }),
      startScheduler({ pool, queues, logger }),
    ]);
    await Promise.all([a.stop(), b.stop()]);
    const { rows } = await pool.query(
      'SELECT name, repeat_interval, repeat_timezone FROM agenda_jobs ORDER BY name',
    );
    expect(rows).toEqual(
      SCHEDULES.map((s) => ({ name: s.name, repeat_interval: s.every, repeat_timezone: s.timezone })).sort(
        (x, y) => x.name.localeCompare(y.name),
      ),
    );
  });

  it('when a schedule fires twice in one bucket (two instances), then one BullMQ job is enqueued', async () => {
    const schedule: Schedule = {
      name: 'test-every-second',
      every: '1 second',
      timezone: 'UTC',
      queue: 'maintenance',
      job: 'noop-test',
      bucketMs: 3_600_000,
    };
    const [a, b] = await Promise.all([
      startScheduler({ pool, queues, logger, schedules: [schedule], processEvery: 200 }),
      startScheduler({ pool, queues, logger, schedules: [schedule], processEvery: 200 }),
    ]);
    const queue = new Queue('maintenance', { connection: redis, prefix: config.queuePrefix });
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && (await queue.getJobCounts('waiting')).waiting === 0) {
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 2_500));
    await Promise.all([a.stop(), b.stop()]);
    const jobs = await queue.getJobs(['waiting', 'delayed']);
    const ours = jobs.filter((j) => j.name === 'noop-test');
    expect(ours).toHaveLength(1);
    expect(ours[0]?.id).toBe(scheduledJobId(schedule, new Date(ours[0]?.timestamp ?? 0)));
    expect(ours[0]?.data).toEqual({ schedule: 'test-every-second' });
    await queue.close();
  });
});
