import http from 'node:http';
import https from 'node:https';
import { z } from 'zod';
import { type OutgoingSms, type SmsGateway, SmsGatewayError, type SmsSendOptions } from './sms-gateway.ts';

/** The documented success answer; anything else in a 200 is not proof of sending. */
const successBody = z.object({ code: z.literal(0), message: z.literal('OK') });

/**
 * The Fabrique "probe server" send API: `POST {base}/send/{msgId}` with `{id, phone, text}`, phone
 * as an int64 number, `Authorization: Bearer <JWT>`; success is 200 `{"code":0,"message":"OK"}`
 * (https://probe.fbrq.cloud/docs). It may be slow, down or answer garbage: timeouts, connection
 * errors, 5xx, 429 and a 200 with any other body are transient; other 4xx are permanent.
 * node:http with a keep-alive agent (like the SendGrid transport) keeps a send cheap at 1,000/s.
 */
export class FabriqueSmsGateway implements SmsGateway {
  readonly name = 'send-api';
  private readonly agent: http.Agent;
  private readonly request_: typeof http.request;

  constructor(private readonly options: { baseUrl: string; token: string }) {
    const secure = options.baseUrl.startsWith('https:');
    this.agent = secure
      ? new https.Agent({ keepAlive: true, maxSockets: 512 })
      : new http.Agent({ keepAlive: true, maxSockets: 512 });
    this.request_ = secure ? https.request : http.request;
  }

  send(message: OutgoingSms, options: SmsSendOptions): Promise<{ status: number }> {
    const payload = `{"id":${message.id},"phone":${message.phone},"text":${JSON.stringify(message.text)}}`;
    const waitMs = options.deadline.getTime() - Date.now();
    if (waitMs <= 0) {
      return Promise.reject(
        new SmsGatewayError('transient', 'deadline', 'deadline reached before the request started'),
      );
    }
    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (error: SmsGatewayError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(error);
      };
      const req = this.request_(
        `${this.options.baseUrl}/send/${message.id}`,
        {
          method: 'POST',
          agent: this.agent,
          headers: {
            authorization: `Bearer ${this.options.token}`,
            'content-type': 'application/json',
            accept: 'application/json',
            'content-length': Buffer.byteLength(payload),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', (error) => fail(new SmsGatewayError('transient', 'connection', error.message)));
          res.on('end', () => {
            if (settled) return;
            const status = res.statusCode ?? 0;
            const text = Buffer.concat(chunks).toString('utf8');
            const snippet = text.slice(0, 200);
            if (status === 200) {
              let body: unknown;
              try {
                body = JSON.parse(text);
              } catch {
                body = undefined;
              }
              if (successBody.safeParse(body).success) {
                settled = true;
                clearTimeout(timer);
                resolve({ status });
                return;
              }
              fail(
                new SmsGatewayError(
                  'transient',
                  'garbage',
                  `200 without the success body: ${snippet}`,
                  status,
                ),
              );
            } else if (status === 429) {
              fail(new SmsGatewayError('transient', 'http_429', `429 rate limited: ${snippet}`, status));
            } else if (status >= 500) {
              fail(new SmsGatewayError('transient', 'http_5xx', `${status}: ${snippet}`, status));
            } else if (status >= 400) {
              fail(new SmsGatewayError('permanent', 'http_4xx', `${status}: ${snippet}`, status));
            } else {
              fail(
                new SmsGatewayError('transient', 'garbage', `unexpected HTTP ${status}: ${snippet}`, status),
              );
            }
          });
        },
      );
      const timer = setTimeout(() => {
        fail(
          options.deadlineIsEnd
            ? new SmsGatewayError('transient', 'deadline', 'ends_at reached with the request in flight')
            : new SmsGatewayError('transient', 'timeout', `no answer within ${waitMs} ms`),
        );
        req.destroy();
      }, waitMs);
      req.on('error', (error) => fail(new SmsGatewayError('transient', 'connection', error.message)));
      req.end(payload);
    });
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }
}

/** Seconds-since-epoch `exp` of a JWT, or undefined when the token is not a JWT with one. */
export function jwtExpiry(token: string): Date | undefined {
  const part = token.split('.')[1];
  if (!part) return undefined;
  try {
    const payload = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof payload.exp === 'number' ? new Date(payload.exp * 1000) : undefined;
  } catch {
    return undefined;
  }
}
