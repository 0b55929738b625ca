/**
 * How long a vendor asks us to wait, read from its answer's headers: the one parser for every
 * vendor (Slack, Google, Microsoft Graph, ICS hosts, PDL, Apollo, SendGrid).
 *
 * `Retry-After` wins (RFC 9110 §10.2.3: delay-seconds or an HTTP date); otherwise
 * `X-RateLimit-Reset`. Vendors disagree on what a reset holds, so both headers accept: seconds,
 * an epoch in seconds (SendGrid, VENDOR-FACTS §4) or milliseconds, an ISO or HTTP date (zone-less
 * and "… UTC" times are UTC: PDL documents a UTC time), or JSON per window such as
 * `{"minute": …, "day": …}` (PDL's SDK), where the nearest reset counts. A number above 1e9 is an
 * epoch: no vendor asks for a 31-year wait in delta-seconds.
 */

/** fetch's Headers, or a plain header object (node:http, gaxios) whose names may be any case. */
export type HeaderSource = { get(name: string): string | null } | Record<string, unknown> | null | undefined;

function header(headers: HeaderSource, name: string): string | undefined {
  if (!headers) return undefined;
  const get = (headers as { get?: unknown }).get;
  if (typeof get === 'function')
    return (get as (n: string) => string | null).call(headers, name) ?? undefined;
  for (const [key, value] of Object.entries(headers)) {
    if (key.toLowerCase() !== name) continue;
    if (typeof value === 'string') return value;
    if (typeof value === 'number') return String(value);
    if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  }
  return undefined;
}

function msUntil(value: unknown, now: number): number | undefined {
  if (typeof value === 'number' || (typeof value === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(value))) {
    const n = Number(value);
    if (!Number.isFinite(n)) return undefined;
    if (n > 1e12) return n - now;
    if (n > 1e9) return n * 1000 - now;
    return n * 1000;
  }
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const iso = value
    .trim()
    .replace(/^(\d{4}-\d\d-\d\d) /, '$1T')
    .replace(/ ?UTC$/i, 'Z');
  const at = Date.parse(/T[\d:.]+$/.test(iso) ? `${iso}Z` : iso);
  return Number.isNaN(at) ? undefined : at - now;
}

function candidates(value: string): unknown[] {
  if (!/^\s*[{[]/.test(value)) return [value];
  try {
    const json: unknown = JSON.parse(value.replace(/'/g, '"'));
    return json && typeof json === 'object' ? Object.values(json) : [json];
  } catch {
    return [value];
  }
}

/** Milliseconds to wait (0 when the moment has passed), or undefined when neither header says. */
export function rateLimitWaitMs(headers: HeaderSource, now = Date.now()): number | undefined {
  const value = header(headers, 'retry-after') ?? header(headers, 'x-ratelimit-reset');
  if (value === undefined) return undefined;
  const waits = candidates(value)
    .map((v) => msUntil(v, now))
    .filter((ms): ms is number => ms !== undefined && Number.isFinite(ms));
  return waits.length ? Math.max(0, Math.min(...waits)) : undefined;
}

/** Whole seconds to wait, at least 1 (a queue delay of 0 would hammer the vendor), or undefined. */
export function rateLimitWaitSeconds(headers: HeaderSource, now = Date.now()): number | undefined {
  const ms = rateLimitWaitMs(headers, now);
  return ms === undefined ? undefined : Math.max(1, Math.ceil(ms / 1000));
}
