/**
 * npm run bench:delivery: 20,000 messages accepted through the HTTP API and delivered to a fake
 * SendGrid on loopback, plus BullMQ's raw no-op throughput on the same Redis for comparison.
 * The service runs as it would in production: a `web` process and `worker` process(es)
 * (BENCH_WORKERS, default 1), separate from this load generator. Prints figures; asserts nothing.
 * BENCH_MESSAGES overrides the count; BENCH_WARMUP (default 1,000, not measured) the warm-up before it;
 * BENCH_PROFILE_DIR=<dir> runs the web and worker processes under `node --cpu-prof` into <dir>.
 */
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'node:http';
import { loadavg } from 'node:os';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { ApiKeyService } from '../src/api-keys/api-key.service.ts';
import { AuditRepository } from '../src/audit/audit.repository.ts';
import { loadConfig } from '../src/config/config.ts';
import { createDatabase, createPool } from '../src/db/client.ts';
import { percentile, startFakeSendgrid } from './fake-sendgrid.ts';
import { runBench } from './finish.ts';
import { cpuMs, cpuMsOfCommand, sendgridBenchEnv, spawnService } from './spawn.ts';
import { dropBenchState, waitFor } from './state.ts';

const TOTAL = Number(process.env.BENCH_MESSAGES ?? 20_000);
const HTTP_CONCURRENCY = 64;
/** Messages sent (and delivered) before the measured run starts; BENCH_WARMUP=0 measures cold. */
const WARMUP = Number(process.env.BENCH_WARMUP ?? 1_000);

/**
 * One POST on a keep-alive agent with node:http: the load generator shares the machine with the
 * service, and fetch (undici) cost it about twice the CPU per request.
 */
function postJson(
  agent: Agent,
  url: string,
  key: string,
  body: unknown,
): Promise<{ status: number; body: string }> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          authorization: `Bearer ${key}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(payload),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          text += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

async function rawBullmq(redisUrl: string, total: number): Promise<number> {
  const prefix = `bench_noop_${randomBytes(3).toString('hex')}`;
  const connection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue('noop', { connection, prefix });
  let done = 0;
  const started = performance.now();
  // A connection handed to BullMQ stays ours to close (worker.close() leaves it open).
  const workerConnection = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const worker = new Worker('noop', async () => undefined, {
    connection: workerConnection,
    prefix,
    concurrency: 100,
  });
  worker.on('completed', () => {
    done++;
  });
  for (let i = 0; i < total; i += 1_000) {
    await queue.addBulk(
      Array.from({ length: Math.min(1_000, total - i) }, (_, j) => ({
        name: 'noop',
        data: { messageId: `m${i + j}` },
        opts: { jobId: `noop-${i + j}`, removeOnComplete: true },
      })),
    );
  }
  await waitFor(() => done >= total, 120_000);
  const seconds = (performance.now() - started) / 1000;
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  await Promise.all([connection.quit(), workerConnection.quit()]);
  return total / seconds;
}

async function main() {
  const sendgrid = await startFakeSendgrid();
  const { env } = sendgridBenchEnv(sendgrid.url);
  const config = loadConfig(env);
  const web = await spawnService('web', env);
  const workers = await Promise.all(
    Array.from({ length: Number(process.env.BENCH_WORKERS ?? 1) }, () => spawnService('worker', env)),
  );
  const service = { url: web.url };
  const loadAtStart = loadavg()[0] ?? Number.NaN;
  // Raw BullMQ is measured before and after the run and averaged: the machine's speed drifts
  // (other tenants), and one measurement on one side of the run skews the ratio with it.
  const noopBefore = await rawBullmq(config.redisUrl, TOTAL);
  const pool = createPool(config.databaseUrl, 2);
  const db = createDatabase(pool);
  const { key } = await new ApiKeyService(db, new AuditRepository(db)).create('bench', 'bench');

  console.log(
    `Delivery benchmark: ${TOTAL} messages (after ${WARMUP} warm-up messages), HTTP concurrency ${HTTP_CONCURRENCY}, ${config.delivery.concurrency} sends in flight per worker, load average ${loadAtStart.toFixed(2)} at start`,
  );
  const cpuOf = () => ({
    web: cpuMs(web.pid),
    worker: workers.reduce<number | undefined>((sum, w) => {
      const ms = cpuMs(w.pid);
      return sum === undefined || ms === undefined ? undefined : sum + ms;
    }, 0),
    // Everything else the run costs on this machine: the load generator and fake SendGrid (this
    // process), and PostgreSQL and Redis (which also serve other work, if any runs meanwhile).
    bench: (() => {
      const usage = process.cpuUsage();
      return (usage.user + usage.system) / 1000;
    })(),
    postgres: cpuMsOfCommand('postgres'),
    redis: cpuMsOfCommand('redis-server'),
  });
  let rejected = 0;
  const agent = new Agent({ keepAlive: true, maxSockets: HTTP_CONCURRENCY });
  /** Posts `count` messages from HTTP_CONCURRENCY clients; records when each 202 arrived. */
  const post = async (count: number, acceptedAt: Map<string, number>, label: string) => {
    let next = 0;
    await Promise.all(
      Array.from({ length: HTTP_CONCURRENCY }, async () => {
        while (next < count) {
          const i = next++;
          const res = await postJson(agent, `${service.url}/v1/messages`, key, {
            to: [`lead${i}@client.test`],
            subject: `Your invoice #${label}${i}`,
            text: `Hello, invoice ${i} is attached.`,
            html: `<p>Hello, invoice <b>${i}</b> is attached.</p>`,
            tags: ['bench'],
          });
          if (res.status !== 202) {
            rejected++;
            continue;
          }
          const { id } = JSON.parse(res.body) as { id: string };
          acceptedAt.set(id, performance.now());
        }
      }),
    );
  };
  // Warm-up, not measured: freshly started processes run cold code (and, under tsx, transpile
  // modules on first use) for their first few hundred messages, which would otherwise show up
  // as seconds of accept-to-provider latency for the first messages of every run.
  const warmed = new Map<string, number>();
  if (WARMUP > 0) {
    await post(WARMUP, warmed, 'w');
    await waitFor(() => sendgrid.receivedAt.size >= warmed.size, 120_000);
    sendgrid.receivedAt.clear();
  }
  /** Statements committed in the bench database and commands Redis ran: round trips per message. */
  const redisStats = new Redis(config.redisUrl);
  const trips = async () => {
    const { rows } = await pool.query(
      'SELECT xact_commit::bigint AS n FROM pg_stat_database WHERE datname = current_database()',
    );
    const info = await redisStats.info('stats');
    const commands = new Map<string, number>();
    for (const [, name, calls] of (await redisStats.info('commandstats')).matchAll(
      /cmdstat_([^:]+):calls=(\d+)/g,
    ))
      commands.set(name as string, Number(calls));
    return {
      pg: Number(rows[0]?.n ?? 0),
      redis: Number(/total_commands_processed:(\d+)/.exec(info)?.[1] ?? 0),
      commands,
    };
  };
  const tripsBefore = await trips();
  const cpuBefore = cpuOf();
  const acceptedAt = new Map<string, number>();
  const started = performance.now();
  await post(TOTAL, acceptedAt, '');
  const acceptSeconds = (performance.now() - started) / 1000;
  const all = await waitFor(() => sendgrid.receivedAt.size >= acceptedAt.size, 600_000);
  const deliveredSeconds = (performance.now() - started) / 1000;
  await waitFor(async () => {
    const { rows } = await pool.query("SELECT count(*)::int AS n FROM messages WHERE status = 'sent'");
    return rows[0].n >= acceptedAt.size + warmed.size;
  }, 120_000);
  const recordedSeconds = (performance.now() - started) / 1000;
  const cpuAfter = cpuOf();
  // pg_stat_database is updated when a backend reports (about every second when idle).
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  const tripsAfter = await trips();
  await redisStats.quit();

  const latencies = [...acceptedAt.entries()]
    .map(([id, at]) => (sendgrid.receivedAt.get(id) ?? Number.NaN) - at)
    .filter((ms) => Number.isFinite(ms))
    .sort((a, b) => a - b);
  agent.destroy();
  await Promise.all([web, ...workers].map((p) => p.stop()));
  await pool.end();
  await dropBenchState({
    databaseUrl: config.databaseUrl,
    redisUrl: config.redisUrl,
    prefix: config.queuePrefix,
  });

  const noopAfter = await rawBullmq(config.redisUrl, TOTAL);
  const noopPerSecond = (noopBefore + noopAfter) / 2;
  const deliveredPerSecond = sendgrid.receivedAt.size / deliveredSeconds;
  await sendgrid.close();

  const f = (n: number) => n.toFixed(0);
  console.log(
    `accepted:               ${acceptedAt.size} (${rejected} rejected) in ${acceptSeconds.toFixed(2)} s = ${f(acceptedAt.size / acceptSeconds)}/s`,
  );
  console.log(
    `delivered to provider:  ${sendgrid.receivedAt.size}${all ? '' : ' (TIMED OUT)'} in ${deliveredSeconds.toFixed(2)} s end to end = ${f(deliveredPerSecond)}/s`,
  );
  console.log(
    `status 'sent' recorded: all by ${recordedSeconds.toFixed(2)} s; duplicates at provider: ${sendgrid.duplicates()}`,
  );
  console.log(
    `accept -> provider:     p50 ${f(percentile(latencies, 50))} ms, p99 ${f(percentile(latencies, 99))} ms, max ${f(latencies.at(-1) ?? Number.NaN)} ms`,
  );
  const perMessage = (role: keyof typeof cpuBefore) => {
    const before = cpuBefore[role];
    const after = cpuAfter[role];
    return before === undefined || after === undefined || acceptedAt.size === 0
      ? 'n/a'
      : `${((after - before) / acceptedAt.size).toFixed(2)} ms`;
  };
  console.log(`CPU per message:        web ${perMessage('web')}, worker(s) ${perMessage('worker')}`);
  console.log(
    `                        PostgreSQL ${perMessage('postgres')}, Redis ${perMessage('redis')}, load generator + fake SendGrid ${perMessage('bench')}`,
  );
  const perMsg = (n: number) => (acceptedAt.size ? (n / acceptedAt.size).toFixed(2) : 'n/a');
  console.log(
    `round trips per message: PostgreSQL transactions ${perMsg(tripsAfter.pg - tripsBefore.pg)}, Redis commands ${perMsg(tripsAfter.redis - tripsBefore.redis)}`,
  );
  const byCommand = [...tripsAfter.commands]
    .map(([name, calls]) => [name, calls - (tripsBefore.commands.get(name) ?? 0)] as const)
    .filter(([, calls]) => calls > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([name, calls]) => `${name} ${perMsg(calls)}`);
  console.log(`Redis commands per message by command: ${byCommand.join(', ')}`);
  console.log(
    `BullMQ raw no-op jobs:  ${f(noopPerSecond)}/s (same Redis, concurrency 100; ${f(noopBefore)}/s before the run, ${f(noopAfter)}/s after)`,
  );
  console.log(`delivered / raw BullMQ: ${(deliveredPerSecond / noopPerSecond).toFixed(2)}`);
  const ratio = deliveredPerSecond / noopPerSecond;
  const p99 = percentile(latencies, 99);
  console.log(
    `target ratio >= 0.2 and p99 accept -> provider < 500 ms: ${ratio >= 0.2 && p99 < 500 ? 'met' : 'NOT met'}`,
  );
}

runBench(main);
