import type { MailoutView } from '../../mailouts/mailout.schemas.ts';
import { formatInstant, Layout, type PageUser, StatusBadge } from './layout.tsx';

export interface MailoutListProps {
  user: PageUser;
  mailouts: (MailoutView & { counts: Record<string, number> })[];
  statuses: readonly string[];
  status?: string;
  nextCursor: string | null;
  notice?: string;
}

const COUNTED = ['pending', 'sent', 'failed', 'expired', 'cancelled'] as const;

export function MailoutListPage(props: MailoutListProps) {
  const { user } = props;
  const next = props.nextCursor
    ? `/admin/mailouts?${new URLSearchParams({ ...(props.status ? { status: props.status } : {}), cursor: props.nextCursor })}`
    : undefined;
  return (
    <Layout title="Mailouts" user={user} active="mailouts" notice={props.notice}>
      <div className="toolbar">
        <form method="get" action="/admin/mailouts" className="filters">
          <label htmlFor="status">Status</label>
          <select id="status" name="status" defaultValue={props.status ?? ''} data-autosubmit="">
            <option value="">any</option>
            {props.statuses.map((s) => (
              <option key={s} value={s}>
                {s.replace(/_/g, ' ')}
              </option>
            ))}
          </select>
          <button type="submit">Filter</button>
        </form>
        <a className="button primary" href="/admin/mailouts/new">
          New mailout
        </a>
      </div>
      <table>
        <caption>
          Mailouts, newest first{props.status ? ` (status: ${props.status.replace(/_/g, ' ')})` : ''}
        </caption>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Status</th>
            <th scope="col">Starts</th>
            <th scope="col">Ends</th>
            <th scope="col" className="num">
              Messages
            </th>
            {COUNTED.map((c) => (
              <th key={c} scope="col" className="num">
                {c}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {props.mailouts.length === 0 ? (
            <tr>
              <td colSpan={5 + COUNTED.length}>No mailouts{props.status ? ' with this status' : ''}.</td>
            </tr>
          ) : (
            props.mailouts.map((m) => (
              <tr key={m.id}>
                <th scope="row">
                  <a href={`/admin/mailouts/${m.id}`}>{m.name}</a>
                </th>
                <td>
                  <StatusBadge status={m.status} />
                </td>
                <td>{formatInstant(m.starts_at, user.timeZone)}</td>
                <td>{formatInstant(m.ends_at, user.timeZone)}</td>
                <td className="num">{Object.values(m.counts).reduce((a, b) => a + b, 0)}</td>
                {COUNTED.map((c) => (
                  <td key={c} className="num">
                    {m.counts[c] ?? 0}
                  </td>
                ))}
              </tr>
            ))
          )}
        </tbody>
      </table>
      {next ? (
        <nav aria-label="Pages" className="pager">
          <a href={props.status ? `/admin/mailouts?status=${props.status}` : '/admin/mailouts'}>First page</a>
          <a href={next} rel="next">
            Next page
          </a>
        </nav>
      ) : null}
    </Layout>
  );
}
