import type { PersonProfile } from '../../db/schema.ts';

/** A vendor (or a proxy) may echo the request back; the key must not reach logs or Slack. */
export function redactKey(value: string, apiKey: string): string {
  return apiKey ? value.split(apiKey).join('[redacted]') : value;
}

/** Why a request got no answer at all, for an error message; undici hides the reason in `cause`. */
export function networkReason(error: unknown, timeoutMs: number, apiKey: string): string {
  const e = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return `timed out after ${timeoutMs} ms`;
  const why = e.cause?.code ?? e.cause?.message ?? e.message ?? 'network error';
  return `failed: ${redactKey(String(why), apiKey).slice(0, 200)}`;
}

/**
 * Only a LinkedIn address goes into an email as a link: anything else a vendor sent is dropped.
 * Vendors send it with or without a scheme ("linkedin.com/in/x", "http://www.linkedin.com/in/x").
 */
export function linkedinUrl(raw: string): string | undefined {
  const withScheme = /^https?:\/\//i.test(raw) ? raw.replace(/^http:/i, 'https:') : `https://${raw}`;
  try {
    const url = new URL(withScheme);
    if (url.hostname !== 'linkedin.com' && !url.hostname.endsWith('.linkedin.com')) return undefined;
    return url.toString().replace(/\/$/, '');
  } catch {
    return undefined;
  }
}

/** Drops fields a vendor left out or sent empty, so a cached profile holds only what is known. */
export function compactProfile(profile: PersonProfile): PersonProfile {
  return Object.fromEntries(
    Object.entries(profile).filter(([, v]) => v !== undefined && v !== ''),
  ) as PersonProfile;
}
