import type { CustomerView } from '../../customers/customer.schemas.ts';
import { formatInstant, Layout, type PageUser } from './layout.tsx';

export interface CustomerSearch {
  phone: string;
  operator_code: string;
  tag: string;
  time_zone: string;
}

export interface CustomersPageProps {
  user: PageUser;
  search: CustomerSearch;
  customers: CustomerView[];
  nextCursor: string | null;
  error?: string;
}

export function CustomersPage(props: CustomersPageProps) {
  const { user, search } = props;
  const filled = Object.fromEntries(Object.entries(search).filter(([, v]) => v));
  const next = props.nextCursor
    ? `/admin/customers?${new URLSearchParams({ ...filled, cursor: props.nextCursor })}`
    : undefined;
  return (
    <Layout title="Customers" user={user} active="customers" error={props.error}>
      <search>
        <form method="get" action="/admin/customers" className="search">
          <div className="field">
            <label htmlFor="q-phone">Phone</label>
            <input id="q-phone" name="phone" defaultValue={search.phone} inputMode="tel" />
          </div>
          <div className="field">
            <label htmlFor="q-operator">Operator code</label>
            <input
              id="q-operator"
              name="operator_code"
              defaultValue={search.operator_code}
              inputMode="numeric"
            />
          </div>
          <div className="field">
            <label htmlFor="q-tag">Tag</label>
            <input id="q-tag" name="tag" defaultValue={search.tag} />
          </div>
          <div className="field">
            <label htmlFor="q-zone">Time zone</label>
            <input id="q-zone" name="time_zone" defaultValue={search.time_zone} placeholder="Asia/Kolkata" />
          </div>
          <button type="submit" className="primary">
            Search
          </button>
        </form>
      </search>
      <table>
        <caption>Customers{Object.keys(filled).length ? ' matching the search' : ''}, by id</caption>
        <thead>
          <tr>
            <th scope="col">Id</th>
            <th scope="col">Phone</th>
            <th scope="col">Operator</th>
            <th scope="col">Tag</th>
            <th scope="col">Time zone</th>
            <th scope="col">Added</th>
          </tr>
        </thead>
        <tbody>
          {props.customers.length === 0 ? (
            <tr>
              <td colSpan={6}>No customers found.</td>
            </tr>
          ) : (
            props.customers.map((c) => (
              <tr key={c.id}>
                <th scope="row">{c.id}</th>
                <td>{c.phone}</td>
                <td>{c.operator_code}</td>
                <td>{c.tag ?? '—'}</td>
                <td>{c.time_zone}</td>
                <td>{formatInstant(c.created_at, user.timeZone)}</td>
              </tr>
            ))
          )}
        </tbody>
      </table>
      {next ? (
        <nav aria-label="Pages" className="pager">
          <a href={`/admin/customers?${new URLSearchParams(filled)}`}>First page</a>
          <a href={next} rel="next">
            Next page
          </a>
        </nav>
      ) : null}
    </Layout>
  );
}
