/**
 * npm run bench:appointments: 10,000 bookings through the HTTP API (200 reps, 50 slots each, no
 * conflicts), a `web` and a `worker` process, a fake SendGrid on loopback. Prints the accept
 * latency (p50/p99), the time until every confirmation (with its .ics) reached the provider, and
 * duplicates at the provider. Asserts nothing. BENCH_APPOINTMENTS overrides the count.
 */
import { ApiKeyService } from '../src/api-keys/api-key.service.ts';
import { AuditRepository } from '../src/audit/audit.repository.ts';
import { loadConfig } from '../src/config/config.ts';
import { createDatabase, createPool } from '../src/db/client.ts';
import { percentile, startFakeSendgrid } from './fake-sendgrid.ts';
import { runBench } from './finish.ts';
import { sendgridBenchEnv, spawnService } from './spawn.ts';
import { dropBenchState, waitFor } from './state.ts';

const TOTAL = Number(process.env.BENCH_APPOINTMENTS ?? 10_000);
const SLOTS_PER_REP = 50;
const HTTP_CONCURRENCY = 64;

async function main() {
  const sendgrid = await startFakeSendgrid();
  const { env } = sendgridBenchEnv(sendgrid.url);
  const config = loadConfig(env);
  const web = await spawnService('web', env);
  const worker = await spawnService('worker', env);
  const pool = createPool(config.databaseUrl, 2);
  const db = createDatabase(pool);
  const { key } = await new ApiKeyService(db, new AuditRepository(db)).create('bench', 'bench', [
    'appointments',
  ]);
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };

  const reps = Math.ceil(TOTAL / SLOTS_PER_REP);
  const { rows: repRows } = await pool.query<{ id: string }>(
    `INSERT INTO reps (name, email, time_zone, slack_dm)
     SELECT 'Rep ' || i, 'rep' || i || '@acme.test', 'America/New_York', false FROM generate_series(1, $1) i
     RETURNING id`,
    [reps],
  );
  const service = (await (
    await fetch(`${web.url}/v1/services`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        name: 'Demo',
        duration_minutes: 30,
        buffer_minutes: 0,
        reminder_minutes: [1440, 60],
      }),
    })
  ).json()) as { id: string };

  console.log(
    `Appointments benchmark: ${TOTAL} bookings for ${reps} reps, HTTP concurrency ${HTTP_CONCURRENCY}`,
  );
  const base = Date.now() + 7 * 86_400_000;
  const latencies: number[] = [];
  let next = 0;
  let rejected = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: HTTP_CONCURRENCY }, async () => {
      while (next < TOTAL) {
        const i = next++;
        const rep = repRows[i % reps]?.id;
        const slot = Math.floor(i / reps);
        const t0 = performance.now();
        const res = await fetch(`${web.url}/v1/appointments`, {
          method: 'POST',
          headers,
          body: JSON.stringify({
            rep_id: rep,
            service_id: service.id,
            attendee: { name: `Lead ${i}`, email: `lead${i}@client.test`, time_zone: 'Europe/Berlin' },
            start: new Date(base + slot * 3_600_000).toISOString(),
          }),
        });
        latencies.push(performance.now() - t0);
        await res.text();
        if (res.status !== 201) rejected++;
      }
    }),
  );
  const acceptSeconds = (performance.now() - started) / 1000;
  const accepted = TOTAL - rejected;

  // Every confirmation's message id is its outbox row's id.
  const confirmations = async () =>
    (
      await pool.query<{ id: string }>(`SELECT id FROM appointment_mails WHERE type = 'confirmation'`)
    ).rows.map((r) => r.id);
  let ids: string[] = [];
  const all = await waitFor(async () => {
    ids = await confirmations();
    return ids.length >= accepted && ids.every((id) => sendgrid.receivedAt.has(id));
  }, 900_000);
  const handedAt = Math.max(...ids.map((id) => sendgrid.receivedAt.get(id) ?? Number.NaN));
  const { rows: stored } = await pool.query<{ n: number; distinct_ids: number }>(
    `SELECT count(*)::int AS n, count(DISTINCT metadata->>'appointment_id')::int AS distinct_ids
       FROM messages WHERE kind = 'appointment' AND metadata->>'mail' = 'confirmation'`,
  );
  await Promise.all([web.stop(), worker.stop()]);
  await pool.end();
  await dropBenchState({
    databaseUrl: config.databaseUrl,
    redisUrl: config.redisUrl,
    prefix: config.queuePrefix,
  });
  await sendgrid.close();

  latencies.sort((a, b) => a - b);
  const f = (n: number) => n.toFixed(0);
  console.log(
    `accepted:                 ${accepted} (${rejected} rejected) in ${acceptSeconds.toFixed(2)} s = ${f(accepted / acceptSeconds)}/s`,
  );
  console.log(
    `accept latency:           p50 ${f(percentile(latencies, 50))} ms, p99 ${f(percentile(latencies, 99))} ms, max ${f(latencies.at(-1) ?? Number.NaN)} ms`,
  );
  console.log(
    `confirmations at provider: ${ids.filter((id) => sendgrid.receivedAt.has(id)).length}${all ? '' : ' (TIMED OUT)'}, the last ${((handedAt - started) / 1000).toFixed(2)} s after the first request`,
  );
  console.log(
    `confirmation messages:    ${stored[0]?.n} stored for ${stored[0]?.distinct_ids} appointments; duplicates at provider (all mail incl. rep copies): ${sendgrid.duplicates()}`,
  );
}

runBench(main);
