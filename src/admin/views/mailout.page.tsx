import { DateTime } from 'luxon';
import type { MailoutView } from '../../mailouts/mailout.schemas.ts';
import { canTransition, EDITABLE, LIVE } from '../../mailouts/mailout-state.ts';
import { ActionButton, CsrfField, formatInstant, Layout, type PageUser, StatusBadge } from './layout.tsx';

export interface MailoutStats {
  total: number;
  counts: Record<string, number>;
  by_operator_code: Record<string, Record<string, number>>;
  by_time_zone: Record<string, Record<string, number>>;
  by_hour_sent: { hour: string; sent: number }[];
  errors: { reason: string; count: number }[];
  first_sent_at: string | null;
  last_sent_at: string | null;
  throughput_per_second: number | null;
}

export interface MailoutMessageRow {
  id: number;
  customer_id: number;
  phone: string | null;
  time_zone: string;
  operator_code: string;
  status: string;
  attempts: number;
  last_error: string | null;
  sent_at: string | null;
}

export interface MailoutPageProps {
  user: PageUser;
  mailout: MailoutView;
  stats: MailoutStats;
  messages: MailoutMessageRow[];
  messageStatuses: readonly string[];
  messageStatus?: string;
  nextCursor: string | null;
  notice?: string;
  error?: string;
}

export function MailoutPage(props: MailoutPageProps) {
  const { user, mailout: m, stats } = props;
  const base = `/admin/mailouts/${m.id}`;
  return (
    <Layout title={m.name} user={user} active="mailouts" notice={props.notice} error={props.error}>
      <p className="crumbs">
        <a href="/admin/mailouts">All mailouts</a>
      </p>
      <section aria-labelledby="summary-h" className="card">
        <h2 id="summary-h">
          Summary <StatusBadge status={m.status} />
        </h2>
        <dl className="facts">
          <dt>Text</dt>
          <dd className="text">{m.text}</dd>
          <dt>Starts</dt>
          <dd>{formatInstant(m.starts_at, user.timeZone)}</dd>
          <dt>Ends</dt>
          <dd>{formatInstant(m.ends_at, user.timeZone)}</dd>
          <dt>Sending hours</dt>
          <dd>
            {m.window
              ? `${m.window.from}–${m.window.to} in each customer's own time zone`
              : 'any time of day'}
          </dd>
          <dt>Audience</dt>
          <dd>
            {m.filter.operator_codes.length
              ? `operators ${m.filter.operator_codes.join(', ')}`
              : 'any operator'}
            {'; '}
            {m.filter.tags.length ? `tags ${m.filter.tags.join(', ')}` : 'any tag'}
          </dd>
          <dt>Created by</dt>
          <dd>{m.created_by}</dd>
          <dt>Version</dt>
          <dd>
            {m.version}
            {m.approved_by ? ` (v${m.approved_version ?? '?'} approved by ${m.approved_by})` : ''}
          </dd>
          {m.rejected_by ? (
            <>
              <dt>Rejected by</dt>
              <dd>
                {m.rejected_by}
                {m.rejection_reason ? `: ${m.rejection_reason}` : ''}
              </dd>
            </>
          ) : null}
        </dl>
        <Actions {...props} base={base} />
      </section>

      <section aria-labelledby="stats-h">
        <h2 id="stats-h">Statistics</h2>
        <p>
          {stats.total} messages
          {stats.first_sent_at
            ? `; sent from ${formatInstant(stats.first_sent_at, user.timeZone)} to ${formatInstant(stats.last_sent_at, user.timeZone)}`
            : '; nothing sent yet'}
          {stats.throughput_per_second !== null ? ` (${stats.throughput_per_second} per second)` : ''}.
        </p>
        <div className="grid">
          <CountsTable caption="By status" counts={stats.counts} />
          <GroupTable caption="By time zone" keyName="Time zone" groups={stats.by_time_zone} />
          <GroupTable caption="By operator" keyName="Operator" groups={stats.by_operator_code} />
          <table>
            <caption>Sent by hour ({user.timeZone})</caption>
            <thead>
              <tr>
                <th scope="col">Hour</th>
                <th scope="col" className="num">
                  Sent
                </th>
              </tr>
            </thead>
            <tbody>
              {stats.by_hour_sent.length === 0 ? (
                <tr>
                  <td colSpan={2}>Nothing sent yet.</td>
                </tr>
              ) : (
                stats.by_hour_sent.map((h) => (
                  <tr key={h.hour}>
                    <th scope="row">
                      {DateTime.fromISO(h.hour, { zone: user.timeZone }).toFormat('yyyy-MM-dd HH:mm')}
                    </th>
                    <td className="num">{h.sent}</td>
                  </tr>
                ))
              )}
            </tbody>
          </table>
        </div>
        {stats.errors.length ? (
          <table>
            <caption>Errors</caption>
            <thead>
              <tr>
                <th scope="col">Reason</th>
                <th scope="col" className="num">
                  Messages
                </th>
              </tr>
            </thead>
            <tbody>
              {stats.errors.map((e) => (
                <tr key={e.reason}>
                  <td>{e.reason}</td>
                  <td className="num">{e.count}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </section>

      <section aria-labelledby="messages-h">
        <h2 id="messages-h">Messages</h2>
        <form method="get" action={base} className="filters">
          <label htmlFor="message-status">Status</label>
          <select
            id="message-status"
            name="status"
            defaultValue={props.messageStatus ?? ''}
            data-autosubmit=""
          >
            <option value="">any</option>
            {props.messageStatuses.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
          <button type="submit">Filter</button>
        </form>
        <table>
          <caption>
            Messages of this mailout{props.messageStatus ? ` with status ${props.messageStatus}` : ''}, by id
          </caption>
          <thead>
            <tr>
              <th scope="col">Id</th>
              <th scope="col">Customer</th>
              <th scope="col">Phone</th>
              <th scope="col">Time zone</th>
              <th scope="col">Operator</th>
              <th scope="col">Status</th>
              <th scope="col" className="num">
                Attempts
              </th>
              <th scope="col">Sent</th>
              <th scope="col">Last error</th>
            </tr>
          </thead>
          <tbody>
            {props.messages.length === 0 ? (
              <tr>
                <td colSpan={9}>No messages.</td>
              </tr>
            ) : (
              props.messages.map((msg) => (
                <tr key={msg.id}>
                  <th scope="row">{msg.id}</th>
                  <td>{msg.customer_id}</td>
                  <td>{msg.phone ?? '—'}</td>
                  <td>{msg.time_zone}</td>
                  <td>{msg.operator_code}</td>
                  <td>
                    <StatusBadge status={msg.status} />
                  </td>
                  <td className="num">{msg.attempts}</td>
                  <td>{formatInstant(msg.sent_at, user.timeZone)}</td>
                  <td>{msg.last_error ?? ''}</td>
                </tr>
              ))
            )}
          </tbody>
        </table>
        {props.nextCursor || props.messageStatus ? (
          <nav aria-label="Message pages" className="pager">
            <a href={props.messageStatus ? `${base}?status=${props.messageStatus}` : base}>First page</a>
            {props.nextCursor ? (
              <a
                rel="next"
                href={`${base}?${new URLSearchParams({ ...(props.messageStatus ? { status: props.messageStatus } : {}), cursor: props.nextCursor })}`}
              >
                Next page
              </a>
            ) : null}
          </nav>
        ) : null}
      </section>
    </Layout>
  );
}

function Actions(props: MailoutPageProps & { base: string }) {
  const { mailout: m, user, base } = props;
  const csrf = user.csrfToken;
  const editable = EDITABLE.includes(m.status) || LIVE.includes(m.status);
  return (
    <div className="actions">
      <h3 className="sr-only">Actions</h3>
      {editable ? (
        <a className="button" href={`${base}/edit`}>
          Edit
        </a>
      ) : null}
      {m.status === 'draft' || m.status === 'rejected' ? (
        <ActionButton action={`${base}/submit`} label="Submit for approval" csrfToken={csrf} kind="primary" />
      ) : null}
      {canTransition(m.status, 'paused') ? (
        <ActionButton action={`${base}/pause`} label="Pause" csrfToken={csrf} />
      ) : null}
      {m.status === 'paused' ? (
        <ActionButton action={`${base}/resume`} label="Resume" csrfToken={csrf} kind="primary" />
      ) : null}
      {canTransition(m.status, 'cancelled') ? (
        <ActionButton
          action={`${base}/cancel`}
          label="Cancel mailout"
          csrfToken={csrf}
          kind="danger"
          confirm="Cancel this mailout? Messages not sent yet will not be sent."
        />
      ) : null}
      {m.status === 'pending_approval' ? (
        <div className="approval">
          <p className="muted">
            Waiting for approval of version {m.version}. A manager other than the author approves.
          </p>
          <ActionButton
            action={`${base}/approve`}
            label={`Approve version ${m.version}`}
            csrfToken={csrf}
            kind="primary"
            hidden={{ version: String(m.version) }}
          />
          <form method="post" action={`${base}/reject`} className="inline reject">
            <CsrfField token={csrf} />
            <label htmlFor="reason">Reason for rejecting (optional)</label>
            <input id="reason" name="reason" maxLength={1000} />
            <button type="submit" className="danger">
              Reject
            </button>
          </form>
        </div>
      ) : null}
    </div>
  );
}

function CountsTable({ caption, counts }: { caption: string; counts: Record<string, number> }) {
  const entries = Object.entries(counts);
  return (
    <table>
      <caption>{caption}</caption>
      <thead>
        <tr>
          <th scope="col">Status</th>
          <th scope="col" className="num">
            Messages
          </th>
        </tr>
      </thead>
      <tbody>
        {entries.length === 0 ? (
          <tr>
            <td colSpan={2}>No messages yet.</td>
          </tr>
        ) : (
          entries.map(([status, n]) => (
            <tr key={status}>
              <th scope="row">{status}</th>
              <td className="num">{n}</td>
            </tr>
          ))
        )}
      </tbody>
    </table>
  );
}

function GroupTable(props: {
  caption: string;
  keyName: string;
  groups: Record<string, Record<string, number>>;
}) {
  const statuses = [...new Set(Object.values(props.groups).flatMap((g) => Object.keys(g)))].sort();
  const rows = Object.entries(props.groups);
  return (
    <table>
      <caption>{props.caption}</caption>
      <thead>
        <tr>
          <th scope="col">{props.keyName}</th>
          {statuses.map((s) => (
            <th key={s} scope="col" className="num">
              {s}
            </th>
          ))}
        </tr>
      </thead>
      <tbody>
        {rows.length === 0 ? (
          <tr>
            <td colSpan={1 + statuses.length}>No messages yet.</td>
          </tr>
        ) : (
          rows.map(([key, counts]) => (
            <tr key={key}>
              <th scope="row">{key}</th>
              {statuses.map((s) => (
                <td key={s} className="num">
                  {counts[s] ?? 0}
                </td>
              ))}
            </tr>
          ))
        )}
      </tbody>
    </table>
  );
}
