/**
 * npm run bench:chaos: a bounded number of messages (CHAOS_MESSAGES, default 2,000) through the real
 * service (outbox, BullMQ, workers, circuit breaker, signed webhook) while a fake SendGrid on loopback
 * misbehaves: garbage 200 answers (a captive portal that never forwards the message), timeouts after
 * it received the message, and bursts of 429 during which its sandbox probe is rate-limited too. A real
 * SMTP server on loopback is the backup. The fake posts signed `processed` webhook events for what it
 * received, in batches, as SendGrid does.
 *
 * Prints how many messages were lost (accepted, never received by any provider), duplicated (received
 * more than once), and recorded as sent by a provider that never received them. Asserts nothing; exits
 * by itself when every message is final or after CHAOS_DEADLINE_S (default 240 s).
 */
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../src/config/config.ts';
import { createPool } from '../src/db/client.ts';
import { createLogger } from '../src/logging/logger.ts';
import { startService } from '../src/main.ts';
import { startCountingSmtp } from './fake-smtp.ts';
import { runBench } from './finish.ts';
import { dropBenchState } from './state.ts';

const TOTAL = Number(process.env.CHAOS_MESSAGES ?? 2_000);
const DEADLINE_S = Number(process.env.CHAOS_DEADLINE_S ?? 240);
const GARBAGE_RATE = 0.05;
const TIMEOUT_AFTER_RECEIPT_RATE = 0.03;
/** Every BURST_EVERY_MS, mail/send (probes included) answers 429 for BURST_MS. */
const BURST_EVERY_MS = 10_000;
const BURST_MS = 1_500;
const WEBHOOK_BATCH_MS = 1_000;
const FINAL = ['sent', 'delivered', 'failed', 'bounced', 'dropped', 'cancelled', 'suppressed'];

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Faults {
  garbage: number;
  timeouts: number;
  rateLimited: number;
  probes: number;
}

async function startChaoticSendgrid(started: number) {
  const received = new Map<string, number>();
  const faults: Faults = { garbage: 0, timeouts: 0, rateLimited: 0, probes: 0 };
  const pendingEvents: { id: string; xmid: string }[] = [];
  const hanging = new Set<ServerResponse>();
  let n = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      let body: {
        custom_args?: { briefly_message_id?: string };
        mail_settings?: { sandbox_mode?: { enable?: boolean } };
      } = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
      } catch {
        body = {};
      }
      const sandbox = body.mail_settings?.sandbox_mode?.enable === true;
      if (sandbox) faults.probes++;
      const inBurst = (Date.now() - started) % BURST_EVERY_MS >= BURST_EVERY_MS - BURST_MS;
      if (inBurst) {
        faults.rateLimited++;
        const reset = Math.ceil((Date.now() + 1_000) / 1000);
        res
          .writeHead(429, { 'content-type': 'application/json', 'X-RateLimit-Reset': String(reset) })
          .end('{"errors":[{"field":null,"message":"too many requests"}]}');
        return;
      }
      if (sandbox) {
        res.writeHead(200).end();
        return;
      }
      const id = body.custom_args?.briefly_message_id ?? '';
      const roll = Math.random();
      if (roll < GARBAGE_RATE) {
        // A captive portal: the request never reached SendGrid.
        faults.garbage++;
        res
          .writeHead(200, { 'content-type': 'text/html' })
          .end('<html><body>Sign in to continue</body></html>');
        return;
      }
      const xmid = `chaos${++n}`;
      received.set(id, (received.get(id) ?? 0) + 1);
      pendingEvents.push({ id, xmid });
      if (roll < GARBAGE_RATE + TIMEOUT_AFTER_RECEIPT_RATE) {
        // SendGrid has the message; its answer is lost.
        faults.timeouts++;
        hanging.add(res);
        return;
      }
      res.writeHead(202, { 'X-Message-Id': xmid }).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    faults,
    takeEvents: () => pendingEvents.splice(0, pendingEvents.length),
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function main() {
  const started = Date.now();
  const sendgrid = await startChaoticSendgrid(started);
  const smtp = await startCountingSmtp();
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const name = `briefly_bench_${randomBytes(3).toString('hex')}`;
  const config = loadConfig({
    ...process.env,
    NODE_ENV: 'test',
    DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${name}`,
    QUEUE_PREFIX: name,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'error',
    LOG_FORMAT: 'json',
    EMAIL_PROVIDERS: 'sendgrid,smtp',
    SENDGRID_API_KEY: 'SG.bench-key',
    SENDGRID_BASE_URL: sendgrid.url,
    SENDGRID_WEBHOOK_PUBLIC_KEY: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
    SMTP_URL: smtp.url,
    EMAIL_PROVIDER_TIMEOUT_MS: '1000',
    DELIVERY_BACKOFF_MS: '1000',
    DELIVERY_MAX_ATTEMPTS: '15',
    DELIVERY_UNKNOWN_OUTCOME_WAIT_MS: '5000',
    // Tolerant enough that SendGrid keeps most traffic (and meets the faults) between 429 bursts.
    CIRCUIT_CONSECUTIVE_FAILURES: '10',
    CIRCUIT_FAILURE_RATIO: '0.8',
    CIRCUIT_REOPEN_BACKOFF_MS: '1000',
    CIRCUIT_REOPEN_BACKOFF_MAX_MS: '8000',
    SLACK_BOT_TOKEN: '',
    SLACK_SIGNING_SECRET: '',
    SLACK_APP_TOKEN: '',
  });
  const service = await startService(config, createLogger({ level: 'error', format: 'json' }), 'all');
  const address = service.server?.server.address() as AddressInfo;
  const webhookUrl = `http://127.0.0.1:${address.port}/webhooks/sendgrid`;
  const pool = createPool(config.databaseUrl, 2);

  let webhooks = true;
  const webhookLoop = (async () => {
    while (webhooks) {
      await sleep(WEBHOOK_BATCH_MS);
      const events = sendgrid.takeEvents();
      if (events.length === 0) continue;
      const at = Math.floor(Date.now() / 1000);
      const body = `${JSON.stringify(
        events.map((e, i) => ({
          email: 'lead@client.test',
          timestamp: at,
          event: 'processed',
          sg_event_id: `${e.xmid}-${i}-processed`,
          sg_message_id: `${e.xmid}.filterdrecv-1.0`,
          briefly_message_id: e.id,
        })),
      )}\r\n`;
      const timestamp = String(at);
      const signature = sign(
        'sha256',
        Buffer.concat([Buffer.from(timestamp), Buffer.from(body)]),
        privateKey,
      ).toString('base64');
      await fetch(webhookUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-twilio-email-event-webhook-signature': signature,
          'x-twilio-email-event-webhook-timestamp': timestamp,
        },
        body,
      }).catch(() => undefined);
    }
  })();

  const ids: string[] = [];
  for (let i = 0; i < TOTAL; i++) {
    const { id } = await service.delivery.service.sendInternal({
      kind: 'bench',
      to: [{ email: `lead${i}@client.test` }],
      subject: `Chaos ${i}`,
      text: 'hello',
    });
    ids.push(id);
    if (i % 50 === 49) await sleep(100);
  }

  const deadline = started + DEADLINE_S * 1000;
  let open = TOTAL;
  while (Date.now() < deadline) {
    const { rows } = await pool.query(
      'SELECT count(*)::int AS n FROM messages WHERE kind = $1 AND NOT (status::text = ANY($2))',
      ['bench', FINAL],
    );
    open = rows[0].n;
    if (open === 0) break;
    await sleep(500);
  }
  const elapsed = (Date.now() - started) / 1000;
  // Late webhook events must land before the figures are taken.
  await sleep(WEBHOOK_BATCH_MS * 2);
  webhooks = false;
  await webhookLoop;

  const { rows } = await pool.query('SELECT id, status, provider FROM messages WHERE kind = $1', ['bench']);
  const byStatus = new Map<string, number>();
  let lost = 0;
  let duplicated = 0;
  let duplicatedSameProvider = 0;
  let falselySent = 0;
  for (const row of rows as { id: string; status: string; provider: string | null }[]) {
    byStatus.set(row.status, (byStatus.get(row.status) ?? 0) + 1);
    const viaSendgrid = sendgrid.received.get(row.id) ?? 0;
    const viaSmtp = smtp.received.get(row.id) ?? 0;
    if (viaSendgrid + viaSmtp === 0) lost++;
    if (viaSendgrid + viaSmtp > 1) {
      duplicated++;
      if (viaSendgrid > 1 || viaSmtp > 1) duplicatedSameProvider++;
    }
    const sentish = !['failed', 'cancelled', 'suppressed', 'queued', 'sending', 'deferred'].includes(
      row.status,
    );
    if (
      sentish &&
      ((row.provider === 'sendgrid' && viaSendgrid === 0) || (row.provider === 'smtp' && viaSmtp === 0))
    )
      falselySent++;
  }
  const events = await pool.query(
    `SELECT type, count(*)::int AS n FROM message_events WHERE type IN ('unknown_outcome', 'stale_send') GROUP BY type`,
  );
  const eventCount = (type: string) => events.rows.find((r) => r.type === type)?.n ?? 0;
  const resolved = await pool.query(
    "SELECT count(*)::int AS n FROM message_events WHERE type = 'sent' AND detail->>'resolved_by' = 'webhook'",
  );
  const swaps = await pool.query('SELECT state, count(*)::int AS n FROM provider_swaps GROUP BY state');

  console.log(
    `Chaos benchmark: ${TOTAL} messages, fake SendGrid with ${GARBAGE_RATE * 100}% garbage 200s, ${TIMEOUT_AFTER_RECEIPT_RATE * 100}% timeouts after receipt, 429 bursts of ${BURST_MS / 1000} s every ${BURST_EVERY_MS / 1000} s; SMTP backup; webhook batches every ${WEBHOOK_BATCH_MS / 1000} s`,
  );
  console.log(
    `faults injected: ${sendgrid.faults.garbage} garbage 200, ${sendgrid.faults.timeouts} timeouts after receipt, ${sendgrid.faults.rateLimited} answered 429 (${sendgrid.faults.probes} sandbox probes in all)`,
  );
  console.log(
    `finished in ${elapsed.toFixed(1)} s${open > 0 ? ` (deadline reached, ${open} not final)` : ''}; statuses: ${[...byStatus].map(([s, n]) => `${s}=${n}`).join(', ')}`,
  );
  console.log(
    `unknown outcomes: ${eventCount('unknown_outcome')} (resolved by webhook without resending: ${resolved.rows[0].n}); stale sends: ${eventCount('stale_send')}; circuit swaps: ${swaps.rows.map((r) => `${r.state}=${r.n}`).join(', ') || 'none'}`,
  );
  console.log(`lost: ${lost}`);
  console.log(
    `duplicated: ${duplicated} (same provider twice: ${duplicatedSameProvider}; SendGrid and SMTP: ${duplicated - duplicatedSameProvider})`,
  );
  console.log(`recorded as sent by a provider that never received them: ${falselySent}`);

  await service.stop();
  await pool.end();
  await sendgrid.close();
  await smtp.close();
  await dropBenchState({ databaseUrl: config.databaseUrl, redisUrl: config.redisUrl, prefix: name });
}

runBench(main);
