/**
 * npm run bench:sequences. Part 1: 100,000 enrollments over 200 mailboxes (contacts in 4 zones),
 * one planner run, timed. Part 2: a day simulated on a virtual clock with BENCH_WORKERS (default 4)
 * worker processes sending through the real sender (Redis counters, PostgreSQL locks), the planner
 * running every 30 virtual minutes, over one mailbox day (midnight to midnight in the sequence's
 * zone); the Redis counters are deleted mid-day. Prints: planning time, sends per mailbox day
 * against its cap, sends outside the window, and the busiest minute per mailbox
 * against the bound ceil(cap / window minutes) + 1. Asserts nothing. BENCH_ENROLLMENTS and
 * BENCH_DAY_ENROLLMENTS override the sizes.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import pg from 'pg';
import { loadConfig } from '../src/config/config.ts';
import { prepareDatabase } from '../src/db/migrate.ts';
import { dayCap } from '../src/sequences/mailbox-caps.ts';
import { isSendingTime, localDay, windowMinutes } from '../src/sequences/sending-window.ts';
import { planSends } from '../src/sequences/sequence.planner.ts';
import { runBench } from './finish.ts';
import { dropBenchState } from './state.ts';

const ENROLLMENTS = Number(process.env.BENCH_ENROLLMENTS ?? 100_000);
const DAY_ENROLLMENTS = Number(process.env.BENCH_DAY_ENROLLMENTS ?? 10_000);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 4);
const MAILBOXES = 200;
const ZONES = ['America/New_York', 'Europe/Berlin', 'Asia/Kolkata', 'America/Los_Angeles'];
const WINDOW = { from: '09:00', to: '17:00' };
/** The sequence's time zone: each mailbox's day (and cap) is the local day there. */
const SEQUENCE_ZONE = 'America/Chicago';

async function seed(pool: pg.Pool, enrollments: number, dailyLimit: number, dueAt: Date) {
  await pool.query('TRUNCATE sequences, contacts, mailboxes, sequence_sends CASCADE');
  await pool.query(
    `INSERT INTO mailboxes (email, daily_limit, warmup_start_limit, warmup_daily_increase, warmup_started_at)
     SELECT 'mbx' || g || '@bench.test', $1, CASE WHEN g % 4 = 0 THEN $1 / 3 END, CASE WHEN g % 4 = 0 THEN 5 END,
       CASE WHEN g % 4 = 0 THEN $2::timestamptz END
     FROM generate_series(1, ${MAILBOXES}) g`,
    [dailyLimit, dueAt],
  );
  const { rows } = await pool.query(
    `INSERT INTO sequences (name, window_from, window_to, days, time_zone, status)
     VALUES ('bench', $1, $2, '{1,2,3,4,5,6,7}', $3, 'active') RETURNING id`,
    [WINDOW.from, WINDOW.to, SEQUENCE_ZONE],
  );
  const sequenceId = rows[0].id;
  await pool.query(`INSERT INTO sequence_mailboxes (sequence_id, mailbox_id) SELECT $1, id FROM mailboxes`, [
    sequenceId,
  ]);
  await pool.query(
    `INSERT INTO sequence_steps (sequence_id, step, delay_days, subject, body)
     VALUES ($1, 1, 0, 'Hi {{first_name}}', 'Hello {{first_name}}'), ($1, 2, 2, 'x', 'Again')`,
    [sequenceId],
  );
  await pool.query(
    `INSERT INTO contacts (email, first_name, time_zone)
     SELECT 'c' || g || '@prospect.test', 'C' || g, (ARRAY[${ZONES.map((z) => `'${z}'`).join(',')}])[1 + g % ${ZONES.length}]
     FROM generate_series(1, $1) g`,
    [enrollments],
  );
  await pool.query(
    `WITH m AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM mailboxes),
          c AS (SELECT id, row_number() OVER (ORDER BY id) - 1 AS n FROM contacts)
     INSERT INTO sequence_contacts (sequence_id, contact_id, mailbox_id, next_send_at)
     SELECT $1, c.id, m.id, $2::timestamptz - (c.n * interval '1 second') FROM c JOIN m ON m.n = c.n % ${MAILBOXES}`,
    [sequenceId, dueAt],
  );
  await pool.query('ANALYZE');
}

function startWorker(config: ReturnType<typeof loadConfig>, index: number) {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      'bench/sequences-worker.ts',
      config.databaseUrl,
      config.redisUrl,
      config.queuePrefix,
      String(index),
      String(WORKERS),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  ) as unknown as ChildProcessWithoutNullStreams;
  const lines = createInterface({ input: child.stdout });
  const waiting: ((line: string) => void)[] = [];
  lines.on('line', (line) => waiting.shift()?.(line));
  const next = () => new Promise<string>((resolve) => waiting.push(resolve));
  return {
    child,
    ready: next(),
    async drain(until: Date): Promise<Record<string, number>> {
      const answer = next();
      child.stdin.write(`drain ${until.getTime()}\n`);
      return JSON.parse((await answer).slice(5));
    },
    stop() {
      child.stdin.write('exit\n');
      return new Promise((resolve) => child.on('exit', resolve));
    },
  };
}

async function main() {
  const name = `briefly_bench_seq_${randomBytes(4).toString('hex')}`;
  const config = loadConfig({
    ...process.env,
    DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${name}`,
    QUEUE_PREFIX: name,
    LOG_LEVEL: 'warn',
  });
  await prepareDatabase(config.databaseUrl);
  const pool = new pg.Pool({ connectionString: config.databaseUrl, max: 4 });
  const redis = new Redis(config.redisUrl);
  try {
    // ---- part 1: planning 100,000 enrollments
    // At the start of a mailbox day (midnight in the sequence's zone), when the whole day is ahead.
    const day = localDay(new Date('2026-03-03T12:00:00Z'), SEQUENCE_ZONE).start;
    await seed(pool, ENROLLMENTS, 300, day);
    const t0 = performance.now();
    const planned = await planSends(pool, new Date(day.getTime() + 5 * 60_000));
    const planMs = performance.now() - t0;
    console.log(
      `plan: ${ENROLLMENTS.toLocaleString('en')} enrollments over ${MAILBOXES} mailboxes -> ${planned.length.toLocaleString('en')} planned for the day in ${(planMs / 1000).toFixed(2)} s`,
    );

    // ---- part 2: one mailbox day (midnight to midnight in the sequence's zone) with WORKERS processes
    const mailboxDay = localDay(new Date('2026-03-03T12:00:00Z'), SEQUENCE_ZONE);
    await seed(pool, DAY_ENROLLMENTS, 30, mailboxDay.start);
    const workers = Array.from({ length: WORKERS }, (_, i) => startWorker(config, i));
    await Promise.all(workers.map((w) => w.ready));
    const outcomes: Record<string, number> = {};
    let flushed = false;
    const dayStart = mailboxDay.start.getTime();
    for (let t = dayStart + 5 * 60_000; t < mailboxDay.end.getTime(); t += 30 * 60_000) {
      await planSends(pool, new Date(t));
      if (!flushed && t >= Date.parse('2026-03-03T17:00:00Z')) {
        const keys = await redis.keys(`${config.queuePrefix}:seq:sent:*`);
        if (keys.length) await redis.del(...keys);
        flushed = true;
      }
      const results = await Promise.all(workers.map((w) => w.drain(new Date(t + 30 * 60_000))));
      for (const r of results) for (const [k, v] of Object.entries(r)) outcomes[k] = (outcomes[k] ?? 0) + v;
    }
    await Promise.all(workers.map((w) => w.stop()));

    const sends = (
      await pool.query(
        `SELECT s.mailbox_id, s.sent_at, c.time_zone, m.daily_limit, m.warmup_start_limit, m.warmup_daily_increase,
           m.warmup_started_at
         FROM sequence_sends s JOIN sequence_contacts e ON e.id = s.enrollment_id JOIN contacts c ON c.id = e.contact_id
           JOIN mailboxes m ON m.id = s.mailbox_id`,
      )
    ).rows;
    // Counted per mailbox day (the local day in the sequence's zone) against that day's cap.
    const perMailboxDay = new Map<string, number>();
    const dayCaps = new Map<string, number>();
    const perMinute = new Map<string, number>();
    let outside = 0;
    let overCap = 0;
    let capTotal = 0;
    const caps = new Map<string, number>();
    for (const s of sends) {
      const key = `${s.mailbox_id}:${localDay(s.sent_at, SEQUENCE_ZONE).key}`;
      perMailboxDay.set(key, (perMailboxDay.get(key) ?? 0) + 1);
      const limits = {
        dailyLimit: s.daily_limit,
        warmupStartLimit: s.warmup_start_limit,
        warmupDailyIncrease: s.warmup_daily_increase,
        warmupStartedAt: s.warmup_started_at,
      };
      dayCaps.set(key, dayCap(limits, s.sent_at, SEQUENCE_ZONE));
      const minute = `${s.mailbox_id}:${Math.floor(s.sent_at.getTime() / 60_000)}`;
      perMinute.set(minute, (perMinute.get(minute) ?? 0) + 1);
      if (!isSendingTime(s.sent_at, { zone: s.time_zone, window: WINDOW, days: [1, 2, 3, 4, 5, 6, 7] }))
        outside++;
      caps.set(s.mailbox_id, dayCap(limits, mailboxDay.start, SEQUENCE_ZONE));
    }
    for (const [key, n] of perMailboxDay) if (n > (dayCaps.get(key) ?? 0)) overCap++;
    for (const cap of caps.values()) capTotal += cap;
    const bound = Math.max(...[...caps.values()].map((cap) => Math.ceil(cap / windowMinutes(WINDOW)) + 1));
    const busiest = Math.max(0, ...perMinute.values());
    console.log(
      `day: ${DAY_ENROLLMENTS.toLocaleString('en')} enrollments, ${MAILBOXES} mailboxes (cap 30, a quarter warming up at 10), ${WORKERS} worker processes, one mailbox day ${mailboxDay.start.toISOString()} to ${mailboxDay.end.toISOString()} (midnight to midnight ${SEQUENCE_ZONE}), Redis counters deleted at 17:00 UTC`,
    );
    console.log(
      `  sent ${sends.length.toLocaleString('en')} of ${capTotal.toLocaleString('en')} capacity; mailbox days (${SEQUENCE_ZONE}) over their cap: ${overCap} of ${perMailboxDay.size}; sends outside the window: ${outside}`,
    );
    console.log(
      `  busiest minute of any mailbox: ${busiest} sends (bound ceil(cap / window minutes) + 1 = ${bound})`,
    );
    console.log(`  sender outcomes: ${JSON.stringify(outcomes)}`);
  } finally {
    await pool.end();
    redis.disconnect();
    await dropBenchState({ databaseUrl: config.databaseUrl, redisUrl: config.redisUrl, prefix: name });
  }
}

runBench(main);
