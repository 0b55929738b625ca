import { Heading } from '@react-email/heading';
import { Link } from '@react-email/link';
import { render, toPlainText } from '@react-email/render';
import { Section } from '@react-email/section';
import { Text } from '@react-email/text';
import type { CSSProperties } from 'react';
import type {
  BriefingAllDayEvent,
  BriefingAppointment,
  BriefingAttendee,
  BriefingMeeting,
  BriefingModel,
} from '../src/briefings/briefing.model.ts';
import {
  allDayDates,
  attendeeFirmographics,
  attendeeName,
  attendeeRole,
  briefingSubject,
  briefingZone,
  dayHeading,
  dayZoneLabel,
  orderedAttendees,
  organizerLabel,
  responseLabel,
  safeHttpUrl,
  summaryLine,
  timeRange,
  timesLine,
} from './_components/briefing-format.ts';
import { Layout } from './_components/layout.tsx';

const muted: CSSProperties = { color: '#6b7280' };
const small: CSSProperties = { fontSize: '13px', lineHeight: '19px', margin: '0' };
const link: CSSProperties = { color: '#1f6feb', textDecoration: 'underline' };
const badge = (background: string, color: string): CSSProperties => ({
  backgroundColor: background,
  color,
  borderRadius: '4px',
  padding: '1px 6px',
  fontSize: '12px',
  fontWeight: 'bold',
});
const externalBadge = badge('#fff4e5', '#9a3412');
const internalBadge = badge('#eef2f7', '#374151');
const firstMeetingBadge = badge('#e6f4ea', '#166534');

/** "America/New_York, EDT (UTC-4)"; just "UTC" for UTC. */
function zoneFooter(model: BriefingModel): string {
  const zone = briefingZone(model);
  return zone === 'UTC' ? zone : `${zone}, ${dayZoneLabel(model)}`;
}

/** The morning briefing: the rep's day, meeting by meeting, with who is in the room. */
export default function Briefing(model: BriefingModel) {
  const summary = summaryLine(model);
  const heading = dayHeading(model);
  const empty = model.meetings.length === 0 && !model.appointments?.length;
  return (
    <Layout
      preview={`${heading}: ${summary}`}
      footer={`Sent by Briefly to ${model.rep.email}. Times are in ${zoneFooter(model)}.`}
    >
      <Heading as="h1" style={{ fontSize: '22px', margin: '0 0 4px' }}>
        {heading}
      </Heading>
      <Text style={{ ...muted, fontSize: '15px', margin: '0 0 2px' }}>{summary}</Text>
      <Text style={{ ...small, ...muted, margin: '0 0 16px' }}>{timesLine(model)}</Text>
      {model.enrichmentNote ? (
        <Text
          style={{
            ...small,
            backgroundColor: '#fffbeb',
            border: '1px solid #fde68a',
            borderRadius: '6px',
            padding: '8px 12px',
            marginBottom: '16px',
          }}
        >
          {model.enrichmentNote}
        </Text>
      ) : null}
      {empty ? (
        <Text style={{ fontSize: '15px', lineHeight: '22px' }}>
          No meetings today. Enjoy the time for deep work.
        </Text>
      ) : null}
      {model.allDay.length > 0 ? <AllDay model={model} events={model.allDay} /> : null}
      {model.appointments?.length ? <Appointments model={model} appointments={model.appointments} /> : null}
      {model.meetings.map((meeting, index) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: the list is static and already in time order
        <Meeting key={index} model={model} meeting={meeting} />
      ))}
    </Layout>
  );
}

/** Appointments booked with Briefly (a demo, an onboarding call), with the rep's notes. */
function Appointments({
  model,
  appointments,
}: {
  model: BriefingModel;
  appointments: BriefingAppointment[];
}) {
  return (
    <Section style={{ margin: '0 0 8px' }}>
      <Heading as="h2" style={{ fontSize: '16px', margin: '16px 0 4px' }}>
        Appointments
      </Heading>
      {appointments.map((a, index) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: the list is static and in time order
        <Section key={index} style={{ margin: '0 0 8px' }}>
          <Text style={{ fontSize: '14px', lineHeight: '20px', margin: '0', fontWeight: 'bold' }}>
            {timeRange(model, a)} · {a.serviceName} with {a.attendee.name}
          </Text>
          <Text style={{ ...small, ...muted }}>
            {a.attendee.email}
            {a.location ? ` · ${a.location}` : ''}
          </Text>
          {a.notes.map((note, n) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: notes are static, oldest first
            <Text key={n} style={small}>
              {note.title}: {note.body}
            </Text>
          ))}
        </Section>
      ))}
    </Section>
  );
}

function AllDay({ model, events }: { model: BriefingModel; events: BriefingAllDayEvent[] }) {
  return (
    <Section style={{ margin: '0 0 8px' }}>
      <Heading as="h2" style={{ fontSize: '16px', margin: '16px 0 4px' }}>
        All day
      </Heading>
      {events.map((event, index) => {
        const dates = allDayDates(model, event);
        return (
          // biome-ignore lint/suspicious/noArrayIndexKey: the list is static
          <Text key={index} style={{ fontSize: '14px', lineHeight: '20px', margin: '0 0 4px' }}>
            {event.title || '(no title)'}
            {dates ? <span style={muted}> · {dates}</span> : null}
          </Text>
        );
      })}
    </Section>
  );
}

function Meeting({ model, meeting }: { model: BriefingModel; meeting: BriefingMeeting }) {
  const video = safeHttpUrl(meeting.videoUrl);
  const organizer = organizerLabel(model, meeting);
  const response = responseLabel(meeting);
  const attendees = orderedAttendees(model, meeting);
  return (
    <Section style={{ borderTop: '1px solid #e5e7eb', margin: '16px 0 0', padding: '12px 0 0' }}>
      <Text style={{ ...small, fontWeight: 'bold', color: '#1f2937' }}>
        {timeRange(model, meeting)}
        {response ? <span style={{ ...muted, fontWeight: 'normal' }}> · {response}</span> : null}
      </Text>
      <Heading as="h2" style={{ fontSize: '18px', margin: '2px 0 6px' }}>
        {meeting.title || '(no title)'}
      </Heading>
      {meeting.location || video ? (
        <Text style={small}>
          {meeting.location ? <span>{meeting.location}</span> : null}
          {meeting.location && video ? ' · ' : null}
          {video ? (
            <Link href={video} style={{ ...link, fontWeight: 'bold' }}>
              Join
            </Link>
          ) : null}
        </Text>
      ) : null}
      {organizer ? <Text style={{ ...small, ...muted }}>Organizer: {organizer}</Text> : null}
      {attendees.length === 0 ? (
        <Text style={{ ...small, ...muted, marginTop: '8px' }}>No other attendees.</Text>
      ) : (
        attendees.map((attendee, index) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: the list is static
          <Attendee key={index} attendee={attendee} />
        ))
      )}
    </Section>
  );
}

function Attendee({ attendee }: { attendee: BriefingAttendee }) {
  const role = attendeeRole(attendee);
  const firmographics = attendeeFirmographics(attendee);
  const linkedin = safeHttpUrl(attendee.linkedinUrl);
  const where = attendee.location?.trim();
  return (
    <Text style={{ ...small, margin: '10px 0 0', paddingLeft: '12px', borderLeft: '3px solid #e5e7eb' }}>
      <strong>{attendeeName(attendee)}</strong>
      {' · '}
      <span style={attendee.external ? externalBadge : internalBadge}>
        {attendee.external ? 'External' : 'Internal'}
      </span>
      {attendee.firstMeeting ? (
        <>
          {' · '}
          <span style={firstMeetingBadge}>First meeting</span>
        </>
      ) : null}
      {role ? (
        <>
          <br />
          {role}
        </>
      ) : null}
      {firmographics ? (
        <>
          <br />
          <span style={muted}>{firmographics}</span>
        </>
      ) : null}
      {where || linkedin ? (
        <>
          <br />
          {where ? <span style={muted}>{where}</span> : null}
          {where && linkedin ? ' · ' : null}
          {linkedin ? (
            <Link href={linkedin} style={link}>
              LinkedIn
            </Link>
          ) : null}
        </>
      ) : null}
    </Text>
  );
}

Briefing.PreviewProps = {
  rep: { name: 'Ana Ruiz', email: 'ana@briefly-demo.com' },
  timeZone: 'Europe/London',
  localDate: '2026-11-24',
  windowStart: '2026-11-24T00:00:00.000Z',
  windowEnd: '2026-11-25T00:00:00.000Z',
  allDay: [{ title: 'Q4 pipeline review week', startDate: '2026-11-23', endDate: '2026-11-27' }],
  meetings: [
    {
      title: 'Discovery call: Northwind Traders',
      startsAt: '2026-11-24T09:30:00.000Z',
      endsAt: '2026-11-24T10:15:00.000Z',
      videoUrl: 'https://meet.google.com/abc-defg-hij',
      organizer: { name: 'Ana Ruiz', email: 'ana@briefly-demo.com' },
      response: 'accepted',
      attendees: [
        { email: 'ana@briefly-demo.com', name: 'Ana Ruiz', external: false, firstMeeting: false },
        {
          email: 'priya.shah@northwind.example',
          name: 'Priya Shah',
          external: true,
          firstMeeting: true,
          title: 'Head of Procurement',
          company: 'Northwind Traders',
          companySize: '201-500',
          industry: 'Wholesale',
          location: 'Manchester, UK',
          linkedinUrl: 'https://www.linkedin.com/in/priya-shah-example',
        },
        {
          email: 'tom.baker@northwind.example',
          external: true,
          firstMeeting: false,
          title: 'IT Manager',
          company: 'Northwind Traders',
        },
        {
          email: 'lee@briefly-demo.com',
          name: 'Lee Chen',
          external: false,
          firstMeeting: false,
          title: 'Solutions Engineer',
        },
      ],
    },
    {
      title: 'Pipeline sync',
      startsAt: '2026-11-24T13:00:00.000Z',
      endsAt: '2026-11-24T13:30:00.000Z',
      location: 'London office, room Thames',
      organizer: { name: 'Mia Olsen', email: 'mia@briefly-demo.com' },
      response: 'tentative',
      attendees: [{ email: 'mia@briefly-demo.com', name: 'Mia Olsen', external: false, firstMeeting: false }],
    },
    {
      title: 'Contract walkthrough with Contoso',
      startsAt: '2026-11-24T16:00:00.000Z',
      endsAt: '2026-11-24T17:00:00.000Z',
      location: 'Contoso HQ, 1 Canada Square, London',
      organizer: { email: 'j.doe@contoso.example' },
      attendees: [
        {
          email: 'j.doe@contoso.example',
          name: 'Jordan Doe',
          external: true,
          firstMeeting: false,
          title: 'VP Operations',
          company: 'Contoso',
          companySize: '1001-5000',
          industry: 'Logistics',
          location: 'London, UK',
          linkedinUrl: 'https://www.linkedin.com/in/jordan-doe-example',
        },
      ],
    },
  ],
} satisfies BriefingModel;

// Headings stay as written in the text part; html-to-text would otherwise shout them in capitals.
const TEXT_OPTIONS = {
  selectors: [
    { selector: 'h1', options: { uppercase: false } },
    { selector: 'h2', options: { uppercase: false, leadingLineBreaks: 1, trailingLineBreaks: 1 } },
  ],
};

/** Subject, HTML and plain text of one briefing, HTML and text from the same component. */
export async function renderBriefingEmail(
  model: BriefingModel,
): Promise<{ subject: string; html: string; text: string }> {
  // One React render; the text is converted from that HTML (what render's plainText option does
  // internally), which halves the cost of the 2,000 renders of a busy morning.
  const html = await render(<Briefing {...model} />);
  return { subject: briefingSubject(model), html, text: toPlainText(html, TEXT_OPTIONS) };
}
