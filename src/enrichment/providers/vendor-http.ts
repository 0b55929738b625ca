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
 * Seconds until the vendor lets us call again, at least 1: Retry-After, else x-ratelimit-reset.
 * Either may hold seconds, an epoch in s or ms, or a date; PDL documents the reset as a UTC time and
 * its SDK reads it as JSON per window ({"minute": ...}), in which case the nearest reset counts.
 * Not `parseRetryAfter` from the calendar providers: that one reads RFC 9110 delta-seconds only, so it
 * would take an epoch for a number of seconds and a zone-less time for local time.
 */
export function retryAfter(headers: Headers, now = Date.now()): number | undefined {
  const values: unknown[] = [];
  const header = headers.get('retry-after');
  const reset = headers.get('x-ratelimit-reset');
  if (header) values.push(header);
  else if (reset) {
    try {
      const json: unknown = JSON.parse(reset.replace(/'/g, '"'));
      values.push(...(json && typeof json === 'object' ? Object.values(json) : [json]));
    } catch {
      values.push(reset);
    }
  }
  const seconds = values
    .map((value) => secondsUntil(value, now))
    .filter((s): s is number => s !== undefined && Number.isFinite(s));
  return seconds.length ? Math.max(1, Math.ceil(Math.min(...seconds))) : undefined;
}

function secondsUntil(value: unknown, now: number): number | undefined {
  if (typeof value === 'number' || (typeof value === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(value))) {
    const n = Number(value);
    if (n > 1e12) return (n - now) / 1000;
    if (n > 1e9) return n - now / 1000;
    return n;
  }
  if (typeof value !== 'string') return undefined;
  // "2024-05-13 20:03:00 UTC" and zone-less ISO times are UTC for PDL, not the server's local time.
  const iso = value
    .trim()
    .replace(/^(\d{4}-\d\d-\d\d) /, '$1T')
    .replace(/ ?UTC$/i, 'Z');
  const at = Date.parse(/T[\d:.]+$/.test(iso) ? `${iso}Z` : iso);
  return Number.isNaN(at) ? undefined : (at - now) / 1000;
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
