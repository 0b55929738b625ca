import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FabriqueSmsGateway } from '../mailouts/providers/fabrique.sms-gateway.ts';
import {
  type OutgoingSms,
  type SmsGateway,
  SmsGatewayError,
  type SmsSendOptions,
} from '../mailouts/providers/sms-gateway.ts';

/** Demo customers' phones: 7 900 000 00xx, a range the demo keeps to itself. */
export const DEMO_PHONE_PREFIX = '790000000';

/**
 * A stand-in for the external send API inside the `briefly demo` process: `POST /v1/send/{msgId}`
 * answered like the real one (200 `{"code":0,"message":"OK"}`), on a loopback port, for as long as
 * the demo runs. Nothing leaves the machine.
 */
export class DemoSendApi {
  readonly received: OutgoingSms[] = [];
  private server?: Server;

  async start(): Promise<string> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (req.method !== 'POST' || !/^\/v1\/send\/\d+$/.test(req.url ?? '')) {
          res.writeHead(404).end();
          return;
        }
        this.received.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"code":0,"message":"OK"}');
      });
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

/**
 * The demo worker's gateway: messages to demo phones go to the in-process DemoSendApi; any other
 * mailout's messages this worker happens to take go where the service would send them (the
 * configured send API), or, without SEND_API_TOKEN, wait for a worker that has one.
 */
export class DemoRoutingGateway implements SmsGateway {
  readonly name = 'send-api';
  private readonly demo: FabriqueSmsGateway;

  constructor(
    demoUrl: string,
    private readonly real: SmsGateway | undefined,
  ) {
    this.demo = new FabriqueSmsGateway({ baseUrl: demoUrl, token: 'demo' });
  }

  send(message: OutgoingSms, options: SmsSendOptions): Promise<{ status: number }> {
    if (message.phone.startsWith(DEMO_PHONE_PREFIX)) return this.demo.send(message, options);
    if (this.real) return this.real.send(message, options);
    return Promise.reject(
      new SmsGatewayError('transient', 'connection', 'SEND_API_TOKEN is not set in the demo process'),
    );
  }

  async close(): Promise<void> {
    await this.demo.close();
    await this.real?.close();
  }
}
