import { z } from 'zod';
import { AppError } from '../errors.ts';

/**
 * SendGrid's Event Webhook settings through its API (`briefly webhooks check|register`). The
 * endpoints without an id act on the account's oldest event webhook, which is the only one for
 * an account that does not use several: GET/PATCH /v3/user/webhooks/event/settings and
 * GET/PATCH /v3/user/webhooks/event/settings/signed (body {enabled}, answer {public_key}).
 * https://www.twilio.com/docs/sendgrid/api-reference/webhooks
 */

/** Event types Briefly maps onto message statuses (sendgrid-webhook.ts); open and click need tracking on. */
export const WEBHOOK_EVENTS = [
  'processed',
  'deferred',
  'delivered',
  'bounce',
  'dropped',
  'spam_report',
  'unsubscribe',
  'group_unsubscribe',
  'open',
  'click',
] as const;

const settingsSchema = z
  .object({
    enabled: z.boolean(),
    url: z.string().nullish(),
    processed: z.boolean().optional(),
    deferred: z.boolean().optional(),
    delivered: z.boolean().optional(),
    bounce: z.boolean().optional(),
    dropped: z.boolean().optional(),
    spam_report: z.boolean().optional(),
    unsubscribe: z.boolean().optional(),
    group_unsubscribe: z.boolean().optional(),
    open: z.boolean().optional(),
    click: z.boolean().optional(),
  })
  .loose();

const signedSchema = z.object({ public_key: z.string().nullish() }).loose();

export type WebhookSettings = z.output<typeof settingsSchema>;

const errorBody = z.object({ errors: z.array(z.object({ message: z.string().nullish() })).min(1) });

export class SendgridWebhookSettingsClient {
  constructor(private readonly options: { apiKey: string; baseUrl: string; timeoutMs: number }) {}

  getSettings(): Promise<WebhookSettings> {
    return this.call('GET', '/v3/user/webhooks/event/settings', settingsSchema);
  }

  updateSettings(settings: Partial<WebhookSettings>): Promise<WebhookSettings> {
    return this.call('PATCH', '/v3/user/webhooks/event/settings', settingsSchema, settings);
  }

  /** The verification key; empty when signing is off. */
  async getPublicKey(): Promise<string> {
    return (await this.call('GET', '/v3/user/webhooks/event/settings/signed', signedSchema)).public_key ?? '';
  }

  async setSigning(enabled: boolean): Promise<string> {
    return (
      (await this.call('PATCH', '/v3/user/webhooks/event/settings/signed', signedSchema, { enabled }))
        .public_key ?? ''
    );
  }

  private async call<T extends z.ZodType>(
    method: string,
    path: string,
    schema: T,
    body?: unknown,
  ): Promise<z.output<T>> {
    let response: Response;
    try {
      response = await fetch(`${this.options.baseUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${this.options.apiKey}`,
          accept: 'application/json',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
    } catch (error) {
      throw new AppError('unavailable', `SendGrid ${method} ${path} failed: ${(error as Error).message}`, {
        cause: error,
      });
    }
    const text = await response.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : {};
    } catch {
      json = undefined;
    }
    if (!response.ok) {
      const parsed = errorBody.safeParse(json);
      const reason = parsed.success
        ? parsed.data.errors.map((e) => e.message ?? 'error').join('; ')
        : `HTTP ${response.status}`;
      const hint =
        response.status === 401 || response.status === 403
          ? ' (the API key in SENDGRID_API_KEY needs access to Mail Settings / Event Webhook, e.g. Full Access)'
          : '';
      throw new AppError(
        response.status === 429 || response.status >= 500 ? 'unavailable' : 'vendor_error',
        `SendGrid ${method} ${path} answered ${response.status}: ${reason.slice(0, 300)}${hint}`,
      );
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) {
      throw new AppError(
        'vendor_error',
        `SendGrid ${method} ${path} answered something unexpected: ${text.slice(0, 200)}`,
      );
    }
    return parsed.data;
  }
}

export interface WebhookCheck {
  ok: boolean;
  /** One line per check: [passed, text]. */
  lines: [boolean, string][];
  publicKey: string;
}

export const webhookUrl = (publicUrl: string): string => `${publicUrl.replace(/\/+$/, '')}/webhooks/sendgrid`;

/** Why SendGrid could not reach this URL, or undefined when it may. */
export function unreachableReason(publicUrl: string): string | undefined {
  const { hostname, protocol } = new URL(publicUrl);
  if (/^(localhost|127\.|10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.|\[?::1\]?$|0\.0\.0\.0)/.test(hostname)) {
    return `PUBLIC_URL (${publicUrl}) is a local address SendGrid cannot reach: expose Briefly through an HTTPS tunnel and set PUBLIC_URL to the tunnel's URL (README, "Webhooks on a laptop")`;
  }
  if (protocol !== 'https:')
    return `PUBLIC_URL (${publicUrl}) is not https: use an https URL (a tunnel gives one)`;
  return undefined;
}

/** Compares SendGrid's Event Webhook settings with what Briefly needs. */
export async function checkWebhook(
  client: SendgridWebhookSettingsClient,
  options: { publicUrl: string; configuredPublicKey?: string },
): Promise<WebhookCheck> {
  const expected = webhookUrl(options.publicUrl);
  const [settings, publicKey] = await Promise.all([client.getSettings(), client.getPublicKey()]);
  const lines: [boolean, string][] = [];
  const unreachable = unreachableReason(options.publicUrl);
  if (unreachable) lines.push([false, unreachable]);
  lines.push([settings.enabled, settings.enabled ? 'Event Webhook is enabled' : 'Event Webhook is disabled']);
  lines.push([
    settings.url === expected,
    settings.url === expected
      ? `it posts to ${expected}`
      : `it posts to ${settings.url || '(no URL)'}, not ${expected}`,
  ]);
  const missing = WEBHOOK_EVENTS.filter((event) => settings[event] !== true);
  lines.push([
    missing.length === 0,
    missing.length === 0
      ? 'every event Briefly records is selected'
      : `events not selected: ${missing.join(', ')}`,
  ]);
  lines.push([publicKey !== '', publicKey ? 'signing is on' : 'signing (Signed Event Webhook) is off']);
  if (publicKey) {
    const same = options.configuredPublicKey?.replace(/\s+/g, '') === publicKey.replace(/\s+/g, '');
    lines.push([
      same,
      same
        ? 'SENDGRID_WEBHOOK_PUBLIC_KEY matches the signing key'
        : options.configuredPublicKey
          ? 'SENDGRID_WEBHOOK_PUBLIC_KEY differs from the signing key: set it to the key below'
          : 'SENDGRID_WEBHOOK_PUBLIC_KEY is not set: set it to the key below',
    ]);
  }
  return { ok: lines.every(([passed]) => passed), lines, publicKey };
}

/** Points the Event Webhook at PUBLIC_URL with every event Briefly records, and turns signing on. */
export async function registerWebhook(
  client: SendgridWebhookSettingsClient,
  options: { publicUrl: string },
): Promise<{ url: string; publicKey: string }> {
  const unreachable = unreachableReason(options.publicUrl);
  if (unreachable) throw new AppError('validation_failed', unreachable);
  const url = webhookUrl(options.publicUrl);
  await client.updateSettings({
    enabled: true,
    url,
    ...Object.fromEntries(WEBHOOK_EVENTS.map((event) => [event, true])),
  });
  const publicKey = await client.setSigning(true);
  if (!publicKey) throw new AppError('vendor_error', 'SendGrid turned signing on but returned no public key');
  return { url, publicKey };
}
