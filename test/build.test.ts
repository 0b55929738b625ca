import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, statSync, utimesSync } from 'node:fs';
import { join, relative } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './helpers/cli.ts';
import { dropDatabase, testEnv } from './helpers/service.ts';
import { startSmtpServer } from './helpers/smtp.ts';

/**
 * The production build, as the Docker image runs it: `bin/build.js` compiles into a throwaway folder
 * inside the checkout (so package.json, drizzle/ and node_modules resolve as they do from dist/),
 * then the compiled CLI runs under plain `node`, without tsx.
 */
const OUT = join(ROOT, 'var', `build-test-${process.pid}-${randomBytes(3).toString('hex')}`);
const env = testEnv({ SLACK_BOT_TOKEN: '', SLACK_SIGNING_SECRET: '', LOG_LEVEL: 'warn' });

function run(
  args: string[],
  extraEnv: Record<string, string | undefined> = {},
): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH, ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (c) => {
    out += c;
  });
  child.stderr.on('data', (c) => {
    out += c;
  });
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, out })));
}

function* files(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else yield path;
  }
}

beforeAll(async () => {
  const built = await run(['bin/build.js', '--out-dir', OUT]);
  if (built.code !== 0) throw new Error(`build failed:\n${built.out}`);
}, 300_000);

afterAll(async () => {
  rmSync(OUT, { recursive: true, force: true });
  await dropDatabase(env.DATABASE_URL as string);
});

describe('production build', () => {
  it('when built, then every module of src/, blocks/ and emails/ is JavaScript with a sourcemap and imports no .ts file', () => {
    const emitted = [...files(OUT)].map((path) => relative(OUT, path));
    const sources = ['src', 'blocks', 'emails'].flatMap((dir) =>
      [...files(join(ROOT, dir))].map((path) => relative(ROOT, path)).filter((p) => /\.tsx?$/.test(p)),
    );
    for (const source of sources) {
      const js = source.replace(/\.tsx?$/, '.js');
      expect(emitted).toContain(js);
      expect(emitted).toContain(`${js}.map`);
      const code = readFileSync(join(OUT, js), 'utf8');
      expect(code, js).not.toMatch(/from\s+["']\.{1,2}\/[^"']+\.tsx?["']/);
    }
    expect(emitted).toContain('src/calendars/demo/demo-calendar.ics');
    expect(emitted.some((p) => p.startsWith('test/') || p.startsWith('bench/'))).toBe(false);
  });

  it('when the compiled CLI migrates a fresh database, then it finds the migrations from the build', async () => {
    const res = await run([join(OUT, 'src/cli.js'), 'migrate'], env);
    expect(res.code, res.out).toBe(0);
    const client = new pg.Client({ connectionString: env.DATABASE_URL });
    await client.connect();
    try {
      const { rows } = await client.query('SELECT count(*)::int AS n FROM drizzle.__drizzle_migrations');
      const journal = JSON.parse(readFileSync(join(ROOT, 'drizzle/meta/_journal.json'), 'utf8'));
      expect(rows[0].n).toBe(journal.entries.length);
    } finally {
      await client.end();
    }
  });

  it('when `briefly demo` runs from the build in production mode, then the bundled calendar syncs and the briefing goes out by SMTP', async () => {
    const smtp = await startSmtpServer();
    try {
      const res = await run([join(OUT, 'src/cli.js'), 'demo'], {
        ...env,
        NODE_ENV: 'production',
        ENCRYPTION_KEY: randomBytes(32).toString('base64'),
        SMTP_URL: smtp.url,
      });
      expect(res.code, res.out).toBe(0);
      expect(res.out).toMatch(
        /Today's briefing: message [0-9a-f-]{36}, sent: demo\.rep@briefly\.example via smtp/,
      );
      // The demo's other data may send mail of its own meanwhile (appointment confirmations).
      const briefings = smtp.received.filter((m) => /^Subject: Your briefing for /m.test(m.raw));
      expect(briefings.map((m) => m.to)).toEqual([['demo.rep@briefly.example']]);
    } finally {
      await smtp.close();
    }
  });

  it('when a source is newer than the build, then the build is stale; else `--if-stale` leaves it alone', async () => {
    const stamp = join(OUT, '.build-stamp');
    const builtAt = statSync(stamp).mtimeMs;
    expect((await run(['bin/build.js', '--check', '--out-dir', OUT])).code).toBe(0);
    const again = await run(['bin/build.js', '--if-stale', '--out-dir', OUT]);
    expect(again.code).toBe(0);
    expect(again.out).not.toContain('Building');
    expect(statSync(stamp).mtimeMs).toBe(builtAt);
    utimesSync(stamp, new Date(0), new Date(0));
    expect((await run(['bin/build.js', '--check', '--out-dir', OUT])).code).toBe(2);
    utimesSync(stamp, new Date(builtAt), new Date(builtAt));
  });
});
