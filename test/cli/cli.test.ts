import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli, spawnCli } from '../helpers/cli.ts';
import { dropDatabase, testEnv } from '../helpers/service.ts';

const env = testEnv({ SLACK_BOT_TOKEN: '', SLACK_SIGNING_SECRET: '', LOG_LEVEL: 'info', LOG_FORMAT: 'json' });

afterAll(async () => dropDatabase(env.DATABASE_URL as string));

async function query<T = Record<string, unknown>>(sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: env.DATABASE_URL });
  await client.connect();
  try {
    return (await client.query(sql)).rows as T[];
  } finally {
    await client.end();
  }
}

/** What `briefly demo` leaves for each feature's screens. */
async function demoCounts() {
  return {
    customers: await query(
      `SELECT tag, count(DISTINCT time_zone)::int AS zones, count(*)::int AS n FROM customers GROUP BY tag`,
    ),
    mailouts: await query(
      `SELECT m.name, m.status, count(mm.id)::int AS messages FROM mailouts m
         LEFT JOIN mailout_messages mm ON mm.mailout_id = m.id GROUP BY m.id ORDER BY m.id`,
    ),
    managers: Number((await query(`SELECT count(*)::int AS n FROM reps WHERE role = 'manager'`))[0]?.n),
    sequences: await query(
      `SELECT s.name, s.status, count(e.id)::int AS enrolled FROM sequences s
         LEFT JOIN sequence_contacts e ON e.sequence_id = s.id GROUP BY s.id`,
    ),
    appointments: await query(
      `SELECT s.name AS service, a.status, count(DISTINCT a.id)::int AS n, count(nt.id)::int AS notes
         FROM appointments a JOIN services s ON s.id = a.service_id
         LEFT JOIN appointment_notes nt ON nt.appointment_id = a.id GROUP BY s.name, a.status`,
    ),
  };
}

async function sentMessages(): Promise<number> {
  const [row] = await query<{ n: number }>(
    `SELECT count(*)::int AS n FROM mailout_messages WHERE status = 'sent'`,
  );
  return Number(row?.n);
}

describe('briefly CLI', () => {
  it('when DATABASE_URL is bad, then the process stops at once listing the variable', async () => {
    const started = Date.now();
    const res = await runCli(['start'], { DATABASE_URL: 'mysql://nope', PORT: 'x' });
    expect(res.code).toBe(1);
    expect(res.stderr).toContain('Invalid configuration');
    expect(res.stderr).toMatch(/DATABASE_URL: must be a URL starting with postgres:\/\//);
    expect(res.stderr).toMatch(/PORT: /);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('when PostgreSQL is unreachable, then start fails with a message naming DATABASE_URL', async () => {
    const res = await runCli(['migrate'], { DATABASE_URL: 'postgres://postgres@127.0.0.1:1/briefly' });
    expect(res.code).toBe(1);
    expect(res.stderr).toMatch(/Cannot connect to PostgreSQL at 127\.0\.0\.1:1 \(DATABASE_URL\)/);
  });

  it('when an API key is created and revoked, then it is printed once and marked revoked', async () => {
    const created = await runCli(['api-key', 'create', 'CRM', 'sync'], env);
    expect(created.code).toBe(0);
    const key = created.stdout.match(/brf_[A-Za-z0-9_-]{43}/)?.[0];
    const id = created.stdout.match(/id ([0-9a-f-]{36})/)?.[1];
    expect(key).toBeDefined();
    const listed = await runCli(['api-key', 'list'], env);
    expect(listed.stdout).toContain('CRM sync');
    expect(listed.stdout).not.toContain(key as string);
    const revoked = await runCli(['api-key', 'revoke', id as string], env);
    expect(revoked.code).toBe(0);
    expect((await runCli(['api-key', 'list'], env)).stdout).toMatch(/CRM sync {2}send,read {2}revoked/);
    const unknown = await runCli(['api-key', 'revoke', '00000000-0000-4000-8000-000000000000'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/was not found/);
    // Six CLI processes, each compiling the sources through tsx: seconds each on a loaded machine.
  }, 60_000);

  it('when an API key is created with --scopes, then it has exactly those and says so; an unknown scope is refused', async () => {
    const created = await runCli(['api-key', 'create', 'Ops', '--scopes', 'read:all,admin'], env);
    expect(created.code).toBe(0);
    expect(created.stdout).toMatch(/scopes read:all,admin\)/);
    expect((await runCli(['api-key', 'list'], env)).stdout).toMatch(/Ops {2}read:all,admin {2}active/);
    const wrong = await runCli(['api-key', 'create', 'Bad', '--scopes', 'send,root'], env);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/unknown scope "root"/);
  }, 60_000);

  it('when started without Slack tokens, then it logs how to connect Slack, becomes ready, and exits cleanly on SIGTERM', async () => {
    const child = spawnCli(['start'], env);
    let out = '';
    child.stdout?.on('data', (c) => {
      out += c;
    });
    child.stderr?.on('data', (c) => {
      out += c;
    });
    const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`not ready in 20 s:\n${out}`)), 20_000);
      child.stdout?.on('data', () => {
        const line = out.split('\n').find((l) => l.includes('Briefly ready'));
        if (line) {
          clearTimeout(timer);
          resolve(JSON.parse(line));
        }
      });
    });
    expect(ready.message).toMatch(/^Briefly ready at http:\/\/127\.0\.0\.1:\d+$/);
    expect(ready.slack).toBe('not connected');
    expect(out).toContain('Slack is not connected');
    expect(out).toMatch(/README.md, section .{0,2}Connecting Slack/);
    const url = String(ready.message).split(' at ')[1];
    expect((await fetch(`${url}/readyz`)).status).toBe(200);

    const stoppedAt = Date.now();
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code).toBe(0);
    expect(Date.now() - stoppedAt).toBeLessThan(10_000);
  });

  it('when `briefly demo` runs on a fresh database, then a briefing from the bundled calendar lands in the file outbox', async () => {
    const res = await runCli(['demo'], { ...env, LOG_LEVEL: 'warn' });
    expect(res.stderr).not.toMatch(/Error/);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/Demo rep demo\.rep@briefly\.example/);
    expect(res.stdout).toMatch(/sent: an \.eml file in /);
    const dir = env.EMAIL_OUTBOX_DIR as string;
    // The demo's appointments may have their confirmations written meanwhile: the briefing is one file.
    const files = readdirSync(dir)
      .filter((f) => f.endsWith('.eml'))
      .filter((f) => /^Subject: Your briefing for /m.test(readFileSync(join(dir, f), 'utf8')));
    expect(files).toHaveLength(1);
    const eml = readFileSync(join(dir, files[0] as string), 'utf8');
    expect(eml).toMatch(/^To: .*demo\.rep@briefly\.example/m);
    expect(eml).toMatch(/^Subject: Your briefing for /m);
    const first = await demoCounts();
    expect(first).toEqual({
      customers: [{ tag: 'demo', zones: 7, n: 14 }],
      mailouts: [
        { name: 'Demo: spring offer (awaiting approval)', status: 'pending_approval', messages: 0 },
        { name: 'Demo: welcome message (running)', status: 'running', messages: 14 },
      ],
      managers: 1,
      sequences: [{ name: 'Demo: new trial follow-up', status: 'active', enrolled: 3 }],
      appointments: [{ service: 'Demo: discovery call', status: 'booked', n: 2, notes: 2 }],
    });
    // Some zones are always inside the 09:00-21:00 window (they are spread around the clock): their
    // customers were sent through the demo's own send API; the others wait for their window.
    const sent = Number(res.stdout.match(/"Demo: welcome message \(running\)": (\d+) sent/)?.[1]);
    expect(sent).toBeGreaterThan(0);
    expect(sent).toBeLessThan(14);
    expect(await sentMessages()).toBe(sent);
    expect(res.stdout).toMatch(/Customers: 14 tagged "demo" in 7 time zones \(14 new\)/);
    expect(res.stdout).toMatch(
      /Mailout \d+ "Demo: spring offer \(awaiting approval\)" awaits a manager's approval/,
    );
    expect(res.stdout).toMatch(/Sequence "Demo: new trial follow-up": 3 contacts enrolled/);
    expect(res.stdout).toMatch(/Service "Demo: discovery call": 2 upcoming appointments/);

    // Running it again reuses everything (and sends today's briefing again as an on-demand copy).
    const again = await runCli(['demo'], { ...env, LOG_LEVEL: 'warn' });
    expect(again.stderr).not.toMatch(/Error/);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/\(0 new\)/);
    expect(await demoCounts()).toEqual(first);
  }, 120_000);
});

describe('briefly customers import', () => {
  it('when a CSV file is imported, then counts and rejected lines are printed with a progress bar', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'briefly-import-'));
    const file = join(dir, 'customers.csv');
    writeFileSync(
      file,
      'phone,operator_code,tag,time_zone\n+79161112233,,vip,Europe/Moscow\nbad,,vip,Europe/Moscow\n',
    );
    const res = await runCli(['customers', 'import', file], env);
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('1 inserted, 0 updated, 1 rejected');
    expect(res.stdout).toMatch(/line 3: phone/);
    expect(res.stderr).toMatch(/\[#+\] 100% /);
  });
});
