import http from 'node:http';
import https from 'node:https';
import sendgridMail from '@sendgrid/mail';
import { z } from 'zod';
import { type EmailProvider, type OutgoingEmail, ProviderError, type SendResult } from '../email-provider.ts';

type MailService = typeof sendgridMail;

// The package's types describe only its module-level singleton; the class is exported too, and
// we need our own instance so the client (base URL, key, timeout) is not a process-wide global.
const { MailService: MailServiceClass } = sendgridMail as unknown as { MailService: new () => MailService };

const errorBody = z.object({
  errors: z.array(z.object({ message: z.string().nullish(), field: z.string().nullish() })).min(1),
});

/** Thrown by FetchClient for an HTTP error answer; shaped like @sendgrid/client's ResponseError. */
class SendgridHttpError extends Error {
  constructor(
    readonly code: number,
    readonly response: { headers: Record<string, string>; body: unknown },
  ) {
    super(`HTTP ${code}`);
  }
}

/**
 * Stands in for @sendgrid/client under MailService (which still builds and checks the v3 body).
 * The stock client goes through axios and follow-redirects, which took over a third of a worker's
 * CPU in the delivery benchmark; Node's fetch keeps connections alive and costs far less.
 */
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
    return new Promise<
      readonly [{ statusCode: number; headers: Record<string, string>; body: unknown }, unknown]
    >((resolve, reject) => {
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
          res.on('error', reject);
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
            else resolve([{ statusCode, headers, body }, body] as const);
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
      req.on('error', reject);
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

/**
 * SendGrid v3 mail/send through @sendgrid/mail (VENDOR-FACTS §4). 202 = sent (X-Message-Id kept);
 * 429, 5xx, timeouts and network errors are transient; any other 4xx is permanent. SendGrid has
 * no idempotency key, so a retry after a timeout may send twice: the delivery layer documents it.
 */
export class SendGridEmailProvider implements EmailProvider {
  readonly name = 'sendgrid';
  private readonly client: HttpClient;
  private readonly mail: MailService;

  constructor(options: { apiKey: string; baseUrl: string; timeoutMs: number }) {
    this.client = new HttpClient({ ...options, baseUrl: options.baseUrl.replace(/\/+$/, '') });
    this.mail = new MailServiceClass();
    this.mail.setClient(this.client as unknown as Parameters<MailService['setClient']>[0]);
  }

  async send(email: OutgoingEmail): Promise<SendResult> {
    const content: { type: string; value: string }[] = [];
    if (email.text) content.push({ type: 'text/plain', value: email.text });
    if (email.html) content.push({ type: 'text/html', value: email.html });
    try {
      const [response] = await this.mail.send({
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
      });
      const headers = (response?.headers ?? {}) as Record<string, string | undefined>;
      return { provider: this.name, providerMessageId: headers['x-message-id'] ?? undefined };
    } catch (error) {
      throw this.classify(error, 'mail/send');
    }
  }

  async probe(): Promise<void> {
    try {
      await this.client.request({ method: 'GET', url: '/v3/scopes' });
    } catch (error) {
      throw this.classify(error, 'probe');
    }
  }

  async close(): Promise<void> {
    this.client.close();
  }

  private classify(caught: unknown, what: string): ProviderError {
    const error = caught as HttpLikeError;
    const status = caught instanceof SendgridHttpError ? caught.code : undefined;
    if (status === undefined) {
      // No HTTP answer: timeout, refused or reset connection, DNS. SendGrid may come back.
      const why =
        error.name === 'TimeoutError' ? 'timed out' : String(error.message || error.code || 'network error');
      const message = `SendGrid ${what} failed: ${why.slice(0, 200)}`;
      return new ProviderError(
        this.name,
        'transient',
        message,
        { code: String(error.code ?? '') },
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
      const reset = Number(error.response?.headers?.['x-ratelimit-reset']);
      const retryAfterMs =
        Number.isFinite(reset) && reset > 0 ? Math.max(0, reset * 1000 - Date.now()) : undefined;
      return new ProviderError(this.name, 'transient', message, { status, retryAfterMs }, { cause: caught });
    }
    const kind = status >= 500 ? 'transient' : 'permanent';
    return new ProviderError(this.name, kind, message, { status }, { cause: caught });
  }
}
