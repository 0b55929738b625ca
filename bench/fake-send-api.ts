import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export type FakeMode = 'ok' | 'flaky' | 'down' | 'slow';

/**
 * A local send API for benchmarks: POST /v1/send/{msgId}, ~20 ms per answer. Modes: ok, flaky
 * (30% of calls fail: 503, garbage 200 or a dropped connection), down (every connection dropped),
 * slow (answers after 10 s). Records each request's arrival time, msgId and phone compactly.
 */
export async function startFakeSendApi(latencyMs = 20) {
  let mode: FakeMode = 'ok';
  const msgIds: number[] = [];
  const phones: number[] = [];
  const times: number[] = [];
  const okByMsg = new Map<number, number>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = Date.now();
      const msgId = Number(/\/send\/(\d+)$/.exec(req.url ?? '')?.[1]);
      let phone = 0;
      try {
        phone = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { phone: number }).phone;
      } catch {
        phone = 0;
      }
      msgIds.push(msgId);
      phones.push(phone);
      times.push(at);
      const ok = () => {
        okByMsg.set(msgId, (okByMsg.get(msgId) ?? 0) + 1);
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"code":0,"message":"OK"}');
      };
      if (mode === 'down') {
        req.socket.destroy();
        return;
      }
      if (mode === 'slow') {
        setTimeout(() => (res.destroyed ? undefined : ok()), 10_000);
        return;
      }
      if (mode === 'flaky' && Math.random() < 0.3) {
        const r = Math.random();
        setTimeout(() => {
          if (r < 0.4) res.writeHead(503).end('busy');
          else if (r < 0.8) res.writeHead(200, { 'content-type': 'text/html' }).end('<html>oops</html>');
          else req.socket.destroy();
        }, latencyMs);
        return;
      }
      setTimeout(ok, latencyMs);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    setMode(next: FakeMode) {
      mode = next;
    },
    requests: { msgIds, phones, times },
    okByMsg,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
