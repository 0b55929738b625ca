import { z } from 'zod';
import type { PersonProfile } from '../../db/schema.ts';
import { AppError } from '../../errors.ts';
import { rateLimitWaitSeconds } from '../../shared/retry-after.ts';
import { type EnrichmentProvider, QuotaExhaustedError } from '../enrichment-provider.ts';
import { compactProfile, linkedinUrl, networkReason, redactKey } from './vendor-http.ts';

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
      const reason = networkReason(error, this.options.timeoutMs, this.options.apiKey);
      throw new AppError('unavailable', `Apollo people match ${reason}`, { retryable: true, cause: error });
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
    return compactProfile({
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
    const detail = redactKey(vendorMessage(body) ?? `HTTP ${status}`, this.options.apiKey);
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
      const retryAfterSeconds = rateLimitWaitSeconds(response.headers);
      if (QUOTA_WORDS.test(detail)) return new QuotaExhaustedError('Apollo', detail, retryAfterSeconds);
      return new AppError('rate_limited', message, { retryable: true, retryAfterSeconds });
    }
    if (status >= 500) return new AppError('unavailable', message, { retryable: true });
    return new AppError('vendor_error', message, { retryable: false });
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

function capitalizeWords(value: string): string {
  if (value !== value.toLowerCase()) return value;
  return value.replace(/(^|[\s\-/(])([a-z])/g, (_, sep: string, ch: string) => sep + ch.toUpperCase());
}
