import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SendApiRequest {
  msgId: number;
  body: { id: number; phone: number; text: string };
  authorization: string | undefined;
  at: number;
}

/** What the fake answers: a status and body, after a delay; `hang` never answers. */
export type FakeAnswer = { status: number; body?: string; delayMs?: number } | 'hang';
export type Behaviour = (request: SendApiRequest, nthForMsg: number) => FakeAnswer;

export const OK: FakeAnswer = { status: 200, body: '{"code":0,"message":"OK"}' };

/**
 * A local stand-in for the external send API (POST /send/{msgId}): records every request with its
 * arrival time and answers as `behaviour` says (slow, garbage, 5xx, 429, 4xx, hang).
 */
export class FakeSendApi {
  readonly requests: SendApiRequest[] = [];
  behaviour: Behaviour = () => OK;
  private server?: Server;
  private readonly hanging = new Set<ServerResponse>();

  async start(): Promise<string> {
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    return `http://127.0.0.1:${port}/v1`;
  }

  private handle(req: IncomingMessage, res: ServerResponse) {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const match = /^\/v1\/send\/(\d+)$/.exec(req.url ?? '');
      if (req.method !== 'POST' || !match) {
        res.writeHead(404).end();
        return;
      }
      const request: SendApiRequest = {
        msgId: Number(match[1]),
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
        authorization: req.headers.authorization,
        at: Date.now(),
      };
      this.requests.push(request);
      const nth = this.requests.filter((r) => r.msgId === request.msgId).length;
      const answer = this.behaviour(request, nth);
      if (answer === 'hang') {
        this.hanging.add(res);
        res.on('close', () => this.hanging.delete(res));
        return;
      }
      const send = () => {
        if (res.destroyed) return;
        res.writeHead(answer.status, { 'content-type': 'application/json' }).end(answer.body ?? '');
      };
      if (answer.delayMs) setTimeout(send, answer.delayMs);
      else send();
    });
  }

  /** Distinct msgIds requested per phone (a customer must never get two msgIds of one mailout). */
  msgIdsByPhone(): Map<number, Set<number>> {
    const out = new Map<number, Set<number>>();
    for (const r of this.requests) {
      const set = out.get(r.body.phone) ?? new Set<number>();
      set.add(r.msgId);
      out.set(r.body.phone, set);
    }
    return out;
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

/** An unsigned JWT-shaped token with the given exp (the fake does not verify signatures). */
export function fakeJwt(expSeconds: number): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ exp: expSeconds, iss: 'fabrique', name: 'test' })}.sig`;
}
