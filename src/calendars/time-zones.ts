import { IANAZone } from 'luxon';
import { findIana } from 'windows-iana';

/**
 * The IANA zone a calendar means by a zone name, or undefined when it names none we know.
 * Accepts IANA names ("Europe/London"), the prefixed forms some ICS generators write
 * ("/mozilla.org/20050126_1/Europe/London"), and Windows zone names ("Pacific Standard Time"),
 * which Outlook and Exchange put in TZID and Graph's dateTimeTimeZone. Windows names are mapped
 * with the `windows-iana` package (CLDR's windowsZones.xml, territory 001, first IANA name luxon
 * knows), so the table is maintained upstream rather than here.
 */
export function ianaZoneFor(name: string | null | undefined): string | undefined {
  const trimmed = name?.trim();
  if (!trimmed) return undefined;
  // "Coordinated Universal Time" is how some Outlook builds spell the Windows id "UTC".
  if (/^(UTC|GMT|Z|Coordinated Universal Time)$/i.test(trimmed)) return 'UTC';
  if (trimmed.includes('/') && IANAZone.isValidZone(trimmed)) return trimmed;
  const parts = trimmed.split('/').filter(Boolean);
  for (let take = Math.min(3, parts.length); take >= 2; take--) {
    const candidate = parts.slice(-take).join('/');
    if (IANAZone.isValidZone(candidate)) return candidate;
  }
  return findIana(trimmed).find((zone) => IANAZone.isValidZone(zone));
}
