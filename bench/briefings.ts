/**
 * npm run bench:briefings: 2,000 reps across 12 time zones, 8 meetings each with 3 external
 * attendees, calendars (ICS feeds) and enrichment (a PDL-compatible API) served by local fake
 * servers, delivery to a fake SendGrid. The service runs in processes of its own: one with every
 * role (as `npm start`) plus BENCH_WORKERS (default 1) worker-only ones, as a deployment that
 * scales out would; the scheduler's own tick creates the briefings. Prints: briefings prepared per
 * second, enrichment calls versus unique emails, and delivery lateness against each rep's local
 * delivery time. Asserts nothing. BENCH_REPS overrides the rep count.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DateTime } from 'luxon';
import pg from 'pg';
import { loadConfig } from '../src/config/config.ts';
import { prepareDatabase } from '../src/db/migrate.ts';
import { SecretBox } from '../src/shared/crypto.ts';
import { percentile, startFakeSendgrid } from './fake-sendgrid.ts';
import { runBench } from './finish.ts';
import { spawnService } from './spawn.ts';
import { dropBenchState } from './state.ts';

const REPS = Number(process.env.BENCH_REPS ?? 2_000);
const MEETINGS = 8;
const EXTERNAL_PER_MEETING = 3;
const EXTERNAL_POOL = 12_000;
const ZONES = [
  'America/Los_Angeles',
  'America/Denver',
  'America/Chicago',
  'America/New_York',
  'America/Sao_Paulo',
  'Europe/London',
  'Europe/Berlin',
  'Europe/Helsinki',
  'Asia/Dubai',
  'Asia/Kolkata',
  'Asia/Kathmandu',
  'Asia/Singapore',
  'Asia/Tokyo',
  'Australia/Adelaide',
  'Australia/Lord_Howe',
  'Pacific/Auckland',
  'Pacific/Honolulu',
  'Atlantic/Azores',
];

/** Reps' local times: preparation in 2 minutes, delivery 3 minutes later (refresh 1 minute before). */
function plan(now: DateTime) {
  const prep = now.plus({ minutes: 2 }).startOf('minute');
  // Zones where the next few minutes cross local midnight would put prep and delivery on two dates.
  const zones = ZONES.filter((zone) => {
    const local = prep.setZone(zone);
    return local.hour < 23 || local.minute < 40;
  }).slice(0, 12);
  return zones.map((zone) => {
    const local = prep.setZone(zone);
    return {
      zone,
      prepTime: local.toFormat('HH:mm'),
      briefingTime: local.plus({ minutes: 3 }).toFormat('HH:mm'),
      deliverAt: prep.plus({ minutes: 3 }).toJSDate(),
    };
  });
}

const ics = (lines: string[]) => `${lines.join('\r\n')}\r\n`;
const stamp = (d: Date) =>
  d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');

function feed(rep: number, deliverAt: Date, externals: string[]): string {
  const events: string[] = [];
  for (let m = 0; m < MEETINGS; m++) {
    const start = new Date(deliverAt.getTime() + (m + 1) * 2 * 3_600_000);
    const end = new Date(start.getTime() + 30 * 60_000);
    events.push(
      'BEGIN:VEVENT',
      `UID:r${rep}-m${m}@bench`,
      `DTSTAMP:${stamp(deliverAt)}`,
      `DTSTART:${stamp(start)}`,
      `DTEND:${stamp(end)}`,
      `SUMMARY:Customer call ${m + 1}`,
      'LOCATION:https://zoom.us/j/123456789',
      `ORGANIZER;CN=Rep ${rep}:mailto:rep${rep}@acme.test`,
      `ATTENDEE;CN=Rep ${rep};PARTSTAT=ACCEPTED:mailto:rep${rep}@acme.test`,
      `ATTENDEE;CN=Colleague;PARTSTAT=ACCEPTED:mailto:colleague${rep % 50}@acme.test`,
      ...externals
        .slice(m * EXTERNAL_PER_MEETING, (m + 1) * EXTERNAL_PER_MEETING)
        .map((email) => `ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:${email}`),
      'END:VEVENT',
    );
  }
  return ics(['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//Briefly bench//EN', ...events, 'END:VCALENDAR']);
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const server = createServer(handler);
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function main() {
  const name = `briefly_bench_${randomBytes(3).toString('hex')}`;
  const key = randomBytes(32).toString('hex');
  const now = DateTime.utc();
  const slots = plan(now);

  // Rep i: zone i % 12, 24 external attendees drawn from a shared pool (colleagues of other reps overlap).
  const feeds: string[] = [];
  const referenced = new Set<string>();
  for (let i = 0; i < REPS; i++) {
    const slot = slots[i % slots.length];
    const externals = Array.from({ length: MEETINGS * EXTERNAL_PER_MEETING }, (_, k) => {
      const n = (i * 7919 + k * 104_729) % EXTERNAL_POOL;
      return `person${n}@customer${n % 400}.example`;
    });
    for (const e of externals) referenced.add(e);
    feeds.push(feed(i, slot?.deliverAt ?? new Date(), externals));
  }

  const calendar = await listen((req, res) => {
    const index = Number(/\/cal\/(\d+)\.ics/.exec(req.url ?? '')?.[1]);
    const body = feeds[index];
    // Feeds do not change during the run: the refresh sync gets a 304, as an unchanged real feed would.
    if (body === undefined) res.writeHead(404).end();
    else if (req.headers['if-none-match'] === `"r${index}"`) res.writeHead(304).end();
    else res.writeHead(200, { 'content-type': 'text/calendar', etag: `"r${index}"` }).end(body);
  });
  const enrichCalls = new Map<string, number>();
  const enrichment = await listen((req, res) => {
    const email = new URL(req.url ?? '/', 'http://x').searchParams.get('email') ?? '';
    enrichCalls.set(email, (enrichCalls.get(email) ?? 0) + 1);
    const n = Number(/person(\d+)/.exec(email)?.[1] ?? 0);
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        status: 200,
        likelihood: 8,
        data: {
          full_name: `person ${n}`,
          job_title: 'head of procurement',
          job_company_name: `customer ${n % 400}`,
          job_company_size: '51-200',
          job_company_industry: 'logistics',
          location_name: 'lisbon, portugal',
          linkedin_url: `linkedin.com/in/person-${n}`,
        },
      }),
    );
  });
  const sendgrid = await startFakeSendgrid();

  const env: Record<string, string | undefined> = {
    ...process.env,
    NODE_ENV: 'test',
    DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${name}`,
    DATABASE_POOL_SIZE: '30',
    QUEUE_PREFIX: name,
    PORT: '0',
    METRICS_PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    ENCRYPTION_KEY: key,
    EMAIL_PROVIDERS: 'sendgrid',
    SENDGRID_API_KEY: 'SG.bench-key',
    SENDGRID_BASE_URL: sendgrid.url,
    PDL_API_KEY: 'bench-pdl-key',
    PDL_BASE_URL: enrichment.url,
    ENRICHMENT_RATE_PER_MINUTE: '1000000',
    COMPANY_DOMAINS: 'acme.test',
    BRIEFING_REFRESH_MINUTES: '1',
    BRIEFING_CONCURRENCY: process.env.BRIEFING_CONCURRENCY ?? '20',
    SCHEDULER_PROCESS_EVERY_MS: '1000',
    SLACK_BOT_TOKEN: '',
    SLACK_SIGNING_SECRET: '',
    SLACK_APP_TOKEN: '',
  };
  const config = loadConfig(env);
  await prepareDatabase(config.databaseUrl);
  const pool = new pg.Pool({ connectionString: config.databaseUrl, max: 4 });
  const box = new SecretBox(Buffer.from(key, 'hex'));
  for (let i = 0; i < REPS; i += 500) {
    const batch = Array.from({ length: Math.min(500, REPS - i) }, (_, j) => i + j);
    const { rows } = await pool.query(
      `INSERT INTO reps (name, email, time_zone, prep_time, briefing_time, calendar_source)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::calendar_source[])
       RETURNING id, email`,
      [
        batch.map((n) => `Rep ${n}`),
        batch.map((n) => `rep${n}@acme.test`),
        batch.map((n) => slots[n % slots.length]?.zone),
        batch.map((n) => slots[n % slots.length]?.prepTime),
        batch.map((n) => slots[n % slots.length]?.briefingTime),
        batch.map(() => 'ics'),
      ],
    );
    await pool.query(
      `INSERT INTO calendar_connections (rep_id, provider, auth_kind, credentials)
       SELECT * FROM unnest($1::uuid[], $2::calendar_source[], $3::text[], $4::text[])`,
      [
        rows.map((r) => r.id),
        rows.map(() => 'ics'),
        rows.map(() => 'url'),
        rows.map((r) =>
          box.seal({ url: `${calendar.url}/cal/${Number(/rep(\d+)@/.exec(r.email)?.[1])}.ics` }),
        ),
      ],
    );
  }
  const externalUnique = referenced.size;
  console.log(
    `Briefings benchmark: ${REPS} reps in ${slots.length} zones (${slots.map((s) => s.zone).join(', ')}), ${MEETINGS} meetings x ${EXTERNAL_PER_MEETING} external attendees each (${externalUnique} unique external emails)`,
  );
  console.log(
    `preparation at ${slots[0]?.deliverAt ? new Date(slots[0].deliverAt.getTime() - 180_000).toISOString() : ''}, delivery 3 min later`,
  );

  // As deployed for scale: one process with every role plus BENCH_WORKERS worker-only processes.
  const service = await spawnService('all', env);
  const workers = await Promise.all(
    Array.from({ length: Number(process.env.BENCH_WORKERS ?? 1) }, () => spawnService('worker', env)),
  );
  const count = async (sql: string) => Number((await pool.query(sql)).rows[0].n);
  const deadline = Date.now() + 10 * 60_000;
  while (Date.now() < deadline && sendgrid.receivedAt.size < REPS) {
    await new Promise((resolve) => setTimeout(resolve, 500));
    if ((await count("SELECT count(*)::int n FROM briefings WHERE status IN ('failed','skipped')")) > 0)
      break;
  }
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  const stats = (
    await pool.query(
      `SELECT count(*)::int AS n, count(prepared_at)::int AS prepared,
              extract(epoch FROM max(prepared_at) - min(created_at)) AS prepare_seconds,
              count(*) FILTER (WHERE status = 'scheduled')::int AS scheduled,
              count(*) FILTER (WHERE status NOT IN ('scheduled', 'prepared', 'pending'))::int AS other
       FROM briefings`,
    )
  ).rows[0];
  // When finalize handed each briefing to delivery, relative to its delivery time (negative: ahead).
  const handedOff = (
    await pool.query(
      `SELECT extract(epoch FROM percentile_disc(0.5) WITHIN GROUP (ORDER BY m.created_at - b.deliver_at)) AS p50,
              extract(epoch FROM max(m.created_at - b.deliver_at)) AS max
       FROM briefings b JOIN messages m ON m.id = b.message_id`,
    )
  ).rows[0];
  const statuses = (
    await pool.query('SELECT status, count(*)::int n, min(reason) reason FROM briefings GROUP BY 1')
  ).rows;
  const deliverAt = new Map<string, number>(
    (await pool.query('SELECT message_id, deliver_at FROM briefings WHERE message_id IS NOT NULL')).rows.map(
      (r) => [r.message_id, r.deliver_at.getTime()],
    ),
  );
  const lateness = [...sendgrid.receivedAt.entries()]
    .map(([id, at]) => performance.timeOrigin + at - (deliverAt.get(id) ?? Number.NaN))
    .filter((ms) => Number.isFinite(ms))
    .sort((a, b) => a - b);
  await Promise.all([service, ...workers].map((p) => p.stop()));
  await pool.end();
  await dropBenchState({ databaseUrl: config.databaseUrl, redisUrl: config.redisUrl, prefix: name });
  await Promise.all([calendar.close(), enrichment.close(), sendgrid.close()]);

  const calls = [...enrichCalls.values()].reduce((a, b) => a + b, 0);
  const seconds = Number(stats.prepare_seconds);
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  console.log(
    `briefings:              ${stats.n} created, ${stats.prepared} prepared, ${stats.scheduled} handed to delivery; ${JSON.stringify(statuses.filter((r) => !['scheduled'].includes(r.status)))}`,
  );
  console.log(
    `prepared:               ${stats.prepared} in ${seconds.toFixed(1)} s from the first row = ${(stats.prepared / seconds).toFixed(0)} briefings/s (target: all in < 60 s)`,
  );
  console.log(
    `enrichment calls:       ${calls} for ${enrichCalls.size} distinct emails asked, ${externalUnique} unique in the calendars (${calls === externalUnique ? 'equal' : 'NOT equal'})`,
  );
  console.log(
    `delivered at provider:  ${sendgrid.receivedAt.size} of ${REPS}; duplicates ${sendgrid.duplicates()}`,
  );
  console.log(
    `handed to delivery:     p50 ${Number(handedOff.p50).toFixed(2)} s, last ${Number(handedOff.max).toFixed(2)} s relative to the delivery time (refresh ${env.BRIEFING_REFRESH_MINUTES} min before)`,
  );
  console.log(
    `lateness vs local time: p50 ${s(percentile(lateness, 50))}, p99 ${s(percentile(lateness, 99))}, max ${s(lateness.at(-1) ?? Number.NaN)} (target p99 < 5 s)`,
  );
}

runBench(main);
