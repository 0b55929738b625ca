import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeSendgridRequest {
  method: string;
  path: string;
  /** Our message id (custom arg `briefly_message_id`), '' for probes and other calls. */
  id: string;
  /** mail_settings.sandbox_mode.enable: a probe, never delivered. */
  sandbox: boolean;
  body: Record<string, unknown>;
  at: number;
}

/** What the fake does with a request it has fully received: answer it (maybe later), or never (`hang`). */
export type FakeAnswer = { status: number; headers?: Record<string, string>; body?: string } | 'hang';

export const accepted = (id: string): FakeAnswer => ({
  status: 202,
  headers: { 'X-Message-Id': `fake-${id.slice(0, 8)}-${Math.random().toString(36).slice(2, 10)}` },
});

/**
 * A SendGrid v3 API on loopback (not nock: its timing is real, so a request can be fully received
 * and then left unanswered, which is the "timeout after send" fault). Records every request.
 */
type Answerer = (request: FakeSendgridRequest) => FakeAnswer | Promise<FakeAnswer>;

export async function startFakeSendgrid(
  initial: Answerer = (r) => (r.sandbox ? { status: 200 } : accepted(r.id)),
) {
  let answer = initial;
  const requests: FakeSendgridRequest[] = [];
  const hanging = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
      } catch {
        body = {};
      }
      const request: FakeSendgridRequest = {
        method: req.method ?? 'GET',
        path: req.url ?? '/',
        id: String((body.custom_args as Record<string, unknown> | undefined)?.briefly_message_id ?? ''),
        sandbox:
          (body.mail_settings as { sandbox_mode?: { enable?: unknown } } | undefined)?.sandbox_mode
            ?.enable === true,
        body,
        at: Date.now(),
      };
      requests.push(request);
      hanging.add(res);
      void Promise.resolve(answer(request)).then((reply) => {
        if (reply === 'hang' || res.destroyed) return;
        hanging.delete(res);
        res.writeHead(reply.status, reply.headers ?? {}).end(reply.body ?? '');
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    /** Real sends (not probes) of one message. */
    sendsOf: (id: string) => requests.filter((r) => r.id === id && !r.sandbox && r.path === '/v3/mail/send'),
    setAnswer(next: Answerer) {
      answer = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
