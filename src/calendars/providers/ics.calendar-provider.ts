import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ICAL from 'ical.js';
import { IANAZone } from 'luxon';
import { z } from 'zod';
import type { CalendarSyncState, EventPerson } from '../../db/schema.ts';
import { AppError } from '../../errors.ts';
import { rateLimitWaitSeconds } from '../../shared/retry-after.ts';
import {
  type CalendarConnectionRef,
  type CalendarEventInput,
  type CalendarProvider,
  CredentialError,
  findVideoUrl,
  type SyncResult,
  type SyncWindow,
  vendorUnavailable,
} from '../calendar-provider.ts';
import { DEMO_CALENDAR_PATH, DEMO_CALENDAR_URL } from '../demo/demo-calendar.ts';
import { ianaZoneFor } from '../time-zones.ts';

export interface IcsCalendarProviderOptions {
  timeoutMs: number;
  /** Largest feed body accepted (after content decoding). */
  maxBytes: number;
  /** `file:` feeds read local files: only the bundled demo calendar should need them. */
  allowFileUrls: boolean;
  fetch?: typeof fetch;
}

/** Instances of one series kept inside the window; a guard against FREQ=MINUTELY-style runaways. */
export const MAX_INSTANCES_PER_SERIES = 5_000;
/**
 * Recurrence steps walked per series (see fastForward for why steps before the window are
 * walked at all): enough for an hourly series two years old, and it stops a SECONDLY rule from
 * spinning. A series cut short keeps the instances found so far.
 */
const MAX_STEPS_PER_SERIES = 20_000;
/** Recurrence steps per feed: the whole download is refused past this rather than half-read. */
const MAX_STEPS_PER_FEED = 250_000;

const VENDOR = 'ICS feed';

const credentialsSchema = z.object({ url: z.string().trim().min(1) });

type Time = InstanceType<typeof ICAL.Time>;
type Component = InstanceType<typeof ICAL.Component>;
type IcalEvent = InstanceType<typeof ICAL.Event>;

/**
 * A published iCalendar feed (Google "secret address", Outlook "publish calendar", any CalDAV
 * export). A feed has no delta: every change is a full download, so the adapter answers
 * `full: true` with every instance in the window, or `unchanged` on 304 Not Modified. The URL is a
 * bearer secret (the token is in its path or query), so it never appears in errors.
 */
export class IcsCalendarProvider implements CalendarProvider {
  readonly name = 'ics' as const;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly options: IcsCalendarProviderOptions) {
    this.fetchImpl = options.fetch ?? globalThis.fetch;
  }

  async sync(
    connection: CalendarConnectionRef,
    state: CalendarSyncState,
    window: SyncWindow,
  ): Promise<SyncResult> {
    const url = this.feedUrl(connection.credentials);
    // A 304 only proves the feed is unchanged: instances the last download did not cover (the
    // window moved on) are missing from the mirror, so validators are sent only when the stored
    // window still covers the one asked for.
    // Floating times are read in the rep's zone: a rep who moved must get the feed re-read.
    const zone = readingZone(connection.timeZone);
    const conditional = coversWindow(state, window) && state.timeZone === zone;
    const fetched =
      url.href === DEMO_CALENDAR_URL
        ? await this.readLocal(pathToFileURL(DEMO_CALENDAR_PATH), state, conditional)
        : url.protocol === 'file:'
          ? await this.readLocal(url, state, conditional)
          : await this.download(url, state, conditional);
    if (fetched.notModified) return { full: false, events: [], removed: [], unchanged: true, state };

    const warnings: string[] = [];
    const events = parseIcsFeed(fetched.body, window, connection.repEmail, {
      timeZone: zone,
      onUnknownZone: (tzid) =>
        warnings.push(
          `ICS feed uses TZID "${tzid.slice(0, 80)}", which is neither defined in the feed (VTIMEZONE), an IANA zone nor a Windows zone name: its times are read in the rep's zone ${zone}`,
        ),
    });
    const next: CalendarSyncState = {
      windowStart: window.start.toISOString(),
      windowEnd: window.end.toISOString(),
      timeZone: zone,
    };
    if (fetched.etag) next.etag = fetched.etag;
    if (fetched.lastModified) next.lastModified = fetched.lastModified;
    return { full: true, events, removed: [], state: next, ...(warnings.length ? { warnings } : {}) };
  }

  private feedUrl(credentials: Record<string, string>): URL {
    const parsed = credentialsSchema.safeParse(credentials);
    if (!parsed.success) throw new CredentialError('The ICS connection has no feed URL');
    let url: URL;
    try {
      url = new URL(parsed.data.url);
    } catch {
      throw new CredentialError('The ICS feed URL is not a valid URL');
    }
    // webcal:// is a "subscribe" hint that Apple and Google hand out; the feed itself is served
    // over HTTPS at the same address.
    if (url.protocol === 'webcal:' || url.protocol === 'webcals:') {
      url = new URL(`https:${url.href.slice(url.protocol.length)}`);
    }
    if (url.protocol === 'http:' || url.protocol === 'https:' || url.href === DEMO_CALENDAR_URL) return url;
    if (url.protocol === 'file:' && this.options.allowFileUrls) return url;
    throw new CredentialError(`ICS feed URLs must use http or https (got ${url.protocol.replace(/:$/, '')})`);
  }

  private async download(url: URL, state: CalendarSyncState, conditional: boolean): Promise<Fetched> {
    const headers: Record<string, string> = { accept: 'text/calendar, text/plain;q=0.9, */*;q=0.5' };
    if (conditional && state.etag) headers['if-none-match'] = state.etag;
    if (conditional && state.lastModified) headers['if-modified-since'] = state.lastModified;
    // fetch refuses URLs carrying user:password, which some CalDAV servers publish: send them as Basic.
    if (url.username || url.password) {
      const user = decodeURIComponent(url.username);
      const password = decodeURIComponent(url.password);
      headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
      url = new URL(url.href);
      url.username = '';
      url.password = '';
    }

    const signal = AbortSignal.timeout(this.options.timeoutMs);
    let response: Response;
    try {
      response = await this.fetchImpl(url, { headers, signal, redirect: 'follow' });
    } catch (error) {
      throw this.networkFailure(error);
    }

    const status = response.status;
    if (status === 304) {
      await response.body?.cancel().catch(() => undefined);
      return { notModified: true };
    }
    if (status >= 200 && status < 300) {
      let body: string;
      try {
        body = await readLimited(response, this.options.maxBytes);
      } catch (error) {
        if (error instanceof AppError) throw error;
        throw this.networkFailure(error);
      }
      return {
        notModified: false,
        body,
        etag: response.headers.get('etag') ?? undefined,
        lastModified: response.headers.get('last-modified') ?? undefined,
      };
    }

    await response.body?.cancel().catch(() => undefined);
    if (status === 401 || status === 403 || status === 404 || status === 410) {
      throw new CredentialError(
        `The ICS feed answered HTTP ${status}: the calendar link was revoked, made private or deleted`,
      );
    }
    if (status === 408 || status === 429 || status >= 500) {
      throw vendorUnavailable(VENDOR, `HTTP ${status}`, rateLimitWaitSeconds(response.headers));
    }
    throw new AppError('vendor_error', `The ICS feed answered HTTP ${status}`, { retryable: false });
  }

  /** The bundled demo calendar: the file's mtime stands in for Last-Modified. */
  private async readLocal(url: URL, state: CalendarSyncState, conditional: boolean): Promise<Fetched> {
    const path = fileURLToPath(url);
    let info: Awaited<ReturnType<typeof stat>>;
    try {
      info = await stat(path);
    } catch (error) {
      throw new CredentialError('The ICS feed file does not exist', { cause: error });
    }
    const lastModified = info.mtime.toUTCString();
    if (conditional && state.lastModified === lastModified) return { notModified: true };
    if (info.size > this.options.maxBytes) throw tooLarge(this.options.maxBytes);
    const body = await readFile(path, 'utf8');
    return { notModified: false, body, lastModified };
  }

  private networkFailure(error: unknown): AppError {
    const name = (error as { name?: string } | null)?.name;
    if (name === 'TimeoutError' || name === 'AbortError') {
      return vendorUnavailable(VENDOR, `no answer within ${this.options.timeoutMs} ms`);
    }
    // Only an error code goes into the message: fetch and interceptors put the full URL (and so
    // the feed's secret token) into some error messages.
    const cause = (error as { cause?: { code?: unknown } } | null)?.cause;
    const code = typeof cause?.code === 'string' ? cause.code : undefined;
    return vendorUnavailable(VENDOR, code ? `network error (${code})` : 'network error');
  }
}

/** The rep's zone, or UTC when none is known or it is not a zone luxon can compute. */
function readingZone(zone: string | undefined): string {
  return zone && IANAZone.isValidZone(zone) ? zone : 'UTC';
}

type Fetched =
  | { notModified: true }
  | { notModified: false; body: string; etag?: string; lastModified?: string };

function coversWindow(state: CalendarSyncState, window: SyncWindow): boolean {
  if (!state.windowStart || !state.windowEnd) return false;
  const start = Date.parse(state.windowStart);
  const end = Date.parse(state.windowEnd);
  return start <= window.start.getTime() && window.end.getTime() <= end;
}

function tooLarge(maxBytes: number): AppError {
  return new AppError('vendor_error', `The ICS feed is larger than the ${maxBytes}-byte limit`, {
    retryable: false,
  });
}

async function readLimited(response: Response, maxBytes: number): Promise<string> {
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    throw tooLarge(maxBytes);
  }
  if (!response.body) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    // Counted after content decoding, so a small gzip bomb is caught too.
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  return new TextDecoder('utf-8').decode(Buffer.concat(chunks));
}

function notICalendar(detail: string, cause?: unknown): AppError {
  return new AppError('vendor_error', `The ICS feed is not an iCalendar document: ${detail}`, {
    retryable: false,
    cause,
  });
}

export interface FeedReading {
  /**
   * IANA zone for floating times (RFC 5545 §3.3.5 form #1: no `Z`, no TZID), which mean "this wall
   * time wherever the reader is": the reader is the rep, so it is the rep's zone. UTC by default.
   */
  timeZone?: string;
  /** Told once per TZID that neither the feed, the IANA database nor the Windows table defines. */
  onUnknownZone?: (tzid: string) => void;
}

/**
 * Every event instance of an iCalendar document overlapping `window` (RFC 5545): recurrences are
 * expanded with RRULE, RDATE and EXDATE, RECURRENCE-ID overrides replace (or, when cancelled,
 * remove) their instance, and cancelled events are left out. Pure: no I/O, no clock.
 */
export function parseIcsFeed(
  text: string,
  window: SyncWindow,
  repEmail: string,
  reading: FeedReading = {},
): CalendarEventInput[] {
  const trimmed = text.replace(/^\uFEFF/, '').trimStart();
  if (!/^BEGIN:VCALENDAR/i.test(trimmed)) throw notICalendar('it does not start with BEGIN:VCALENDAR');
  let jcal: unknown;
  try {
    jcal = ICAL.parse(trimmed);
  } catch (error) {
    throw notICalendar('it could not be parsed', error);
  }
  const jcals = (Array.isArray(jcal) && typeof jcal[0] === 'string' ? [jcal] : jcal) as unknown[];
  const calendars = jcals
    .map((item) => new ICAL.Component(item as never))
    .filter((component) => component.name === 'vcalendar');
  if (calendars.length === 0) throw notICalendar('it holds no VCALENDAR');

  const range = { start: window.start.getTime(), end: window.end.getTime() };
  const self = repEmail.trim().toLowerCase();
  const local = new IanaTimezone('floating', readingZone(reading.timeZone));
  const unknownZones = new Set<string>();
  const out = new Map<string, CalendarEventInput>();
  const budget = { steps: MAX_STEPS_PER_FEED };
  for (const calendar of calendars) {
    const vevents = calendar.getAllSubcomponents('vevent');
    for (const tzid of registerMissingZones(calendar, vevents)) unknownZones.add(tzid);
    for (const [uid, group] of groupByUid(vevents)) {
      try {
        for (const event of expandSeries(uid, group, range, self, budget, local)) {
          if (!out.has(event.externalId)) out.set(event.externalId, event);
        }
      } catch (error) {
        if (error instanceof AppError) throw error;
        // One malformed series (bad date, impossible RRULE) must not hide the rest of the feed:
        // calendar clients skip what they cannot read, and so do we.
      }
    }
  }
  for (const tzid of unknownZones) reading.onUnknownZone?.(tzid);
  return [...out.values()].sort(
    (a, b) => a.startsAt.getTime() - b.startsAt.getTime() || a.externalId.localeCompare(b.externalId),
  );
}

const MINUTE_MS = 60_000;
const DAY_MS = 86_400_000;

/**
 * An IANA zone computed with luxon, for TZIDs the feed uses without a VTIMEZONE (RFC 5545 requires
 * one, but many generators rely on the reader knowing the zone). Without it ical.js would treat
 * those times as floating and every instance would be off by the zone's offset.
 * ical.js asks for offsets several times per recurrence step and luxon answers each through Intl,
 * so the zone's transitions are found once per year and looked up by binary search.
 */
class IanaTimezone extends ICAL.Timezone {
  private readonly zone: IANAZone;
  /** Per UTC year: [utc ms from which it applies, offset in minutes], ascending. */
  private readonly years = new Map<number, [number, number][]>();

  constructor(tzid: string, iana: string) {
    super({ tzid });
    this.zone = IANAZone.create(iana);
  }

  override utcOffset(tt: Time): number {
    const local = Date.UTC(tt.year, tt.month - 1, tt.day, tt.hour, tt.minute, tt.second);
    const before = this.offsetAt(local - DAY_MS);
    const after = this.offsetAt(local + DAY_MS);
    if (before === after) return before * 60;
    const fits = [before, after].filter((offset) => this.offsetAt(local - offset * MINUTE_MS) === offset);
    // RFC 5545 §3.3.5: a repeated local time (clocks going back) is its first occurrence, the
    // larger offset; a skipped one (clocks going forward) is read with the offset before the gap.
    return (fits.length ? Math.max(...fits) : before) * 60;
  }

  private offsetAt(utc: number): number {
    const year = new Date(utc).getUTCFullYear();
    let table = this.years.get(year);
    if (!table) {
      table = this.transitions(year);
      this.years.set(year, table);
    }
    let low = 0;
    let high = table.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if ((table[middle] as [number, number])[0] <= utc) low = middle;
      else high = middle - 1;
    }
    return (table[low] as [number, number])[1];
  }

  /** Daily probes, then a minute-exact bisection wherever the offset changed. */
  private transitions(year: number): [number, number][] {
    const start = Date.UTC(year, 0, 1);
    const end = Date.UTC(year + 1, 0, 1);
    const table: [number, number][] = [[start, this.zone.offset(start)]];
    for (let previous = start; previous < end; previous += DAY_MS) {
      const probe = Math.min(previous + DAY_MS, end);
      const known = (table.at(-1) as [number, number])[1];
      if (this.zone.offset(probe) === known) continue;
      let low = previous / MINUTE_MS;
      let high = probe / MINUTE_MS;
      while (high - low > 1) {
        const middle = Math.floor((low + high) / 2);
        if (this.zone.offset(middle * MINUTE_MS) === known) low = middle;
        else high = middle;
      }
      if (high * MINUTE_MS < end) table.push([high * MINUTE_MS, this.zone.offset(high * MINUTE_MS)]);
    }
    return table;
  }
}

const ZONED_PROPERTIES = ['dtstart', 'dtend', 'due', 'recurrence-id', 'exdate', 'rdate'];

/**
 * ical.js resolves a TZID from the feed's own VTIMEZONEs first, then from its process-wide
 * TimezoneService. Registering luxon-backed IANA zones there is safe to share between feeds: an
 * IANA or Windows name means the same everywhere, and a feed's own definition still wins.
 * Answers the TZIDs nothing defines: ical.js reads their times as floating, so they end up in
 * the rep's zone (a per-feed choice, which is why they are not registered process-wide).
 */
function registerMissingZones(calendar: Component, vevents: Component[]): string[] {
  const unknown: string[] = [];
  for (const vevent of vevents) {
    for (const name of ZONED_PROPERTIES) {
      for (const property of vevent.getAllProperties(name)) {
        const tzid = property.getParameter('tzid');
        if (typeof tzid !== 'string' || !tzid) continue;
        if (calendar.getTimeZoneByID(tzid) || ICAL.TimezoneService.has(tzid)) continue;
        const iana = ianaZoneFor(tzid);
        if (iana) ICAL.TimezoneService.register(new IanaTimezone(tzid, iana), tzid);
        else if (!unknown.includes(tzid)) unknown.push(tzid);
      }
    }
  }
  return unknown;
}

interface UidGroup {
  masters: Component[];
  overrides: Component[];
}

function groupByUid(vevents: Component[]): Map<string, UidGroup> {
  const groups = new Map<string, UidGroup>();
  for (const vevent of vevents) {
    const uid = text(vevent, 'uid') ?? syntheticUid(vevent);
    let group = groups.get(uid);
    if (!group) {
      group = { masters: [], overrides: [] };
      groups.set(uid, group);
    }
    (vevent.hasProperty('recurrence-id') ? group.overrides : group.masters).push(vevent);
  }
  return groups;
}

/** UID is mandatory, but a feed without one still deserves a stable id across downloads. */
function syntheticUid(vevent: Component): string {
  const seed = ['dtstart', 'summary'].map((name) =>
    String(vevent.getFirstProperty(name)?.toICALString() ?? ''),
  );
  return `generated-${createHash('sha256').update(seed.join('\n')).digest('hex').slice(0, 24)}`;
}

interface Range {
  start: number;
  end: number;
}

function expandSeries(
  uid: string,
  group: UidGroup,
  range: Range,
  self: string,
  budget: { steps: number },
  local: LocalZone,
): CalendarEventInput[] {
  // A duplicated master (some exporters repeat an event) is resolved the way RFC 5546 orders
  // revisions: the highest SEQUENCE, and the later one on a tie.
  const master = group.masters.reduce<Component | undefined>(
    (best, candidate) => (!best || sequence(candidate) >= sequence(best) ? candidate : best),
    undefined,
  );
  const results: CalendarEventInput[] = [];
  const overrides = group.overrides.map((component) => new ICAL.Event(component));

  if (!master) {
    // Overrides without their series: the rep was invited to single occurrences only.
    for (const override of overrides) {
      const event = toInput(override, `${uid}_${instanceKey(override.recurrenceId, local)}`, self, local);
      if (event && overlaps(event, range)) results.push(event);
    }
    return results;
  }
  if (isCancelled(master)) return results;

  const series = new ICAL.Event(master);
  if (!series.isRecurring()) {
    const event = toInput(series, uid, self, local);
    if (event && overlaps(event, range)) results.push(event);
    return results;
  }

  const byInstance = new Map<string, IcalEvent>();
  // Iterate past the window when an override pulls a later instance into it, and start early
  // enough to meet an override that pulls an earlier one in.
  let horizon = range.end;
  let earliestNeeded = range.start;
  for (const override of overrides) {
    const recurrenceId = toMillis(override.recurrenceId, local);
    byInstance.set(instanceKey(override.recurrenceId, local), override);
    if (override.modifiesFuture()) series.relateException(override);
    const [startsAt, endsAt] = span(override.startDate, override.endDate, local);
    if (startsAt < range.end) horizon = Math.max(horizon, recurrenceId + 1);
    if (endsAt > range.start) earliestNeeded = Math.min(earliestNeeded, recurrenceId);
  }

  const duration = series.duration;
  const durationMs = duration.toSeconds() * 1000;
  const hasRangeOverrides = overrides.some((override) => override.modifiesFuture());
  const iterator = series.iterator(
    fastForward(series, Math.min(earliestNeeded, range.start - durationMs), local),
  );
  let steps = 0;
  for (let next = iterator.next(); next; next = iterator.next()) {
    if (++steps > MAX_STEPS_PER_SERIES || toMillis(next, local) >= horizon) break;
    if (--budget.steps < 0) {
      throw new AppError('vendor_error', 'The ICS feed has too many recurring instances to expand', {
        retryable: false,
      });
    }
    const key = instanceKey(next, local);
    let occurrence: { item: IcalEvent; start: Time; end: Time };
    const override = byInstance.get(key);
    if (override) {
      occurrence = { item: override, start: override.startDate, end: override.endDate };
    } else if (hasRangeOverrides) {
      // RANGE=THISANDFUTURE overrides shift every later instance; ical.js knows how.
      const details = series.getOccurrenceDetails(next);
      occurrence = { item: details.item, start: details.startDate, end: details.endDate };
    } else {
      const end = next.clone();
      end.addDuration(duration);
      occurrence = { item: series, start: next, end };
    }
    // Most steps of a long series fall before the window: skip them before mapping anything.
    const [startsAt, endsAt] = span(occurrence.start, occurrence.end, local);
    if (startsAt >= range.end || endsAt <= range.start) continue;
    const event = toInput(occurrence.item, `${uid}_${key}`, self, local, occurrence);
    if (!event) continue;
    results.push(event);
    if (results.length >= MAX_INSTANCES_PER_SERIES) break;
  }
  return results;
}

/**
 * ical.js can only walk a series from its DTSTART, so a daily stand-up created in 2015 costs
 * thousands of steps before the window. For a single DAILY or WEEKLY RRULE without COUNT, a
 * start moved forward by whole INTERVAL periods (same wall time, same weekday, same WKST phase)
 * yields the same later instances. The moved start is always emitted whether or not the rule
 * matches it, so it is placed a day before `notAfter`, where nothing it yields can reach the
 * window. EXDATE and UNTIL are absolute and unaffected; COUNT needs every earlier step, and RDATE
 * lists stay on the slow path because ical.js replays an RDATE earlier than the start it is given.
 */
function fastForward(series: IcalEvent, notAfter: number, local: LocalZone): Time | undefined {
  const rules = series.component.getAllProperties('rrule');
  const rule =
    rules.length === 1 ? (rules[0]?.getFirstValue() as InstanceType<typeof ICAL.Recur>) : undefined;
  if (!rule || rule.count || series.component.hasProperty('rdate')) return undefined;
  if (rule.freq !== 'DAILY' && rule.freq !== 'WEEKLY') return undefined;
  const periodDays = Math.max(1, rule.interval || 1) * (rule.freq === 'WEEKLY' ? 7 : 1);
  const dtstart = series.startDate;
  const spareDays = Math.floor((notAfter - toMillis(dtstart, local)) / DAY_MS) - 2;
  const periods = Math.floor(spareDays / periodDays);
  if (periods < 1) return undefined;
  const start = dtstart.clone();
  start.adjust(periods * periodDays, 0, 0, 0);
  return start;
}

function overlaps(event: CalendarEventInput, range: Range): boolean {
  return event.startsAt.getTime() < range.end && event.endsAt.getTime() > range.start;
}

/** The rep's zone, for floating times (and TZIDs nothing defines, which ical.js reads as floating). */
type LocalZone = InstanceType<typeof ICAL.Timezone>;

/**
 * UTC milliseconds of an ical.js time. A DATE is midnight UTC: all-day events are read by date,
 * not as instants in the rep's zone. A floating time (no Z, no TZID, RFC 5545 §3.3.5) is "the
 * same wall time wherever the reader is", and the reader is the rep: it is read in `local`.
 */
function toMillis(time: Time, local: LocalZone): number {
  if (time.isDate) return Date.UTC(time.year, time.month - 1, time.day);
  if (time.zone === ICAL.Timezone.localTimezone) {
    const wall = Date.UTC(time.year, time.month - 1, time.day, time.hour, time.minute, time.second);
    return wall - local.utcOffset(time) * 1000;
  }
  return time.toUnixTime() * 1000;
}

/** Recurrence-id in the form Google uses for instance ids: 20260309T140000Z, or 20260309 for dates. */
function instanceKey(time: Time, local: LocalZone): string {
  const iso = new Date(toMillis(time, local)).toISOString();
  const date = iso.slice(0, 10).replaceAll('-', '');
  return time.isDate ? date : `${date}T${iso.slice(11, 19).replaceAll(':', '')}Z`;
}

function sequence(component: Component): number {
  const value = Number(component.getFirstPropertyValue('sequence'));
  return Number.isFinite(value) ? value : 0;
}

function isCancelled(component: Component): boolean {
  return text(component, 'status')?.toUpperCase() === 'CANCELLED';
}

function text(component: Component, name: string): string | undefined {
  const value = component.getFirstPropertyValue(name);
  if (value === null || value === undefined) return undefined;
  const string = String(value).trim();
  return string ? string : undefined;
}

/** Start and end in UTC ms; an all-day event lasts at least its day, nothing ends before it starts. */
function span(start: Time, end: Time, local: LocalZone): [number, number] {
  const startsAt = toMillis(start, local);
  const endsAt = toMillis(end, local);
  if (start.isDate && endsAt <= startsAt) return [startsAt, startsAt + DAY_MS];
  return [startsAt, Math.max(startsAt, endsAt)];
}

function toInput(
  event: IcalEvent,
  externalId: string,
  self: string,
  local: LocalZone,
  times: { start: Time; end: Time } = { start: event.startDate, end: event.endDate },
): CalendarEventInput | undefined {
  const component = event.component;
  if (isCancelled(component)) return undefined;
  const allDay = times.start.isDate;
  const [startsAt, endsAt] = span(times.start, times.end, local);

  const description = text(component, 'description');
  const location = text(component, 'location');
  const organizer = person(component.getFirstProperty('organizer'));
  const attendees = attendeesOf(component, organizer?.email, self);
  const me = attendees.find((attendee) => attendee.self);
  if (organizer?.email === self) organizer.self = true;

  const result: CalendarEventInput = {
    externalId,
    title: text(component, 'summary') ?? '(no title)',
    startsAt: new Date(startsAt),
    endsAt: new Date(endsAt),
    allDay,
    status: text(component, 'status')?.toUpperCase() === 'TENTATIVE' ? 'tentative' : 'confirmed',
    attendees,
  };
  if (description) result.description = description;
  if (location) result.location = location;
  const videoUrl = findVideoUrl(text(component, 'url'), location, description);
  if (videoUrl) result.videoUrl = videoUrl;
  if (organizer) result.organizer = organizer;
  if (me?.response) result.selfResponse = me.response;
  return result;
}

type Property = InstanceType<typeof ICAL.Property>;

function person(property: Property | null): EventPerson | undefined {
  if (!property) return undefined;
  const value = String(property.getFirstValue() ?? '').trim();
  let email = value.replace(/^mailto:/i, '');
  if (!email.includes('@')) {
    // RFC 7986 EMAIL parameter: for addresses given as urn:uuid:… and the like.
    const param = property.getParameter('email');
    email = typeof param === 'string' ? param.replace(/^mailto:/i, '') : '';
  }
  email = email.trim().toLowerCase();
  if (!email.includes('@')) return undefined;
  const cn = property.getParameter('cn');
  const name = typeof cn === 'string' ? cn.trim() : '';
  return name ? { email, name } : { email };
}

const PARTSTAT: Record<string, string> = {
  ACCEPTED: 'accepted',
  DECLINED: 'declined',
  TENTATIVE: 'tentative',
  // Delegated: someone else attends in their place.
  DELEGATED: 'declined',
};

function attendeesOf(component: Component, organizerEmail: string | undefined, self: string): EventPerson[] {
  const byEmail = new Map<string, EventPerson>();
  for (const property of component.getAllProperties('attendee')) {
    // Rooms and equipment are booked as attendees; they are not people to brief on.
    const cutype = property.getParameter('cutype');
    if (typeof cutype === 'string' && /^(ROOM|RESOURCE)$/i.test(cutype)) continue;
    const found = person(property);
    if (!found) continue;
    const partstat = property.getParameter('partstat');
    const response = (typeof partstat === 'string' && PARTSTAT[partstat.toUpperCase()]) || 'needsAction';
    const existing = byEmail.get(found.email);
    if (existing) {
      if (!existing.name && found.name) existing.name = found.name;
      continue;
    }
    const attendee: EventPerson = { ...found, response };
    if (organizerEmail && found.email === organizerEmail) attendee.organizer = true;
    if (found.email === self) attendee.self = true;
    byEmail.set(found.email, attendee);
  }
  return [...byEmail.values()];
}
