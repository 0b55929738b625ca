import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A fake SendGrid mail/send on loopback for benchmarks: answers 202 with an X-Message-Id, records
 * when each of our message ids arrived, answers sandbox-mode probes 200, and can be switched to
 * fail (503, probes included) to measure failover.
 */
export async function startFakeSendgrid() {
  const receivedAt = new Map<string, number>();
  let duplicates = 0;
  const state = { failing: false, calls: 0 };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      state.calls++;
      if (state.failing) {
        res.writeHead(503).end('unavailable');
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      if (body.mail_settings?.sandbox_mode?.enable === true) {
        // The provider probe: validated, never delivered (SendGrid answers 200, not 202).
        res.writeHead(200).end();
        return;
      }
      const id: string = body.custom_args?.briefly_message_id ?? '';
      if (receivedAt.has(id)) duplicates++;
      else receivedAt.set(id, performance.now());
      res.writeHead(202, { 'X-Message-Id': `fake-${receivedAt.size}` }).end();
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    receivedAt,
    state,
    duplicates: () => duplicates,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}
