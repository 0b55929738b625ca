import type { App, Receiver, ReceiverEvent } from '@slack/bolt';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../logging/logger.ts';
import { findBadText } from '../shared/text.ts';
import { verifySlackSignature } from './signature.ts';

/** Slack wants an answer within 3 s; past this we answer 200 empty so Slack does not show a timeout. */
const ACK_DEADLINE_MS = 2_800;

/**
 * Serves Bolt from our Fastify server at /slack/events (one port for API, webhooks and Slack).
 * The signature is checked on the raw bytes before anything is parsed; the HTTP answer goes out as
 * soon as the listener calls ack(), while the listener's remaining work continues.
 */
export class FastifyReceiver implements Receiver {
  private app: App | undefined;

  constructor(private readonly options: { signingSecret: string; logger: Logger; now?: () => number }) {}

  init(app: App): void {
    this.app = app;
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {}

  register(server: FastifyInstance, path = '/slack/events'): void {
    server.register(async (scope) => {
      scope.removeAllContentTypeParsers();
      scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
      scope.post(path, (request, reply) => this.handle(request, reply));
    });
  }

  private async handle(request: FastifyRequest, reply: FastifyReply) {
    const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    const verdict = verifySlackSignature({
      signingSecret: this.options.signingSecret,
      signature: header(request, 'x-slack-signature'),
      timestamp: header(request, 'x-slack-request-timestamp'),
      rawBody: raw,
      nowSeconds: Math.floor((this.options.now?.() ?? Date.now()) / 1000),
    });
    if (!verdict.ok) {
      // Debug only: anyone can send forged requests; the web server logs rejections summarized.
      this.options.logger.debug('slack request rejected', { reason: verdict.reason });
      return reply.code(401).send({ error: 'invalid_signature', message: verdict.reason });
    }
    let body: Record<string, unknown>;
    try {
      body = parseBody(raw, String(request.headers['content-type'] ?? ''));
    } catch (error) {
      return reply.code(400).send({ error: 'malformed_payload', message: (error as Error).message });
    }
    // Same rule as the API: text PostgreSQL cannot store never reaches a listener.
    const bad = findBadText(body);
    if (bad)
      return reply.code(400).send({ error: 'malformed_payload', message: `${bad.field} ${bad.message}` });
    if (body.ssl_check) return reply.code(200).send();
    if (body.type === 'url_verification') return reply.send({ challenge: body.challenge });
    if (!this.app) return reply.code(503).send({ error: 'slack_not_ready' });

    let settle: (value: unknown) => void = () => undefined;
    const acked = new Promise<unknown>((resolve) => {
      settle = resolve;
    });
    let isAcked = false;
    const event: ReceiverEvent = {
      body,
      retryNum: numberHeader(request, 'x-slack-retry-num'),
      retryReason: header(request, 'x-slack-retry-reason'),
      ack: async (response) => {
        if (isAcked) throw new Error('ack() was already called for this request');
        isAcked = true;
        settle(response);
      },
    };
    const processing = this.app.processEvent(event).catch((error: Error) => {
      this.options.logger.error('slack listener failed', { error: error.message });
      if (!isAcked) settle({ __error: true });
    });
    const timer = new Promise((resolve) => setTimeout(() => resolve(undefined), ACK_DEADLINE_MS));
    // Events with no matching listener are never acked by one; Bolt returns and we answer 200.
    const response = await Promise.race([acked, timer, processing.then(() => (isAcked ? acked : undefined))]);
    if (response && typeof response === 'object' && '__error' in response) return reply.code(500).send();
    if (response === undefined || response === '') return reply.code(200).send();
    if (typeof response === 'string') return reply.code(200).type('text/plain').send(response);
    return reply.code(200).send(response);
  }
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function numberHeader(request: FastifyRequest, name: string): number | undefined {
  const value = header(request, name);
  return value === undefined ? undefined : Number(value);
}

function parseBody(raw: Buffer, contentType: string): Record<string, unknown> {
  const text = raw.toString('utf8');
  if (contentType.includes('application/json')) {
    const parsed = JSON.parse(text);
    if (!parsed || typeof parsed !== 'object') throw new Error('body is not a JSON object');
    return parsed;
  }
  const form = Object.fromEntries(new URLSearchParams(text));
  if (typeof form.payload === 'string') {
    let payload: unknown;
    try {
      payload = JSON.parse(form.payload);
    } catch {
      throw new Error('the "payload" field is not valid JSON');
    }
    if (!payload || typeof payload !== 'object' || typeof (payload as { type?: unknown }).type !== 'string') {
      throw new Error('the "payload" field has no "type"');
    }
    return payload as Record<string, unknown>;
  }
  if (!form.command && !form.type && !form.ssl_check)
    throw new Error('body is neither a slash command nor an interaction payload');
  return form;
}
