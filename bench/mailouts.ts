/**
 * npm run bench:mailouts: customers import, fan-out, sustained sending and a misbehaving send API,
 * against a local fake send API answering in ~20 ms. The service runs as in production (a `web`
 * and a `worker` process). Prints figures; asserts nothing. Bounded by env:
 *   BENCH_CUSTOMERS (1,000,000)   customers imported and fanned out
 *   BENCH_SEND (60,000)           messages of the sustained-send mailout
 *   BENCH_CHAOS (40,000)         messages of the chaos mailout
 *   BENCH_PHASE_S (60)            length of the "down" and "slow" phases (flaky lasts half of it)
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { Readable } from 'node:stream';
import { ApiKeyService } from '../src/api-keys/api-key.service.ts';
import { AuditRepository } from '../src/audit/audit.repository.ts';
import { loadConfig } from '../src/config/config.ts';
import { createDatabase, createPool } from '../src/db/client.ts';
import { prepareDatabase } from '../src/db/migrate.ts';
import { isInsideWindow } from '../src/shared/local-window.ts';
import { startFakeSendApi } from './fake-send-api.ts';
import { spawnService } from './spawn.ts';
import { dropBenchState, waitFor } from './state.ts';

const CUSTOMERS = Number(process.env.BENCH_CUSTOMERS ?? 1_000_000);
const SEND = Number(process.env.BENCH_SEND ?? 60_000);
const CHAOS = Number(process.env.BENCH_CHAOS ?? 40_000);
const PHASE_S = Number(process.env.BENCH_PHASE_S ?? 60);
const ZONES = [
  'Europe/Moscow',
  'Asia/Kolkata',
  'America/New_York',
  'Asia/Tokyo',
  'Europe/Kaliningrad',
  'Asia/Yekaterinburg',
  'Asia/Novosibirsk',
  'Asia/Vladivostok',
  'Europe/Samara',
  'Asia/Omsk',
];
const OPERATORS = ['916', '903', '925', '999'];

/** Customer i: phone 7 + operator + i (7 digits); zone ZONES[i % 10]; tag by range. */
const phoneOf = (i: number) => `7${OPERATORS[i % 4]}${String(i).padStart(7, '0')}`;
const indexOfPhone = (phone: number) => phone % 10_000_000;
const tagOf = (i: number) => (i < CHAOS ? 'chaos' : i < CHAOS + SEND ? 'send' : 'rest');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
function rssMb(pid: number | undefined): number {
  if (!pid) return Number.NaN;
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN) / 1024;
}

/** Streams a generated CSV of `total` customers to the import endpoint (never held in memory). */
function importCsv(baseUrl: string, key: string, total: number): Promise<{ status: number; body: string }> {
  let i = -1;
  const source = new Readable({
    read() {
      let chunk = '';
      if (i === -1) {
        chunk = 'phone,operator_code,tag,time_zone\n';
        i = 0;
      }
      const end = Math.min(total, i + 5_000);
      for (; i < end; i++) chunk += `+${phoneOf(i)},,${tagOf(i)},${ZONES[i % ZONES.length]}\n`;
      this.push(chunk);
      if (i >= total) this.push(null);
    },
  });
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${baseUrl}/v1/customers/import`,
      { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'text/csv' } },
      (res) => {
        let body = '';
        res.on('data', (c) => {
          body += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    source.pipe(req);
  });
}

async function main() {
  const fake = await startFakeSendApi(20);
  const name = `briefly_bench_${randomBytes(3).toString('hex')}`;
  const env: Record<string, string | undefined> = {
    ...process.env,
    NODE_ENV: 'test',
    DATABASE_URL: `postgres://postgres@127.0.0.1:5432/${name}`,
    QUEUE_PREFIX: name,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    LOG_FORMAT: 'json',
    API_RATE_LIMIT_PER_MINUTE: '10000000',
    SEND_API_URL: fake.url,
    SEND_API_TOKEN: 'bench.token.value',
    SEND_API_TIMEOUT_MS: '5000',
    SLACK_BOT_TOKEN: '',
    SLACK_SIGNING_SECRET: '',
    SLACK_APP_TOKEN: '',
  };
  const config = loadConfig(env);
  await prepareDatabase(config.databaseUrl);
  const web = await spawnService('web', env);
  const worker = await spawnService('worker', env);
  const pool = createPool(config.databaseUrl, 2);
  const db = createDatabase(pool);
  const { key } = await new ApiKeyService(db, new AuditRepository(db)).create('bench', 'bench');
  const api = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${web.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    return { status: res.status, json: (await res.json().catch(() => undefined)) as Record<string, unknown> };
  };
  const count = async (sql: string, params: unknown[] = []) =>
    Number((await pool.query(sql, params)).rows[0]?.n ?? 0);
  const statusOf = async (id: unknown) =>
    (await pool.query('SELECT status::text FROM mailouts WHERE id = $1', [id])).rows[0]?.status as string;
  const results: string[] = [];
  const report = (line: string) => {
    results.push(line);
    console.log(line);
  };

  try {
    // 1. Import
    let t = performance.now();
    const imported = await importCsv(web.url as string, key, CUSTOMERS);
    const importS = (performance.now() - t) / 1000;
    report(
      `import ${CUSTOMERS.toLocaleString('en-US')} customers (CSV stream, COPY): ${importS.toFixed(1)} s -> ${imported.body}`,
    );

    // 2. Fan-out of every customer; creation must answer at once. Cancelled once fanned out.
    const now = Date.now();
    t = performance.now();
    const big = await api('POST', '/v1/mailouts', {
      name: 'fan-out',
      text: 'Fan-out benchmark',
      starts_at: new Date(now).toISOString(),
      ends_at: new Date(now + 86_400_000).toISOString(),
    });
    const createMs = performance.now() - t;
    await waitFor(async () => (await statusOf(big.json.id)) !== 'scheduled', 300_000, 200);
    const fanoutS = (performance.now() - t) / 1000;
    await api('DELETE', `/v1/mailouts/${big.json.id}`);
    const fanned = await count('SELECT count(*)::int AS n FROM mailout_messages WHERE mailout_id = $1', [
      big.json.id,
    ]);
    report(
      `create mailout of ${CUSTOMERS.toLocaleString('en-US')} customers: answered in ${createMs.toFixed(0)} ms`,
    );
    report(
      `fan-out (INSERT ... SELECT): ${fanned.toLocaleString('en-US')} messages in ${fanoutS.toFixed(1)} s (creation to running)`,
    );

    // 3. Sustained sending
    const sendStart = Date.now();
    const send = await api('POST', '/v1/mailouts', {
      name: 'send',
      text: 'Sustained send benchmark',
      starts_at: new Date(sendStart).toISOString(),
      ends_at: new Date(sendStart + 3_600_000).toISOString(),
      filter: { tags: ['send'] },
    });
    let maxRss = 0;
    const rssTimer = setInterval(() => {
      maxRss = Math.max(maxRss, rssMb(worker.pid));
    }, 500);
    await waitFor(async () => ['finished', 'expired'].includes(await statusOf(send.json.id)), 600_000, 200);
    clearInterval(rssTimer);
    const span = (
      await pool.query(
        `SELECT count(*)::int AS n, extract(epoch FROM max(sent_at) - min(sent_at)) AS s
         FROM mailout_messages WHERE mailout_id = $1 AND status = 'sent'`,
        [send.json.id],
      )
    ).rows[0] as { n: number; s: number };
    report(
      `sustained send: ${span.n.toLocaleString('en-US')} sent in ${Number(span.s).toFixed(1)} s = ${(span.n / Math.max(0.001, Number(span.s))).toFixed(0)}/s; worker RSS max ${maxRss.toFixed(0)} MB`,
    );

    // 4. Chaos: flaky (30% failures), down, slow (10 s answers), then healthy until ends_at.
    const chaosStart = Date.now();
    const window = { from: '00:00', to: '23:30' };
    const endsAt = chaosStart + (PHASE_S / 2 + PHASE_S * 2 + PHASE_S / 2) * 1000;
    const firstRequest = fake.requests.msgIds.length;
    fake.setMode('flaky');
    const chaos = await api('POST', '/v1/mailouts', {
      name: 'chaos',
      text: 'Chaos benchmark',
      starts_at: new Date(chaosStart).toISOString(),
      ends_at: new Date(endsAt).toISOString(),
      filter: { tags: ['chaos'] },
      window,
    });
    await sleep((PHASE_S / 2) * 1000);
    fake.setMode('down');
    await sleep(PHASE_S * 1000);
    fake.setMode('slow');
    await sleep(PHASE_S * 1000);
    fake.setMode('ok');
    await waitFor(
      async () => ['finished', 'expired'].includes(await statusOf(chaos.json.id)),
      endsAt - Date.now() + 120_000,
    );
    const counts = (
      await pool.query(
        'SELECT status::text, count(*)::int AS n FROM mailout_messages WHERE mailout_id = $1 GROUP BY 1',
        [chaos.json.id],
      )
    ).rows as { status: string; n: number }[];
    const byStatus = Object.fromEntries(counts.map((r) => [r.status, r.n]));
    const { rows: ids } = await pool.query(
      'SELECT id::bigint AS id FROM mailout_messages WHERE mailout_id = $1',
      [chaos.json.id],
    );
    const chaosIds = new Set(ids.map((r) => Number(r.id)));
    let outside = 0;
    let afterEnd = 0;
    let requests = 0;
    const perPhone = new Map<number, Set<number>>();
    for (let k = firstRequest; k < fake.requests.msgIds.length; k++) {
      const msgId = fake.requests.msgIds[k] as number;
      if (!chaosIds.has(msgId)) continue;
      requests++;
      const at = fake.requests.times[k] as number;
      const phone = fake.requests.phones[k] as number;
      const zone = ZONES[indexOfPhone(phone) % ZONES.length] as string;
      if (!isInsideWindow(new Date(at), zone, window)) outside++;
      if (at >= endsAt) afterEnd++;
      const set = perPhone.get(phone) ?? new Set<number>();
      set.add(msgId);
      perPhone.set(phone, set);
    }
    const twoMsgIds = [...perPhone.values()].filter((s) => s.size > 1).length;
    const okTwice = [...chaosIds].filter((id) => (fake.okByMsg.get(id) ?? 0) > 1).length;
    const swaps = (
      await pool.query(
        "SELECT created_at, text FROM slack_posts WHERE kind = 'send-api-circuit' ORDER BY created_at",
      )
    ).rows as { created_at: Date; text: string }[];
    const outcomes = (
      await pool.query(
        `SELECT a.outcome, count(*)::int AS n FROM mailout_message_attempts a
         JOIN mailout_messages m ON m.id = a.message_id WHERE m.mailout_id = $1 GROUP BY 1`,
        [chaos.json.id],
      )
    ).rows as { outcome: string; n: number }[];
    report(
      `chaos circuit: ${swaps.map((w) => `${((w.created_at.getTime() - chaosStart) / 1000).toFixed(0)}s ${/recovered/.test(w.text) ? 'closed' : 'open'}`).join(', ') || 'never opened'}; attempts by outcome ${JSON.stringify(Object.fromEntries(outcomes.map((o) => [o.outcome, o.n])))}`,
    );
    report(
      `chaos (${PHASE_S / 2}s flaky 30%, ${PHASE_S}s down, ${PHASE_S}s slow 10 s, then ok until ends_at): ${JSON.stringify(byStatus)}, status ${await statusOf(chaos.json.id)}`,
    );
    report(
      `chaos checks: ${requests.toLocaleString('en-US')} requests; still pending ${byStatus.pending ?? 0}; customers with 2+ msgIds ${twoMsgIds}; requests outside the window ${outside}; at/after ends_at ${afterEnd}; msgIds answered OK more than once (timed-out retries, same msgId) ${okTwice}`,
    );
  } finally {
    await Promise.all([web.stop(), worker.stop()]);
    await pool.end();
    await dropBenchState({
      databaseUrl: config.databaseUrl,
      redisUrl: config.redisUrl,
      prefix: config.queuePrefix,
    });
    await fake.close();
  }
  console.log('\nSummary:');
  for (const line of results) console.log(`  ${line}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
