import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.ts';
import { dropDatabase, testEnv } from '../helpers/service.ts';

const env = testEnv({ SLACK_BOT_TOKEN: '', SLACK_SIGNING_SECRET: '', LOG_LEVEL: 'warn', LOG_FORMAT: 'json' });
const SECRET = 'private-cli-5e6f7a8b';
let server: Server;
let base: string;
let db: pg.Pool;

const FEED = [
  'BEGIN:VCALENDAR',
  'VERSION:2.0',
  'PRODID:-//test//EN',
  'BEGIN:VEVENT',
  'UID:cli-1@test',
  'DTSTAMP:20260101T000000Z',
  // Floating: 15:00 wherever the rep is (New York here), daily so it always lands in the window.
  'DTSTART:20260101T150000',
  'DTEND:20260101T153000',
  'RRULE:FREQ=DAILY',
  'SUMMARY:Daily pipeline call',
  'END:VEVENT',
  'END:VCALENDAR',
  '',
].join('\r\n');

beforeAll(async () => {
  // The CLI is another process: a loopback server stands in for the calendar host.
  server = createServer((request, response) => {
    if (request.url === `/${SECRET}/basic.ics`) {
      response.writeHead(200, { 'content-type': 'text/calendar' }).end(FEED);
      return;
    }
    response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const migrated = await runCli(['migrate'], env);
  expect(migrated.code).toBe(0);
  db = new pg.Pool({ connectionString: env.DATABASE_URL, max: 1 });
  await db.query(
    `INSERT INTO reps (name, email, time_zone) VALUES ('Nia Park', 'nia@acme.test', 'America/New_York')`,
  );
});
afterAll(async () => {
  await db?.end();
  await new Promise((resolve) => server?.close(resolve));
  await dropDatabase(env.DATABASE_URL as string);
});

describe('briefly reps connect-ics', () => {
  it('when given a rep email and a feed URL, then the URL is stored encrypted, synced once, and nothing secret is printed', async () => {
    const res = await runCli(['reps', 'connect-ics', 'NIA@acme.test', `${base}/${SECRET}/basic.ics`], env);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(
      /ICS feed connected for nia@acme\.test \(rep [0-9a-f-]{36}\); first sync: \d+ events/,
    );
    expect(res.stdout + res.stderr).not.toContain(SECRET);

    const { rows } = await db.query(
      `SELECT c.provider, c.credentials, c.status, r.calendar_source FROM calendar_connections c
       JOIN reps r ON r.id = c.rep_id WHERE r.email = 'nia@acme.test'`,
    );
    expect(rows[0]).toMatchObject({ provider: 'ics', status: 'active', calendar_source: 'ics' });
    expect(rows[0].credentials).not.toContain(SECRET);
    // The floating 15:00 is New York time: 20:00Z in winter, 19:00Z in summer.
    const events = await db.query(
      `SELECT DISTINCT extract(hour FROM starts_at AT TIME ZONE 'America/New_York') AS hour FROM calendar_events`,
    );
    expect(events.rows.map((r) => Number(r.hour))).toEqual([15]);
  });

  it('when given the rep id and a feed that answers 404, then it exits 1 with the reason and the connection is broken', async () => {
    const { rows } = await db.query(`SELECT id FROM reps WHERE email = 'nia@acme.test'`);
    const res = await runCli(['reps', 'connect-ics', rows[0].id, `${base}/${SECRET}/moved.ics`], env);
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/could not be read: .*HTTP 404/);
    expect(res.stdout + res.stderr).not.toContain(SECRET);
    const status = await db.query('SELECT status FROM calendar_connections WHERE rep_id = $1', [rows[0].id]);
    expect(status.rows[0].status).toBe('broken');
  });

  it('when the rep is unknown, then it exits 1 naming what was looked for', async () => {
    const unknown = await runCli(['reps', 'connect-ics', 'ghost@acme.test', `${base}/a.ics`], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('No rep has the id or email "ghost@acme.test"');
  });

  it('when the URL is not a feed URL, then it exits 1 naming the url field', async () => {
    const bad = await runCli(['reps', 'connect-ics', 'nia@acme.test', 'ftp://example.test/a.ics'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/url: must start with https:\/\/, http:\/\/ or webcal:\/\//);
  });

  it('when the URL is missing, then it exits 1 with the usage', async () => {
    const missing = await runCli(['reps', 'connect-ics', 'nia@acme.test'], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('reps takes: connect-ics <rep-email-or-id> <url>');
  });
});
