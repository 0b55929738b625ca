import { Layout, type PageUser } from './layout.tsx';

export function SignInPage(props: { provider: string; returnTo: string; error?: string; notice?: string }) {
  const href = `/admin/login?${new URLSearchParams({ return_to: props.returnTo })}`;
  return (
    <Layout title="Sign in" error={props.error} notice={props.notice}>
      <section className="card narrow">
        <p>Briefly's admin pages show mailouts, their statistics and customers. Sign in to continue.</p>
        <p>
          <a className="button primary big" href={href}>
            Sign in with {props.provider}
          </a>
        </p>
      </section>
    </Layout>
  );
}

/** A page that only says something (an error, the UI being off, a form that was refused). */
export function MessagePage(props: {
  title: string;
  message: string;
  user?: PageUser;
  link?: { href: string; label: string };
}) {
  return (
    <Layout title={props.title} user={props.user}>
      <p>{props.message}</p>
      {props.link ? (
        <p>
          <a href={props.link.href}>{props.link.label}</a>
        </p>
      ) : null}
    </Layout>
  );
}
