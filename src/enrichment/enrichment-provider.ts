import type { PersonProfile } from '../db/schema.ts';
import { AppError } from '../errors.ts';

/**
 * Person enrichment by email. `lookup` answers a profile, or null when the vendor has no match
 * (cached as not-found). Errors: `QuotaExhaustedError` (402, or 429 past retries: degrade to
 * un-enriched briefings and alert once), AppError `unavailable` (retry later), anything else
 * is a vendor error. A garbage answer is treated as no usable data, never thrown into a briefing.
 */
export interface EnrichmentProvider {
  readonly name: string;
  lookup(email: string): Promise<PersonProfile | null>;
}

export class QuotaExhaustedError extends AppError {
  constructor(vendor: string, detail: string, retryAfterSeconds?: number) {
    super('rate_limited', `${vendor} quota exhausted: ${detail}`, { retryable: false, retryAfterSeconds });
    this.name = 'QuotaExhaustedError';
  }
}

/** The "none" adapter: briefings show what the calendar knows. */
export class NoEnrichmentProvider implements EnrichmentProvider {
  readonly name = 'none';
  async lookup(): Promise<PersonProfile | null> {
    return null;
  }
}
