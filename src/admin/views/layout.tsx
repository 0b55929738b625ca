import { DateTime } from 'luxon';
import type { ReactNode } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';

/** The signed-in person as the pages need them. */
export interface PageUser {
  name: string;
  timeZone: string;
  csrfToken: string;
}

export interface LayoutProps {
  title: string;
  user?: PageUser;
  /** Which main navigation entry is the current page. */
  active?: 'mailouts' | 'customers';
  /** A confirmation after a change (shown as a status message). */
  notice?: string;
  /** What went wrong (shown as an alert). */
  error?: string;
  children?: ReactNode;
}

export function Layout({ title, user, active, notice, error, children }: LayoutProps) {
  return (
    <html lang="en">
      <head>
        <meta charSet="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${title} · Briefly admin`}</title>
        <link rel="stylesheet" href="/admin/assets/admin.css" />
        <script src="/admin/assets/admin.js" defer />
      </head>
      <body>
        <a className="skip" href="#main">
          Skip to content
        </a>
        <header className="top">
          <a className="brand" href="/admin/mailouts">
            Briefly <span>admin</span>
          </a>
          {user ? (
            <nav aria-label="Main">
              <a href="/admin/mailouts" aria-current={active === 'mailouts' ? 'page' : undefined}>
                Mailouts
              </a>
              <a href="/admin/customers" aria-current={active === 'customers' ? 'page' : undefined}>
                Customers
              </a>
            </nav>
          ) : null}
          {user ? (
            <div className="who">
              <span>
                Signed in as <strong>{user.name}</strong>
              </span>
              <span className="muted">Times in {user.timeZone}</span>
              <form method="post" action="/admin/logout">
                <CsrfField token={user.csrfToken} />
                <button type="submit" className="link">
                  Sign out
                </button>
              </form>
            </div>
          ) : null}
        </header>
        <main id="main" tabIndex={-1}>
          <h1>{title}</h1>
          {notice ? (
            <p className="notice" role="status">
              {notice}
            </p>
          ) : null}
          {error ? (
            <div className="error" role="alert">
              {error}
            </div>
          ) : null}
          {children}
        </main>
      </body>
    </html>
  );
}

export function CsrfField({ token }: { token: string }) {
  return <input type="hidden" name="_csrf" value={token} />;
}

/** A POST button (one small form) carrying the CSRF token. */
export function ActionButton(props: {
  action: string;
  label: string;
  csrfToken: string;
  kind?: 'primary' | 'danger' | 'plain';
  confirm?: string;
  hidden?: Record<string, string>;
}) {
  return (
    <form method="post" action={props.action} className="inline" data-confirm={props.confirm}>
      <CsrfField token={props.csrfToken} />
      {Object.entries(props.hidden ?? {}).map(([name, value]) => (
        <input key={name} type="hidden" name={name} value={value} />
      ))}
      <button type="submit" className={props.kind ?? 'plain'}>
        {props.label}
      </button>
    </form>
  );
}

export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge badge-${status}`}>{status.replace(/_/g, ' ')}</span>;
}

/** "2026-03-08 09:00 EDT" in the reader's zone (empty for null). */
export function formatInstant(iso: string | null, zone: string): string {
  if (!iso) return '—';
  const local = DateTime.fromISO(iso, { zone });
  return local.toFormat('yyyy-MM-dd HH:mm ZZZZ');
}

export function renderPage(element: ReactNode): string {
  return `<!doctype html>${renderToStaticMarkup(element)}`;
}
