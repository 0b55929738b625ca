import { z } from 'zod';
import type { PersonProfile } from '../../db/schema.ts';
import { AppError } from '../../errors.ts';
import { type EnrichmentProvider, QuotaExhaustedError } from '../enrichment-provider.ts';

export interface ApolloOptions {
  apiKey: string;
  /** APOLLO_BASE_URL; a proxy or a local fake in tests. */
  baseUrl?: string;
  timeoutMs: number;
}

export const APOLLO_DEFAULT_BASE_URL = 'https://api.apollo.io';

/** A field Apollo sent with the wrong type or empty is dropped, not fatal: the rest is still useful. */
const text = z.string().trim().min(1).optional().catch(undefined);

const organization = z
  .object({
    name: text,
    industry: text,
    estimated_num_employees: z.number().int().nonnegative().optional().catch(undefined),
  })
  .optional()
  .catch(undefined);

const person = z.object({
  name: text,
  first_name: text,
  last_name: text,
  title: text,
  linkedin_url: text,
  city: text,
  state: text,
  country: text,
  organization,
});

/** The envelope must be right: Apollo says `person: null` for no match, so a missing key is garbage. */
const matchAnswer = z.object({ person: z.record(z.string(), z.unknown()).nullable() });

/** Apollo's error bodies vary by endpoint and gateway: `{error}`, `{message}` or `{error_message}`. */
const errorAnswer = z.object({
  error: z.string().optional().catch(undefined),
  message: z.string().optional().catch(undefined),
  error_message: z.string().optional().catch(undefined),
  error_code: z.string().optional().catch(undefined),
});

/**
 * Credit and plan exhaustion. Apollo's 429 for the minute/hour/day windows also says "upgrade your
 * plan", so on a 429 only credit/quota words count; on 402/403/422 a plan message counts too.
 */
const QUOTA_WORDS = /credit|quota|exhausted/i;
const PLAN_WORDS = /credit|quota|exhausted|plan|upgrade|billing|payment/i;

/** Apollo reports headcount as a number; briefings show the bands LinkedIn and PDL use. */
const SIZE_BANDS: [number, string][] = [
  [10, '1-10'],
  [50, '11-50'],
  [200, '51-200'],
  [500, '201-500'],
  [1000, '501-1000'],
  [5000, '1001-5000'],
  [10000, '5001-10000'],
];

export function sizeBand(employees: number): string | undefined {
  if (employees < 1) return undefined;
  return SIZE_BANDS.find(([max]) => employees <= max)?.[1] ?? '10001+';
}

/**
 * Apollo People Enrichment (`POST /api/v1/people/match`, VENDOR-FACTS §7). Personal emails are not
 * revealed (they cost credits and a briefing does not need them). Apollo meters per team and per
 * minute/hour/day, so a 429 is a window to wait out unless the body says the credits are gone.
 */
export class ApolloEnrichmentProvider implements EnrichmentProvider {
  readonly name = 'apollo';
  private readonly baseUrl: string;

  constructor(private readonly options: ApolloOptions) {
    this.baseUrl = (options.baseUrl ?? APOLLO_DEFAULT_BASE_URL).replace(/\/+$/, '');
  }

  async lookup(email: string): Promise<PersonProfile | null> {
    let response: Response;
    let body: string;
    try {
      response = await fetch(`${this.baseUrl}/api/v1/people/match`, {
        method: 'POST',
        headers: {
          'x-api-key': this.options.apiKey,
          'content-type': 'application/json',
          accept: 'application/json',
          'cache-control': 'no-cache',
        },
        body: JSON.stringify({ email, reveal_personal_emails: false }),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      body = await response.text();
    } catch (error) {
      throw new AppError('unavailable', `Apollo people match ${this.networkReason(error)}`, {
        retryable: true,
        cause: error,
      });
    }
    if (response.status === 200) return this.parseMatch(body);
    throw this.classify(response, body);
  }

  private parseMatch(body: string): PersonProfile | null {
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      throw new AppError('vendor_error', 'Apollo people match answered 200 with a body that is not JSON', {
        retryable: false,
      });
    }
    const envelope = matchAnswer.safeParse(json);
    if (!envelope.success) {
      throw new AppError('vendor_error', 'Apollo people match answered 200 without a `person` field', {
        retryable: false,
      });
    }
    if (envelope.data.person === null) return null;
    const p = person.parse(envelope.data.person);
    const org = p.organization;
    const fullName = p.name ?? ([p.first_name, p.last_name].filter(Boolean).join(' ') || undefined);
    const location = [p.city, p.state, p.country].filter(Boolean).join(', ');
    return compact({
      name: fullName,
      title: p.title,
      company: org?.name,
      companySize:
        org?.estimated_num_employees === undefined ? undefined : sizeBand(org.estimated_num_employees),
      // Apollo's industry names are lower-case ("computer software").
      industry: org?.industry && capitalizeWords(org.industry),
      location: location || undefined,
      linkedinUrl: p.linkedin_url && linkedinUrl(p.linkedin_url),
    });
  }

  private classify(response: Response, body: string): AppError {
    const status = response.status;
    const detail = this.redact(vendorMessage(body) ?? `HTTP ${status}`);
    const message = `Apollo people match ${status}: ${detail}`;
    if (status === 401) {
      return new AppError('unauthorized', `APOLLO_API_KEY was rejected (401): ${detail}`, {
        retryable: false,
      });
    }
    if (status === 402) return new QuotaExhaustedError('Apollo', detail);
    if (status === 403 || status === 422) {
      if (PLAN_WORDS.test(detail)) return new QuotaExhaustedError('Apollo', detail);
      if (status === 403) {
        return new AppError('unauthorized', `APOLLO_API_KEY was rejected (403): ${detail}`, {
          retryable: false,
        });
      }
      return new AppError('vendor_error', message, { retryable: false });
    }
    if (status === 429) {
      const retryAfterSeconds = retryAfter(response.headers);
      if (QUOTA_WORDS.test(detail)) return new QuotaExhaustedError('Apollo', detail, retryAfterSeconds);
      return new AppError('rate_limited', message, { retryable: true, retryAfterSeconds });
    }
    if (status >= 500) return new AppError('unavailable', message, { retryable: true });
    return new AppError('vendor_error', message, { retryable: false });
  }

  private networkReason(error: unknown): string {
    const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
    if (e.name === 'TimeoutError' || e.name === 'AbortError')
      return `timed out after ${this.options.timeoutMs} ms`;
    const why = e.cause?.code ?? e.cause?.message ?? e.message ?? 'network error';
    return `failed: ${this.redact(String(why)).slice(0, 200)}`;
  }

  /** A vendor (or a proxy) may echo the request back; the key must not reach logs or Slack. */
  private redact(value: string): string {
    return this.options.apiKey ? value.split(this.options.apiKey).join('[redacted]') : value;
  }
}

function vendorMessage(body: string): string | undefined {
  try {
    const parsed = errorAnswer.safeParse(JSON.parse(body));
    if (!parsed.success) return undefined;
    const e = parsed.data;
    const message = [e.error_code, e.error ?? e.message ?? e.error_message].filter(Boolean).join(': ');
    return message ? message.slice(0, 300) : undefined;
  } catch {
    return undefined;
  }
}

/** Retry-After (seconds or an HTTP date), else x-ratelimit-reset (seconds, or an epoch in s or ms). */
function retryAfter(headers: Headers, now = Date.now()): number | undefined {
  const header = headers.get('retry-after') ?? headers.get('x-ratelimit-reset');
  if (!header) return undefined;
  let seconds: number;
  if (/^\s*\d+(\.\d+)?\s*$/.test(header)) {
    const n = Number(header);
    seconds = n > 1e12 ? (n - now) / 1000 : n > 1e9 ? n - now / 1000 : n;
  } else {
    const at = Date.parse(header);
    if (Number.isNaN(at)) return undefined;
    seconds = (at - now) / 1000;
  }
  return Math.max(1, Math.ceil(seconds));
}

function compact(profile: PersonProfile): PersonProfile {
  return Object.fromEntries(
    Object.entries(profile).filter(([, v]) => v !== undefined && v !== ''),
  ) as PersonProfile;
}

function capitalizeWords(value: string): string {
  if (value !== value.toLowerCase()) return value;
  return value.replace(/(^|[\s\-/(])([a-z])/g, (_, sep: string, ch: string) => sep + ch.toUpperCase());
}

/** Only a LinkedIn address goes into an email as a link; Apollo sends "http://www.linkedin.com/in/x". */
function linkedinUrl(value: string): string | undefined {
  const withScheme = /^https?:\/\//i.test(value) ? value.replace(/^http:/i, 'https:') : `https://${value}`;
  try {
    const url = new URL(withScheme);
    if (url.hostname !== 'linkedin.com' && !url.hostname.endsWith('.linkedin.com')) return undefined;
    return url.toString().replace(/\/$/, '');
  } catch {
    return undefined;
  }
}
