import type { ReactNode } from 'react';
import type { FieldProblem } from '../../errors.ts';
import { CsrfField, Layout, type PageUser } from './layout.tsx';

/** The form's values as typed (local date-times in the reader's zone). */
export interface MailoutFormValues {
  name: string;
  text: string;
  starts_at: string;
  ends_at: string;
  operator_codes: string;
  tags: string;
  window_from: string;
  window_to: string;
  submit: boolean;
  version?: string;
}

export interface MailoutFormProps {
  user: PageUser;
  /** Editing this mailout, or creating one. */
  mailoutId?: number;
  status?: string;
  values: MailoutFormValues;
  errors: FieldProblem[];
  error?: string;
}

export function MailoutFormPage(props: MailoutFormProps) {
  const { user, values, mailoutId } = props;
  const errorOf = (field: string) => props.errors.find((e) => e.field === field)?.message;
  const live = props.status === 'running' || props.status === 'paused';
  const field = (
    name: keyof MailoutFormValues,
    label: string,
    input: (a: {
      id: string;
      name: string;
      'aria-invalid'?: true;
      'aria-describedby'?: string;
      disabled?: boolean;
    }) => ReactNode,
    hint?: string,
    lockedWhileLive = false,
  ) => {
    const error = errorOf(name);
    const id = `f-${name}`;
    const described = [hint ? `${id}-hint` : '', error ? `${id}-error` : ''].filter(Boolean).join(' ');
    return (
      <div className={`field${error ? ' invalid' : ''}`}>
        <label htmlFor={id}>{label}</label>
        {hint ? (
          <p id={`${id}-hint`} className="hint">
            {hint}
          </p>
        ) : null}
        {input({
          id,
          name,
          ...(error ? { 'aria-invalid': true as const } : {}),
          ...(described ? { 'aria-describedby': described } : {}),
          ...(live && lockedWhileLive ? { disabled: true } : {}),
        })}
        {error ? (
          <p id={`${id}-error`} className="field-error">
            {error}
          </p>
        ) : null}
      </div>
    );
  };
  const title = mailoutId ? `Edit mailout ${values.name || mailoutId}` : 'New mailout';
  const summary = props.errors.length
    ? `Please correct ${props.errors.length === 1 ? 'the field' : `${props.errors.length} fields`} below.`
    : props.error;
  return (
    <Layout title={title} user={user} active="mailouts" error={summary}>
      <p className="crumbs">
        <a href={mailoutId ? `/admin/mailouts/${mailoutId}` : '/admin/mailouts'}>
          {mailoutId ? 'Back to the mailout' : 'All mailouts'}
        </a>
      </p>
      {live ? (
        <p className="muted">
          While the mailout is {props.status}, only its end and sending hours may change.
        </p>
      ) : null}
      <form method="post" action={mailoutId ? `/admin/mailouts/${mailoutId}` : '/admin/mailouts'} noValidate>
        <CsrfField token={user.csrfToken} />
        {values.version ? <input type="hidden" name="version" value={values.version} /> : null}
        {field(
          'name',
          'Name',
          (a) => (
            <input {...a} defaultValue={values.name} maxLength={200} required />
          ),
          undefined,
          true,
        )}
        {field(
          'text',
          'Text',
          (a) => (
            <textarea {...a} defaultValue={values.text} maxLength={2000} rows={4} required />
          ),
          'What each customer receives (at most 2000 characters).',
          true,
        )}
        <div className="row">
          {field(
            'starts_at',
            `Starts (${user.timeZone})`,
            (a) => (
              <input {...a} type="datetime-local" defaultValue={values.starts_at} required />
            ),
            undefined,
            true,
          )}
          {field('ends_at', `Ends (${user.timeZone})`, (a) => (
            <input {...a} type="datetime-local" defaultValue={values.ends_at} required />
          ))}
        </div>
        <div className="row">
          {field(
            'operator_codes',
            'Operator codes',
            (a) => (
              <input {...a} defaultValue={values.operator_codes} inputMode="numeric" />
            ),
            'Comma-separated, e.g. 916, 903. Empty: any operator.',
            true,
          )}
          {field(
            'tags',
            'Tags',
            (a) => (
              <input {...a} defaultValue={values.tags} />
            ),
            'Comma-separated. Empty: any tag.',
            true,
          )}
        </div>
        <fieldset>
          <legend>Sending hours in each customer's own time zone (optional)</legend>
          <div className="row">
            {field('window_from', 'From', (a) => (
              <input {...a} type="time" defaultValue={values.window_from} />
            ))}
            {field('window_to', 'To', (a) => (
              <input {...a} type="time" defaultValue={values.window_to} />
            ))}
          </div>
        </fieldset>
        {mailoutId ? null : (
          <div className="field check">
            <input id="f-submit" type="checkbox" name="submit" value="1" defaultChecked={values.submit} />
            <label htmlFor="f-submit">Submit for approval now (otherwise it stays a draft)</label>
          </div>
        )}
        <button type="submit" className="primary">
          {mailoutId ? 'Save changes' : 'Create mailout'}
        </button>
      </form>
    </Layout>
  );
}
