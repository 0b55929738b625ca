import http from 'node:http';
import https from 'node:https';
import sendgridMail from '@sendgrid/mail';
import { z } from 'zod';
import { rateLimitWaitMs } from '../../shared/retry-after.ts';
import {
  type EmailAddress,
  type EmailProvider,
  type OutgoingEmail,
  ProviderError,
  type SendResult,
} from '../email-provider.ts';

type MailService = typeof sendgridMail;

// The package's types describe only its module-level singleton; the class is exported too, and
// we need our own instance so the client (base URL, key, timeout) is not a process-wide global.
const { MailService: MailServiceClass } = sendgridMail as unknown as { MailService: new () => MailService };

const errorBody = z.object({
  errors: z.array(z.object({ message: z.string().nullish(), field: z.string().nullish() })).min(1),
});

/** Thrown by HttpClient for an HTTP error answer; shaped like @sendgrid/client's ResponseError. */
class SendgridHttpError extends Error {
  constructor(
    readonly code: number,
    readonly response: { headers: Record<string, string>; body: unknown },
  ) {
    super(`HTTP ${code}`);
  }
}

/** No answer at all; `requestSent` says whether the whole request had been written before it failed. */
class SendgridNoAnswerError extends Error {
  constructor(
    readonly cause: Error & { code?: string },
    readonly requestSent: boolean,
  ) {
    super(cause.message);
    this.name = cause.name;
  }
}

type HttpAnswer = { statusCode: number; headers: Record<string, string>; body: unknown; text: string };

/**
 * The transport @sendgrid/mail sends through: node:http(s) over a keep-alive agent. Global fetch
 * (undici, web streams) was the largest cost in the delivery worker's profile at 1,000 sends/s.
 */
class HttpClient {
  private readonly agent: http.Agent;
  private readonly request_: typeof http.request;

  constructor(private readonly options: { apiKey: string; baseUrl: string; timeoutMs: number }) {
    const secure = options.baseUrl.startsWith('https:');
    this.agent = secure
      ? new https.Agent({ keepAlive: true, maxSockets: 256 })
      : new http.Agent({ keepAlive: true, maxSockets: 256 });
    this.request_ = secure ? https.request : http.request;
  }

  request(data: { method: string; url: string; headers?: Record<string, string>; body?: unknown }) {
    const payload = data.body === undefined ? undefined : JSON.stringify(data.body);
    let requestSent = false;
    return new Promise<readonly [HttpAnswer, unknown]>((resolve, reject) => {
      const fail = (error: Error) => reject(new SendgridNoAnswerError(error, requestSent));
      const req = this.request_(
        `${this.options.baseUrl}${data.url}`,
        {
          method: data.method,
          agent: this.agent,
          headers: {
            authorization: `Bearer ${this.options.apiKey}`,
            accept: 'application/json',
            ...(payload === undefined
              ? {}
              : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
            ...data.headers,
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', fail);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let body: unknown = text;
            try {
              body = text ? JSON.parse(text) : '';
            } catch {
              // A 5xx from a proxy is often HTML: keep the text, classification does not need JSON.
            }
            const headers: Record<string, string> = {};
            for (const [name, value] of Object.entries(res.headers)) {
              if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
            }
            const statusCode = res.statusCode ?? 0;
            if (statusCode >= 400) reject(new SendgridHttpError(statusCode, { headers, body }));
            else resolve([{ statusCode, headers, body, text }, body] as const);
          });
        },
      );
      // A deadline for the whole exchange, not just socket idleness: a trickling answer is a timeout too.
      const timer = setTimeout(() => {
        const error = new Error(`no answer within ${this.options.timeoutMs} ms`);
        error.name = 'TimeoutError';
        req.destroy(error);
      }, this.options.timeoutMs);
      req.on('close', () => clearTimeout(timer));
      // 'finish': the whole request is handed to the OS. From here on SendGrid may have the message.
      req.on('finish', () => {
        requestSent = true;
      });
      req.on('error', fail);
      req.end(payload);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

interface HttpLikeError {
  code?: number | string;
  name?: string;
  message?: string;
  response?: { headers?: Record<string, string>; body?: unknown };
}

/** SendGrid's ids are URL-safe tokens (e.g. "W86EgYT6SQKk0lRflfLRsA"); a proxy's header is not. */
const MESSAGE_ID = /^[A-Za-z0-9_.-]{1,128}$/;

/**
 * SendGrid v3 mail/send through @sendgrid/mail (VENDOR-FACTS §4). Sent means exactly what SendGrid
 * documents: 202 with an X-Message-Id. Any other answer that is not an error (a 200 HTML page from
 * a proxy or captive portal, a redirect, a 202 without the id) is transient: the message is not
 * recorded as sent and goes on to a retry or the next provider. 429, 5xx and network errors are
 * transient; other 4xx permanent. A timeout or reset after the whole request was written is an
 * unknown outcome (SendGrid may have it, and has no idempotency key): see the delivery worker.
 */
export class SendGridEmailProvider implements EmailProvider {
  readonly name = 'sendgrid';
  private readonly client: HttpClient;
  private readonly mail: MailService;
  private readonly probeAddress: EmailAddress;

  constructor(options: { apiKey: string; baseUrl: string; timeoutMs: number; probeAddress?: EmailAddress }) {
    this.client = new HttpClient({ ...options, baseUrl: options.baseUrl.replace(/\/+$/, '') });
    this.mail = new MailServiceClass();
    this.mail.setClient(this.client as unknown as Parameters<MailService['setClient']>[0]);
    this.probeAddress = options.probeAddress ?? { email: 'probe@example.com' };
  }

  async send(email: OutgoingEmail): Promise<SendResult> {
    const content: { type: string; value: string }[] = [];
    if (email.text) content.push({ type: 'text/plain', value: email.text });
    if (email.html) content.push({ type: 'text/html', value: email.html });
    let answer: HttpAnswer;
    try {
      [answer] = (await this.mail.send({
        personalizations: [
          {
            to: email.to,
            ...(email.cc.length ? { cc: email.cc } : {}),
            ...(email.bcc.length ? { bcc: email.bcc } : {}),
          },
        ],
        from: email.from,
        ...(email.replyTo ? { replyTo: email.replyTo } : {}),
        subject: email.subject,
        content: content as [{ type: string; value: string }],
        ...(email.tags.length ? { categories: email.tags.slice(0, 10).map((t) => t.slice(0, 255)) } : {}),
        customArgs: { briefly_message_id: email.messageId },
        ...(email.headers || email.messageIdHeader
          ? {
              headers: {
                ...email.headers,
                // SendGrid keeps a Message-ID given here (anymail's SendGrid backend relies on it);
                // the `processed` event's smtp-id shows the one actually used (recorded if different).
                ...(email.messageIdHeader ? { 'Message-ID': email.messageIdHeader } : {}),
              },
            }
          : {}),
        ...(email.attachments?.length
          ? {
              // v3 wants content_id; @sendgrid/mail passes attachment objects through without
              // renaming, so its typed `contentId` would reach SendGrid as an unknown field.
              attachments: email.attachments.map((a) => ({
                filename: a.filename,
                type: a.contentType,
                content: a.content,
                disposition: a.disposition ?? 'attachment',
                ...(a.contentId ? ({ content_id: a.contentId } as { contentId?: string }) : {}),
              })),
            }
          : {}),
      })) as unknown as [HttpAnswer];
    } catch (error) {
      throw this.classify(error, 'mail/send');
    }
    const messageId = answer.headers['x-message-id']?.trim() ?? '';
    if (answer.statusCode === 202 && MESSAGE_ID.test(messageId)) {
      return { provider: this.name, providerMessageId: messageId };
    }
    throw this.unexpected(
      'mail/send',
      answer,
      answer.statusCode === 202 ? 'without a valid X-Message-Id' : 'instead of 202',
    );
  }

  /**
   * A sandbox-mode mail/send: SendGrid validates it like a real send (key, scopes, rate limit)
   * and delivers nothing; success is 200 with no body (sandbox-mode docs). GET /v3/scopes was
   * not enough: it answered 200 while mail/send answered 429.
   */
  async probe(): Promise<void> {
    let answer: HttpAnswer;
    try {
      [answer] = (await this.mail.send({
        to: this.probeAddress,
        from: this.probeAddress,
        subject: 'Briefly provider probe',
        content: [{ type: 'text/plain', value: 'Sandbox mode: never delivered.' }],
        mailSettings: { sandboxMode: { enable: true } },
      })) as unknown as [HttpAnswer];
    } catch (error) {
      throw this.classify(error, 'probe');
    }
    const html = /html/i.test(answer.headers['content-type'] ?? '') || /^\s*</.test(answer.text);
    if (answer.statusCode === 200 && !html) return;
    throw this.unexpected('probe', answer, 'instead of a sandbox-mode 200');
  }

  async close(): Promise<void> {
    this.client.close();
  }

  private unexpected(what: string, answer: HttpAnswer, why: string): ProviderError {
    const type = answer.headers['content-type']?.split(';')[0] ?? 'no content type';
    const location = answer.headers.location ? ` to ${answer.headers.location.slice(0, 100)}` : '';
    return new ProviderError(
      this.name,
      'transient',
      `SendGrid ${what} answered ${answer.statusCode} (${type})${location} ${why}: not accepted`,
      { status: answer.statusCode, code: 'unexpected_answer' },
    );
  }

  private classify(caught: unknown, what: string): ProviderError {
    const error = caught as HttpLikeError;
    const status = caught instanceof SendgridHttpError ? caught.code : undefined;
    if (status === undefined) {
      // No HTTP answer: timeout, refused or reset connection, DNS. SendGrid may come back.
      const noAnswer = caught instanceof SendgridNoAnswerError ? caught : undefined;
      const cause = noAnswer?.cause ?? error;
      const why =
        cause.name === 'TimeoutError' ? 'timed out' : String(cause.message || cause.code || 'network error');
      const unknownOutcome = noAnswer?.requestSent === true;
      const message = `SendGrid ${what} failed: ${why.slice(0, 200)}${unknownOutcome ? ' after the request was sent (outcome unknown)' : ''}`;
      return new ProviderError(
        this.name,
        'transient',
        message,
        { code: String(cause.code ?? (cause.name === 'TimeoutError' ? 'ETIMEDOUT' : '')), unknownOutcome },
        { cause: caught },
      );
    }
    const parsed = errorBody.safeParse(error.response?.body);
    const detail = parsed.success
      ? parsed.data.errors
          .map((e) => (e.field ? `${e.message ?? 'error'} (${e.field})` : (e.message ?? 'error')))
          .join('; ')
      : `HTTP ${status}`;
    const message = `SendGrid ${what} ${status}: ${detail}`.slice(0, 500);
    if (status === 429) {
      const retryAfterMs = rateLimitWaitMs(error.response?.headers);
      return new ProviderError(this.name, 'transient', message, { status, retryAfterMs }, { cause: caught });
    }
    const kind = status >= 500 || status === 408 ? 'transient' : 'permanent';
    return new ProviderError(this.name, kind, message, { status }, { cause: caught });
  }
}
