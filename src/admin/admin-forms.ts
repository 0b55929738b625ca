import { DateTime } from 'luxon';
import type { z } from 'zod';
import type { FieldProblem } from '../errors.ts';
import {
  type CreateMailoutInput,
  createMailoutSchema,
  type MailoutView,
  type UpdateMailoutInput,
  updateMailoutSchema,
} from '../mailouts/mailout.schemas.ts';
import type { MailoutFormValues } from './views/mailout-form.page.tsx';

export type FormBody = Record<string, string>;

/** application/x-www-form-urlencoded into name -> value (a repeated name keeps its last value). */
export function parseFormBody(raw: string): FormBody {
  const out: FormBody = {};
  for (const [name, value] of new URLSearchParams(raw)) out[name] = value;
  return out;
}

const LOCAL_INPUT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/;

/**
 * A datetime-local value ("2026-03-08T02:30") read in `zone`. A wall time the zone skips (clocks
 * going forward) is refused with the reason rather than silently moved; a repeated one (clocks going
 * back) is the first of the two, as luxon resolves it.
 */
export function localToInstant(value: string, zone: string): { instant: Date } | { error: string } {
  if (!LOCAL_INPUT.test(value)) return { error: 'must be a date and time such as 2026-12-07T09:00' };
  const local = DateTime.fromISO(value, { zone });
  if (!local.isValid) return { error: 'must be a date and time such as 2026-12-07T09:00' };
  if (local.toFormat("yyyy-MM-dd'T'HH:mm") !== value.slice(0, 16)) {
    return {
      error: `${value.replace('T', ' ')} does not exist in ${zone} (the clocks skip it); pick another time`,
    };
  }
  return { instant: local.toJSDate() };
}

/** An instant as a datetime-local value in `zone`. */
export function instantToLocal(iso: string, zone: string): string {
  return DateTime.fromISO(iso, { zone }).toFormat("yyyy-MM-dd'T'HH:mm");
}

const list = (value: string | undefined) =>
  (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);

/** The form's fields as typed, to show them again next to their errors. */
export function formValues(body: FormBody, create: boolean): MailoutFormValues {
  return {
    name: body.name ?? '',
    text: body.text ?? '',
    starts_at: body.starts_at ?? '',
    ends_at: body.ends_at ?? '',
    operator_codes: body.operator_codes ?? '',
    tags: body.tags ?? '',
    window_from: body.window_from ?? '',
    window_to: body.window_to ?? '',
    submit: create ? body.submit === '1' : false,
    version: body.version,
  };
}

export function viewValues(m: MailoutView, zone: string): MailoutFormValues {
  return {
    name: m.name,
    text: m.text,
    starts_at: instantToLocal(m.starts_at, zone),
    ends_at: instantToLocal(m.ends_at, zone),
    operator_codes: m.filter.operator_codes.join(', '),
    tags: m.filter.tags.join(', '),
    window_from: m.window?.from ?? '',
    window_to: m.window?.to ?? '',
    submit: false,
    version: String(m.version),
  };
}

/** zod issues named by form field (filter.operator_codes.2 -> operator_codes, window -> window_from). */
function fieldProblems(error: z.ZodError): FieldProblem[] {
  return error.issues.map((issue) => {
    const [first, second] = issue.path.map(String);
    const field =
      first === 'filter'
        ? (second ?? 'operator_codes')
        : first === 'window'
          ? 'window_from'
          : (first ?? 'name');
    const item = issue.path.length > 2 ? `"${String(issue.path[2])}"`.replace(/^"(\d+)"$/, 'item $1') : '';
    return { field, message: item ? `${item}: ${issue.message}` : issue.message };
  });
}

interface Common {
  problems: FieldProblem[];
  /** The field's instant (ISO); undefined when absent (a problem if `required`) or wrong (a problem). */
  instant(field: 'starts_at' | 'ends_at', required?: boolean): string | undefined;
  window(): { from: string; to: string } | null | undefined;
}

function common(body: FormBody, zone: string): Common {
  const problems: FieldProblem[] = [];
  return {
    problems,
    instant(field, required = false) {
      const value = body[field];
      if (value === undefined && !required) return undefined;
      if (!value) {
        problems.push({ field, message: 'is required' });
        return undefined;
      }
      const parsed = localToInstant(value, zone);
      if ('error' in parsed) {
        problems.push({ field, message: parsed.error });
        return undefined;
      }
      return parsed.instant.toISOString();
    },
    window() {
      if (body.window_from === undefined && body.window_to === undefined) return undefined;
      const from = body.window_from ?? '';
      const to = body.window_to ?? '';
      if (!from && !to) return null;
      if (!from || !to) {
        problems.push({
          field: from ? 'window_to' : 'window_from',
          message: 'give both ends of the sending hours, or neither',
        });
        return undefined;
      }
      return { from, to };
    },
  };
}

export function createInput(
  body: FormBody,
  zone: string,
  actor: string,
): { input: CreateMailoutInput } | { errors: FieldProblem[] } {
  const c = common(body, zone);
  const starts = c.instant('starts_at', true);
  const ends = c.instant('ends_at', true);
  const window = c.window();
  const parsed = createMailoutSchema.safeParse({
    name: body.name ?? '',
    text: body.text ?? '',
    ...(starts ? { starts_at: starts } : {}),
    ...(ends ? { ends_at: ends } : {}),
    filter: { operator_codes: list(body.operator_codes), tags: list(body.tags) },
    window: window ?? null,
    created_by: actor,
    submit: body.submit === '1',
  });
  // Times already reported by the local-time check are not reported twice as "required".
  const named = new Set(c.problems.map((p) => p.field));
  const errors = [
    ...c.problems,
    ...(parsed.success ? [] : fieldProblems(parsed.error).filter((p) => !named.has(p.field))),
  ];
  if (errors.length > 0 || !parsed.success) return { errors };
  return { input: parsed.data };
}

/** Only what differs from the mailout as it is (a live mailout refuses changes to its text etc.). */
export function updateInput(
  body: FormBody,
  current: MailoutView,
  zone: string,
  actor: string,
): { input: UpdateMailoutInput } | { errors: FieldProblem[] } {
  const c = common(body, zone);
  const candidate: Record<string, unknown> = {};
  if (body.name !== undefined && body.name.trim() !== current.name) candidate.name = body.name;
  if (body.text !== undefined && body.text !== current.text) candidate.text = body.text;
  const starts = c.instant('starts_at');
  if (starts && starts !== new Date(current.starts_at).toISOString()) candidate.starts_at = starts;
  const ends = c.instant('ends_at');
  if (ends && ends !== new Date(current.ends_at).toISOString()) candidate.ends_at = ends;
  if (body.operator_codes !== undefined || body.tags !== undefined) {
    const filter = {
      operator_codes:
        body.operator_codes === undefined ? current.filter.operator_codes : list(body.operator_codes),
      tags: body.tags === undefined ? current.filter.tags : list(body.tags),
    };
    if (JSON.stringify(filter) !== JSON.stringify(current.filter)) candidate.filter = filter;
  }
  const window = c.window();
  if (window !== undefined && JSON.stringify(window) !== JSON.stringify(current.window))
    candidate.window = window;
  if (c.problems.length > 0) return { errors: c.problems };
  const version = Number(body.version);
  const parsed = updateMailoutSchema.safeParse({
    ...candidate,
    ...(Number.isInteger(version) && version > 0 ? { version } : {}),
    actor,
  });
  if (!parsed.success) return { errors: fieldProblems(parsed.error) };
  return { input: parsed.data };
}
