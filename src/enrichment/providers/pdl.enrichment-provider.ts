import { z } from 'zod';
import type { PersonProfile } from '../../db/schema.ts';
import { AppError } from '../../errors.ts';
import { rateLimitWaitSeconds } from '../../shared/retry-after.ts';
import { type EnrichmentProvider, QuotaExhaustedError } from '../enrichment-provider.ts';
import { compactProfile, linkedinUrl, networkReason, redactKey } from './vendor-http.ts';

export interface PdlOptions {
  apiKey: string;
  /** PDL_BASE_URL; a proxy or a local fake in tests. */
  baseUrl?: string;
  timeoutMs: number;
  /** 1-10: PDL answers 404 (not billed) when its best match is less likely than this. */
  minLikelihood?: number;
}

export const PDL_DEFAULT_BASE_URL = 'https://api.peopledatalabs.com';

/** A field PDL sent with the wrong type or empty is dropped, not fatal: the rest is still useful. */
const text = z.string().trim().min(1).optional().catch(undefined);

const person = z.object({
  full_name: text,
  job_title: text,
  job_company_name: text,
  job_company_size: text,
  job_company_industry: text,
  industry: text,
  location_name: text,
  linkedin_url: text,
});

/** The envelope must be right (a `data` object); only the fields inside are parsed leniently. */
const enrichAnswer = z.object({ data: z.record(z.string(), z.unknown()) });

const errorAnswer = z.object({
  error: z.object({ type: z.string().optional(), message: z.string().optional() }).optional(),
});

/** PDL says "rate_limit_error" for the per-minute window; only these words mean the credits ran out. */
const QUOTA_WORDS = /quota|credit|exhausted|all matches used|account maximum|monthly limit/i;

/**
 * People Data Labs person enrichment by email (VENDOR-FACTS §7). 404 is PDL's "no match" and is not
 * billed, so it is an answer (null), not an error. 402 means the credits are gone; 429 is usually
 * the per-minute window, which is retryable, unless the body says the quota itself is exhausted.
 */
export class PdlEnrichmentProvider implements EnrichmentProvider {
  readonly name = 'pdl';
  private readonly baseUrl: string;

  constructor(private readonly options: PdlOptions) {
    this.baseUrl = (options.baseUrl ?? PDL_DEFAULT_BASE_URL).replace(/\/+$/, '');
  }

  async lookup(email: string): Promise<PersonProfile | null> {
    const query = new URLSearchParams({ email });
    if (this.options.minLikelihood !== undefined)
      query.set('min_likelihood', String(this.options.minLikelihood));
    let response: Response;
    let body: string;
    try {
      response = await fetch(`${this.baseUrl}/v5/person/enrich?${query}`, {
        headers: { 'X-Api-Key': this.options.apiKey, accept: 'application/json' },
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      body = await response.text();
    } catch (error) {
      const reason = networkReason(error, this.options.timeoutMs, this.options.apiKey);
      throw new AppError('unavailable', `PDL person enrich ${reason}`, { retryable: true, cause: error });
    }
    if (response.status === 200) return this.parseMatch(body);
    if (response.status === 404) return null;
    throw this.classify(response, body);
  }

  private parseMatch(body: string): PersonProfile {
    let json: unknown;
    try {
      json = JSON.parse(body);
    } catch {
      throw new AppError('vendor_error', 'PDL person enrich answered 200 with a body that is not JSON', {
        retryable: false,
      });
    }
    const envelope = enrichAnswer.safeParse(json);
    if (!envelope.success) {
      throw new AppError('vendor_error', 'PDL person enrich answered 200 without a `data` object', {
        retryable: false,
      });
    }
    const d = person.parse(envelope.data.data);
    const industry = d.job_company_industry ?? d.industry;
    return compactProfile({
      name: d.full_name && smartCase(d.full_name, 'name'),
      title: d.job_title && smartCase(d.job_title, 'title'),
      company: d.job_company_name && smartCase(d.job_company_name, 'title'),
      companySize: d.job_company_size,
      industry: industry && smartCase(industry, 'title'),
      location: d.location_name && smartCase(d.location_name, 'title'),
      linkedinUrl: d.linkedin_url && linkedinUrl(d.linkedin_url),
    });
  }

  private classify(response: Response, body: string): AppError {
    const status = response.status;
    const detail = redactKey(vendorMessage(body) ?? `HTTP ${status}`, this.options.apiKey);
    const message = `PDL person enrich ${status}: ${detail}`;
    if (status === 401 || status === 403) {
      return new AppError('unauthorized', `PDL_API_KEY was rejected (${status}): ${detail}`, {
        retryable: false,
      });
    }
    if (status === 402) return new QuotaExhaustedError('PDL', detail);
    if (status === 429) {
      const retryAfterSeconds = rateLimitWaitSeconds(response.headers);
      if (QUOTA_WORDS.test(body)) return new QuotaExhaustedError('PDL', detail, retryAfterSeconds);
      return new AppError('rate_limited', message, { retryable: true, retryAfterSeconds });
    }
    if (status >= 500) return new AppError('unavailable', message, { retryable: true });
    return new AppError('vendor_error', message, { retryable: false });
  }
}

function vendorMessage(body: string): string | undefined {
  try {
    const parsed = errorAnswer.safeParse(JSON.parse(body));
    const error = parsed.success ? parsed.data.error : undefined;
    const message = [error?.type, error?.message].filter(Boolean).join(': ');
    return message ? message.slice(0, 300) : undefined;
  } catch {
    return undefined;
  }
}

const ACRONYMS = new Set([
  'ae',
  'ai',
  'amer',
  'apac',
  'b2b',
  'b2c',
  'bdr',
  'ceo',
  'cfo',
  'cio',
  'cmo',
  'coo',
  'cpo',
  'crm',
  'cro',
  'cto',
  'emea',
  'erp',
  'evp',
  'gtm',
  'hr',
  'it',
  'latam',
  'ml',
  'pr',
  'qa',
  'r&d',
  'saas',
  'sdr',
  'seo',
  'svp',
  'ui',
  'uk',
  'us',
  'usa',
  'ux',
  'vp',
]);
const TITLE_SMALL_WORDS = new Set(['a', 'an', 'and', 'at', 'by', 'for', 'in', 'of', 'on', 'or', 'the', 'to']);
const NAME_PARTICLES = new Set(['da', 'de', 'del', 'der', 'di', 'du', 'van', 'von']);

/**
 * PDL lower-cases every string ("sean thorne", "vp of sales"): restore the usual capitals. A value
 * that already has capitals was written by someone on purpose and is kept as it is.
 */
export function smartCase(value: string, kind: 'name' | 'title'): string {
  if (value !== value.toLowerCase()) return value;
  return value
    .split(/(\s+)/)
    .map((word, index) => {
      if (/^\s+$/.test(word)) return word;
      const bare = word.replace(/[^a-z&]/g, '');
      if (kind === 'title' && ACRONYMS.has(bare)) return word.toUpperCase();
      if (index > 0 && kind === 'title' && TITLE_SMALL_WORDS.has(word)) return word;
      if (index > 0 && kind === 'name' && NAME_PARTICLES.has(word)) return word;
      return word
        .replace(/(^|[-'’(/])([a-z])/g, (_, sep: string, ch: string) => sep + ch.toUpperCase())
        .replace(/^(Mc)([a-z])/, (_, mc: string, ch: string) => mc + ch.toUpperCase());
    })
    .join('');
}
