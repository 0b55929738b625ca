import { AppError } from '../errors.ts';

/**
 * What an API key may do. Each route declares the one scope it needs (`scope` in its route
 * definition); a feature that adds routes adds its scope word here.
 * - `send`: accept messages, cancel its own, add suppressions, send briefings now
 * - `read`: read reps, suppressions, and the messages this key sent
 * - `read:all`: also every other key's messages and Briefly's own mail (briefings)
 * - `customers`: customers (CRUD and import)
 * - `mailouts`: mailouts (create, edit, approve/reject as a named manager, pause/resume/cancel, stats)
 * - `appointments`: services, appointments and their notes (`/v1/services`, `/v1/appointments`)
 * - `sequences`: mailboxes, contacts, sequences, enrollments and forecasts
 * - `admin`: everything, including reps, redrive, lifting suppressions and /readyz details
 */
export const API_SCOPES = [
  'send',
  'read',
  'read:all',
  'customers',
  'mailouts',
  'appointments',
  'sequences',
  'admin',
] as const;
export type ApiScope = (typeof API_SCOPES)[number];

/** `briefly api-key create` without --scopes: an application server that sends and reads its mail. */
export const DEFAULT_SCOPES: readonly ApiScope[] = ['send', 'read'];

/** Scopes that include another: admin includes every scope, read:all includes read. */
const INCLUDED: Partial<Record<ApiScope, readonly ApiScope[]>> = {
  admin: API_SCOPES,
  'read:all': ['read'],
};

export function hasScope(granted: readonly string[], needed: ApiScope): boolean {
  return granted.some((scope) => scope === needed || INCLUDED[scope as ApiScope]?.includes(needed));
}

/** "send,read" -> ['send', 'read']; an unknown word is a validation error naming the known ones. */
export function parseScopes(value: string): ApiScope[] {
  const words = [
    ...new Set(
      value
        .split(',')
        .map((word) => word.trim())
        .filter(Boolean),
    ),
  ];
  const unknown = words.filter((word) => !(API_SCOPES as readonly string[]).includes(word));
  if (words.length === 0 || unknown.length > 0) {
    throw AppError.validation([
      {
        field: 'scopes',
        message: `${unknown.length ? `unknown scope ${unknown.map((u) => `"${u}"`).join(', ')}; ` : ''}give a comma-separated list of ${API_SCOPES.join(', ')}`,
      },
    ]);
  }
  return words as ApiScope[];
}
