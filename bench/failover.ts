/**
 * npm run bench:failover: a steady stream of messages while the primary (a fake SendGrid on
 * loopback) fails every call and later recovers; the backup is a real SMTP server on loopback.
 * Prints the time to swap away, the time to swap back (scheduled probe, default settings) and
 * whether every message arrived exactly once. Asserts nothing.
 */
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../src/config/config.ts';
import { createPool } from '../src/db/client.ts';
import { createLogger } from '../src/logging/logger.ts';
import { startService } from '../src/main.ts';
import { startFakeSendgrid } from './fake-sendgrid.ts';
import { startCountingSmtp } from './fake-smtp.ts';
import { runBench } from './finish.ts';
import { dropBenchState } from './state.ts';

const RATE_PER_SECOND = 100;

async function main() {
  const sendgrid = await startFakeSendgrid();
  const smtp = await startCountingSmtp();
  const smtpIds = smtp.received;

  const name = `briefly_bench_${randomBytes(3).toString('hex')}`;
  const config = loadConfig({
    ...process.env,
    NODE_ENV: 'test',
    DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${name}`,
    QUEUE_PREFIX: name,
    PORT: '0',
    METRICS_PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'error',
    LOG_FORMAT: 'json',
    EMAIL_PROVIDERS: 'sendgrid,smtp',
    SENDGRID_API_KEY: 'SG.bench-key',
    SENDGRID_BASE_URL: sendgrid.url,
    SMTP_URL: smtp.url,
    SLACK_BOT_TOKEN: '',
    SLACK_SIGNING_SECRET: '',
    SLACK_APP_TOKEN: '',
  });
  const service = await startService(config, createLogger({ level: 'error', format: 'json' }), 'all');
  const pool = createPool(config.databaseUrl, 2);

  const ids: string[] = [];
  let sending = true;
  const producer = (async () => {
    let i = 0;
    while (sending) {
      const { id } = await service.delivery.service.sendInternal({
        kind: 'bench',
        to: [{ email: `lead${i++}@client.test` }],
        subject: 'Failover bench',
        text: 'hello',
      });
      ids.push(id);
      await new Promise((resolve) => setTimeout(resolve, 1000 / RATE_PER_SECOND));
    }
  })();
  const swapAt = async (state: 'open' | 'closed') => {
    const { rows } = await pool.query(
      "SELECT at FROM provider_swaps WHERE provider = 'sendgrid' AND state = $1 ORDER BY id DESC LIMIT 1",
      [state],
    );
    return rows[0]?.at as Date | undefined;
  };
  const waitUntil = async (check: () => Promise<boolean>) => {
    while (!(await check())) await new Promise((resolve) => setTimeout(resolve, 20));
  };

  await new Promise((resolve) => setTimeout(resolve, 2_000));
  const outageStart = Date.now();
  sendgrid.state.failing = true;
  await waitUntil(async () => (await swapAt('open')) !== undefined);
  const opened = (await swapAt('open'))?.getTime() ?? Number.NaN;
  await waitUntil(async () => smtpIds.size > 0);
  const firstViaBackup = Date.now();

  await new Promise((resolve) => setTimeout(resolve, 5_000));
  const recovery = Date.now();
  sendgrid.state.failing = false;
  await waitUntil(async () => (await swapAt('closed')) !== undefined);
  const closed = (await swapAt('closed'))?.getTime() ?? Number.NaN;
  const viaSendgridBefore = sendgrid.receivedAt.size;
  await waitUntil(async () => sendgrid.receivedAt.size > viaSendgridBefore);
  const firstViaPrimaryAgain = Date.now();
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  sending = false;
  await producer;
  await waitUntil(async () => {
    const { rows } = await pool.query("SELECT count(*)::int AS n FROM messages WHERE status = 'sent'");
    return rows[0].n >= ids.length;
  });

  const perProvider = await pool.query('SELECT provider, count(*)::int AS n FROM messages GROUP BY provider');
  const twice = ids.filter((id) => (sendgrid.receivedAt.has(id) ? 1 : 0) + (smtpIds.get(id) ?? 0) !== 1);
  console.log(
    `Failover benchmark: ${ids.length} messages at ~${RATE_PER_SECOND}/s; circuit opens after ${config.circuit.consecutiveFailures} consecutive failures; probe every 10 s, scheduler polls every ${config.schedulerProcessEveryMs / 1000} s`,
  );
  console.log(
    `swap away:  circuit open ${opened - outageStart} ms after the outage began; first message via SMTP after ${firstViaBackup - outageStart} ms`,
  );
  console.log(
    `swap back:  circuit closed ${closed - recovery} ms after SendGrid recovered; first message via SendGrid again after ${firstViaPrimaryAgain - recovery} ms`,
  );
  console.log(`by provider: ${perProvider.rows.map((r) => `${r.provider}=${r.n}`).join(', ')}`);
  console.log(`messages not delivered exactly once: ${twice.length}`);

  await service.stop();
  await pool.end();
  await sendgrid.close();
  await smtp.close();
  await dropBenchState({ databaseUrl: config.databaseUrl, redisUrl: config.redisUrl, prefix: name });
}

runBench(main);
