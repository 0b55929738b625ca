import { fileURLToPath } from 'node:url';

/**
 * The bundled sample calendar behind `briefly demo`: a rep at briefly.example with four timed
 * meetings every day (09:30, 11:00, 14:00, 15:30 Europe/London) with people from fictitious
 * `.example` companies, plus a weekly all-day reminder on Fridays. Each slot alternates two
 * FREQ=DAILY series split by BYDAY (Tue/Thu/Sat and Mon/Wed/Fri/Sun) so a demo week shows
 * different accounts; each series starts on its first matching day (2026-01-01 or 2026-01-02)
 * because RFC 5545 always counts DTSTART as an instance, matching the rule or not.
 */
export const DEMO_CALENDAR_PATH = fileURLToPath(new URL('./demo-calendar.ics', import.meta.url));

/**
 * The feed URL stored on the demo rep's ICS connection. It names the bundled file rather than
 * pointing at it, so it reads the same from a checkout, from dist/ and from another container, and
 * works in production, where `file:` feed URLs stay refused: this one URL reads only this one file.
 */
export const DEMO_CALENDAR_URL = 'briefly-demo:sample-calendar.ics';

export const DEMO_REP_EMAIL = 'demo.rep@briefly.example';
