/**
 * One of the sequence bench's worker processes: reads "drain <epoch ms>" lines on stdin and sends
 * every planned step of its share of enrollments (hash of the id modulo BENCH_WORKERS) up to that
 * virtual instant, each at its planned time (10% late by up to 90 minutes, so the sender's window
 * and cap re-checks are exercised); answers "done <outcomes JSON>". The email itself goes nowhere:
 * the bench measures planning, caps and windows, not delivery.
 */
import { createInterface } from 'node:readline';
import { Redis } from 'ioredis';
import pg from 'pg';
import { MailboxCounters } from '../src/sequences/mailbox-caps.ts';
import { sendStep } from '../src/sequences/sequence.sender.ts';

const [databaseUrl, redisUrl, prefix, index, count] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
];
const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
const redis = new Redis(redisUrl);
const deps = {
  pool,
  counters: new MailboxCounters(redis, prefix),
  send: async (email: { id?: string }) => ({
    id: email.id as string,
    messageIdHeader: `<${email.id}@bench.test>`,
  }),
  reschedule: async () => undefined,
  publicUrl: 'https://bench.test',
  unsubscribeSecret: 'bench',
};

async function drain(until: Date) {
  const outcomes: Record<string, number> = {};
  for (;;) {
    const { rows } = await pool.query(
      `SELECT id, planned_at FROM sequence_contacts WHERE status = 'active' AND planned_at <= $1
         AND abs(hashtext(id::text)) % $2 = $3 ORDER BY planned_at LIMIT 200`,
      [until, Number(count), Number(index)],
    );
    if (!rows.length) return outcomes;
    for (const r of rows) {
      const late = Math.random() < 0.1 ? Math.floor(Math.random() * 90 * 60_000) : 0;
      const outcome = await sendStep(deps as never, r.id, new Date(r.planned_at.getTime() + late));
      outcomes[outcome.status] = (outcomes[outcome.status] ?? 0) + 1;
      // A rescheduled step beyond the horizon leaves the loop's range; one before it comes round again.
    }
  }
}

const lines = createInterface({ input: process.stdin });
lines.on('line', async (line) => {
  const [command, value] = line.trim().split(' ');
  if (command === 'drain') {
    const outcomes = await drain(new Date(Number(value)));
    process.stdout.write(`done ${JSON.stringify(outcomes)}\n`);
  } else if (command === 'exit') {
    await pool.end();
    redis.disconnect();
    process.exit(0);
  }
});
process.stdout.write('ready\n');
