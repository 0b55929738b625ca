import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Services still running: a bench that fails or exits early must not leave them behind. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/**
 * CPU time (user + system, ms) a process has used so far, from /proc (Linux); undefined elsewhere.
 * On a shared machine wall-clock rates swing with other load; CPU per message does not.
 */
export function cpuMs(pid: number | undefined): number | undefined {
  if (!pid) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of the whole line (11 and 12 after the name).
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return undefined;
  }
}

/**
 * CPU time (ms) used so far by every process whose command name is `name` (e.g. `postgres`,
 * `redis-server`), from /proc; undefined off Linux. Processes that exit in between are not
 * counted, so measure across a run whose connections stay open.
 */
export function cpuMsOfCommand(name: string): number | undefined {
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
  } catch {
    return undefined;
  }
  let total = 0;
  for (const pid of entries) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== name) continue;
    } catch {
      continue;
    }
    total += cpuMs(Number(pid)) ?? 0;
  }
  return total;
}

let built = false;

/**
 * What a bench runs: the production build (`dist/`, built first when stale), as `npm start` does,
 * so figures do not include tsx's loader; BENCH_SOURCE=1 runs the TypeScript sources with tsx.
 */
function entryPoint(): string[] {
  if (process.env.BENCH_SOURCE === '1') return ['--import', 'tsx', 'src/cli.ts'];
  if (!built) {
    execFileSync(process.execPath, ['bin/build.js', '--if-stale'], { cwd: ROOT, stdio: 'inherit' });
    built = true;
  }
  // The flags of `npm start` (package.json).
  return ['--enable-source-maps', '--max-semi-space-size=32', 'dist/src/cli.js'];
}

/** Starts `briefly start --role <role>` as its own process and resolves once it logs "ready". */
export async function spawnService(
  role: 'web' | 'worker' | 'all',
  env: Record<string, string | undefined>,
): Promise<{ url?: string; pid?: number; stop(): Promise<void> }> {
  const profile = process.env.BENCH_PROFILE_DIR
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`]
    : [];
  const child = spawn(process.execPath, [...profile, ...entryPoint(), 'start', '--role', role], {
    cwd: ROOT,
    env: { ...env, LOG_FORMAT: 'json', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  const url = await new Promise<string | undefined>((resolve, reject) => {
    let buffer = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      for (const line of buffer.split('\n')) {
        if (line.includes('Briefly ready')) resolve(/at (http:\/\/\S+?)"/.exec(line)?.[1]);
      }
    });
    child.once('exit', (code) =>
      reject(new Error(`${role} exited with ${code} before it was ready:\n${buffer}`)),
    );
  });
  child.stdout?.resume();
  return {
    url,
    pid: child.pid,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        // The service's own shutdown is bounded by SHUTDOWN_TIMEOUT_MS; past that, end it.
        const kill = setTimeout(() => child.kill('SIGKILL'), 30_000);
        child.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

/**
 * The environment of a bench against a fake SendGrid: its own database and queue prefix (`name`),
 * ports chosen by the system, no Slack, rate limits out of the way.
 */
export function sendgridBenchEnv(sendgridUrl: string): {
  name: string;
  env: Record<string, string | undefined>;
} {
  const name = `briefly_bench_${randomBytes(3).toString('hex')}`;
  return {
    name,
    env: {
      ...process.env,
      NODE_ENV: 'test',
      DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${name}`,
      QUEUE_PREFIX: name,
      PORT: '0',
      METRICS_PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'warn',
      LOG_FORMAT: 'json',
      EMAIL_PROVIDERS: 'sendgrid',
      SENDGRID_API_KEY: 'SG.bench-key',
      SENDGRID_BASE_URL: sendgridUrl,
      API_RATE_LIMIT_PER_MINUTE: '10000000',
      // The production default unless the caller sets it.
      DELIVERY_CONCURRENCY: process.env.DELIVERY_CONCURRENCY,
      SLACK_BOT_TOKEN: '',
      SLACK_SIGNING_SECRET: '',
      SLACK_APP_TOKEN: '',
    },
  };
}
