import { z } from 'zod';
import type { FieldProblem } from '../errors.ts';

/**
 * Text PostgreSQL cannot store: NUL is refused in `text` and in `jsonb` strings, and an unpaired
 * UTF-16 surrogate is not Unicode at all (`jsonb` refuses its `\ud800` escape; `text` would get a
 * silent U+FFFD). Such input is rejected at the door with the field named, never sent to the database.
 */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export function badTextReason(value: string): string | undefined {
  if (value.includes('\u0000')) return 'must not contain NUL (\\u0000) characters';
  if (LONE_SURROGATE.test(value)) return 'must be valid Unicode (it has an unpaired UTF-16 surrogate)';
  return undefined;
}

/**
 * Walks a decoded JSON value (body, query, params, a webhook batch) and names the first string or
 * object key PostgreSQL could not store, as a dotted path ("to.0.name", "metadata.<key>").
 */
const MAX_DEPTH = 32;

export function findBadText(value: unknown, path: string[] = [], depth = 0): FieldProblem | undefined {
  const field = () => path.join('.') || '(body)';
  if (typeof value === 'string') {
    const reason = badTextReason(value);
    return reason ? { field: field(), message: reason } : undefined;
  }
  if (value === null || typeof value !== 'object') return undefined;
  // Nothing Briefly accepts nests this deep; refusing it also bounds this walk.
  if (depth >= MAX_DEPTH)
    return { field: field(), message: `must not be nested more than ${MAX_DEPTH} levels deep` };
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findBadText(value[i], [...path, String(i)], depth + 1);
      if (found) return found;
    }
    return undefined;
  }
  for (const [key, child] of Object.entries(value)) {
    const keyReason = badTextReason(key);
    if (keyReason) return { field: field(), message: `has a key that ${keyReason}` };
    const found = findBadText(child, [...path, key], depth + 1);
    if (found) return found;
  }
  return undefined;
}

const CR_LF = /[\r\n]/;

/**
 * A value that ends up in an email header (subject, display names): CR or LF would let a caller
 * add headers of their own, so they are refused rather than folded or stripped.
 */
export function headerText(options: { max: number; min?: number }) {
  let trimmed = z.string().max(options.max, `must be at most ${options.max} characters`);
  if (options.min) trimmed = trimmed.min(options.min, 'must not be empty');
  return z
    .string({ error: typeMessage('a string') })
    .refine((value) => !CR_LF.test(value), 'must not contain line breaks (CR or LF)')
    .transform((value) => value.trim())
    .pipe(trimmed);
}

/** "is required" only when the field is missing; a value of the wrong type says what it must be. */
export function typeMessage(what: string) {
  return (issue: { input?: unknown }) => (issue.input === undefined ? 'is required' : `must be ${what}`);
}

/** An email address as typed (trimmed, at most 254 characters), with a message that shows the form. */
export const emailAddress = z
  .string({ error: typeMessage('a string') })
  .trim()
  .max(254, 'must be at most 254 characters')
  .pipe(z.email({ message: 'must be a valid email address such as ana@example.com' }));

/** An email address stored and compared in lower case (reps, contacts, attendees, recipients). */
export const lowercaseEmail = emailAddress.transform((value) => value.toLowerCase());
