import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export interface SentryEvent {
  event_id?: string;
  tags?: Record<string, string>;
  environment?: string;
  release?: string;
  exception?: {
    values?: { type?: string; value?: string; mechanism?: { handled?: boolean; type?: string } }[];
  };
  [key: string]: unknown;
}

/**
 * A local Sentry ingest endpoint: accepts envelopes on POST /api/<project>/envelope/ as the SDK
 * sends them (newline-separated JSON: envelope header, then item header and payload pairs) and
 * keeps each `event` item, with the raw bodies for checks that nothing secret went out.
 */
export class FakeSentry {
  readonly events: SentryEvent[] = [];
  readonly bodies: string[] = [];
  readonly requests: { url: string; auth?: string }[] = [];
  private server?: Server;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        let body = Buffer.concat(chunks);
        if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
        const text = body.toString('utf8');
        this.requests.push({ url: req.url ?? '', auth: req.headers['x-sentry-auth'] as string | undefined });
        this.bodies.push(text);
        const lines = text.split('\n').filter(Boolean);
        for (let i = 1; i + 1 < lines.length; i += 2) {
          const header = JSON.parse(lines[i] as string) as { type?: string };
          if (header.type === 'event') this.events.push(JSON.parse(lines[i + 1] as string));
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    return `http://publickey@127.0.0.1:${port}/1`;
  }

  async waitFor(match: (event: SentryEvent) => boolean, timeoutMs = 30_000): Promise<SentryEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(match);
      if (found) return found;
      if (Date.now() > deadline)
        throw new Error(`no matching Sentry event; got ${JSON.stringify(this.events)}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}
