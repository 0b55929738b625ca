import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ApiKeyService } from './api-keys/api-key.service.ts';
import { DEFAULT_SCOPES, parseScopes } from './api-keys/scopes.ts';
import { AuditRepository } from './audit/audit.repository.ts';
import { DEMO_REP, runDemo } from './briefings/demo.ts';
import { createCalendars } from './calendars/calendar.module.ts';
import { type Config, ConfigError, loadConfig, secretValues } from './config/config.ts';
import { runCustomerImport } from './customers/customer-import.command.ts';
import { createDatabase, createPool } from './db/client.ts';
import { prepareDatabase } from './db/migrate.ts';
import { describeEvent, followMessage, isSuccess } from './delivery/follow-message.ts';
import {
  checkWebhook,
  registerWebhook,
  SendgridWebhookSettingsClient,
} from './delivery/sendgrid-webhook-settings.ts';
import { DEMO_CUSTOMER_ZONES, DEMO_MANAGER, DEMO_NAMES, seedDemo } from './demo/demo-data.ts';
import { DemoRoutingGateway, DemoSendApi } from './demo/demo-send-api.ts';
import { isAppError } from './errors.ts';
import { createLogger, type Logger } from './logging/logger.ts';
import { FabriqueSmsGateway } from './mailouts/providers/fabrique.sms-gateway.ts';
import { ROLES, type Role, startService } from './main.ts';
import { RepRepository } from './reps/rep.repository.ts';
import { systemClock } from './shared/time.ts';

const USAGE = `Usage: briefly <command>

  start [--role all|web|bot|worker|scheduler]   run the service (default: all roles in one process)
  migrate                                        create the database if missing and apply migrations
  api-key create <name> [--scopes send,read]     create an API key (printed once; only a hash is stored);
                                                 scopes: send, read, read:all, customers, mailouts, admin (default send,read)
  api-key revoke <id>                            revoke an API key
  api-key list                                   list API keys (never the keys themselves)
  reps connect-ics <rep-email-or-id> <url>       connect a rep's calendar to an ICS feed (stored encrypted)
                                                 and sync it once now
  customers import FILE                          upsert customers by phone from a CSV (phone,operator_code,tag,
                                                 time_zone) or NDJSON (.ndjson/.jsonl) file, with a progress bar
  demo                                           seed demo data for every feature: a rep on the bundled sample
                                                 calendar with today's briefing (without an email provider:
                                                 an .eml in EMAIL_OUTBOX_DIR), customers, mailouts (one awaiting
                                                 approval, one running), a sequence, appointments; rerun safe
  send --to ADDRESS [--subject TEXT] [--timeout SECONDS]
                                                 send a test email through the configured providers and
                                                 follow its status (default timeout 60 s)
  webhooks check                                 whether SendGrid's Event Webhook points at PUBLIC_URL with
                                                 signing on
  webhooks register                              point it there, select the events Briefly records, turn
                                                 signing on and print SENDGRID_WEBHOOK_PUBLIC_KEY
`;

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(USAGE);
    return command ? 0 : 1;
  }
  const config = loadConfig();
  const logger = createLogger({ ...config.log, secrets: secretValues(config) });

  switch (command) {
    case 'start': {
      const { values } = parseArgs({ args: rest, options: { role: { type: 'string', default: 'all' } } });
      const role = values.role as Role;
      if (!ROLES.includes(role))
        throw new UsageError(`--role must be one of ${ROLES.join(', ')} (got "${values.role}")`);
      const service = await startService(config, logger, role, { processWide: true });
      await new Promise<void>((resolve) => {
        const shutdown = (signal: string) => {
          logger.info('shutting down', { signal });
          const force = setTimeout(() => {
            logger.error('shutdown took too long; exiting');
            process.exit(1);
          }, config.shutdownTimeoutMs + 2_000);
          force.unref();
          service.stop().then(resolve, (error: Error) => {
            logger.error('shutdown failed', { error: error.message });
            resolve();
          });
        };
        process.once('SIGTERM', () => shutdown('SIGTERM'));
        process.once('SIGINT', () => shutdown('SIGINT'));
      });
      logger.info('stopped');
      return 0;
    }
    case 'migrate': {
      // Always migrates, whatever MIGRATE_ON_START says: this is how a Kubernetes Job does it.
      const { created } = await prepareDatabase(config.databaseUrl);
      logger.info(created ? 'database created and migrated' : 'database migrated');
      return 0;
    }
    case 'api-key': {
      const [action, arg] = rest;
      await prepareDatabase(config.databaseUrl);
      const pool = createPool(config.databaseUrl, 2);
      try {
        const db = createDatabase(pool);
        const keys = new ApiKeyService(db, new AuditRepository(db));
        if (action === 'create' && arg) {
          const { values, positionals } = parseArgs({
            args: rest.slice(1),
            options: { scopes: { type: 'string' } },
            allowPositionals: true,
          });
          const scopes = values.scopes === undefined ? DEFAULT_SCOPES : parseScopes(values.scopes);
          const created = await keys.create(positionals.join(' '), 'cli', scopes);
          process.stdout.write(
            `API key created (id ${created.id}, scopes ${created.scopes.join(',')}). Store it now, it is not shown again:\n${created.key}\n`,
          );
          return 0;
        }
        if (action === 'revoke' && arg) {
          await keys.revoke(arg, 'cli');
          process.stdout.write(`API key ${arg} revoked\n`);
          return 0;
        }
        if (action === 'list') {
          for (const key of await keys.list()) {
            const state = key.revokedAt ? `revoked ${key.revokedAt.toISOString()}` : 'active';
            process.stdout.write(
              `${key.id}  ${key.prefix}…  ${key.name}  ${key.scopes.join(',')}  ${state}\n`,
            );
          }
          return 0;
        }
        throw new UsageError('api-key takes: create <name> [--scopes send,read] | revoke <id> | list');
      } finally {
        await pool.end();
      }
    }
    case 'reps': {
      const [action, who, url, ...extra] = rest;
      if (action !== 'connect-ics' || !who || !url || extra.length > 0)
        throw new UsageError('reps takes: connect-ics <rep-email-or-id> <url>');
      await prepareDatabase(config.databaseUrl);
      const pool = createPool(config.databaseUrl, 2);
      try {
        const db = createDatabase(pool);
        const reps = new RepRepository(db);
        const rep = /^[0-9a-f-]{36}$/i.test(who)
          ? await reps.findById(who)
          : await reps.findByEmail(who.trim().toLowerCase());
        if (!rep) throw new UsageError(`No rep has the id or email "${who}" (create one with POST /v1/reps)`);
        const { connect } = createCalendars({
          config,
          pool,
          audit: new AuditRepository(db),
          clock: systemClock,
          logger,
        });
        const result = await connect.connectIcs(
          { id: rep.id, email: rep.email, timeZone: rep.timeZone },
          url,
          'cli',
        );
        const outcome = result.kind === 'connected' ? result.outcome : undefined;
        if (outcome?.status === 'synced') {
          process.stdout.write(
            `ICS feed connected for ${rep.email} (rep ${rep.id}); first sync: ${outcome.upserted} events in the window.\n`,
          );
          return 0;
        }
        // The feed URL is a secret: only the reason (which never holds it) is printed.
        const reason = outcome?.status === 'broken' ? outcome.reason : (outcome?.status ?? result.kind);
        process.stderr.write(
          `ICS feed stored for ${rep.email} (rep ${rep.id}), but it could not be read: ${reason}\n`,
        );
        return 1;
      } finally {
        await pool.end();
      }
    }
    case 'customers': {
      const [action, file] = rest;
      if (action !== 'import' || !file) throw new UsageError('customers takes: import FILE');
      await prepareDatabase(config.databaseUrl);
      const pool = createPool(config.databaseUrl, 2);
      try {
        const result = await runCustomerImport(file, pool, logger, process);
        return result.inserted + result.updated > 0 || result.rejected === 0 ? 0 : 1;
      } finally {
        await pool.end();
      }
    }
    case 'demo': {
      // Runs a worker in this process so the briefing is delivered and the demo mailout sends even
      // when no service is running; demo customers' texts go to a send API inside this process.
      const sendApi = new DemoSendApi();
      const demoSendApiUrl = await sendApi.start();
      const { url: sendApiUrl, token } = config.mailouts.sendApi;
      const service = await startService(config, logger, 'worker', {
        smsGateway: new DemoRoutingGateway(
          demoSendApiUrl,
          token ? new FabriqueSmsGateway({ baseUrl: sendApiUrl, token }) : undefined,
        ),
      });
      try {
        const result = await runDemo(service, logger);
        const where =
          result.provider === 'file-outbox'
            ? `an .eml file in ${resolve(config.email.outboxDir)} (open it in a mail client)`
            : `${DEMO_REP.email} via ${result.provider ?? 'the delivery layer'}`;
        process.stdout.write(
          `Demo rep ${DEMO_REP.email} (id ${result.repId}) is on the bundled sample calendar.\nToday's briefing: message ${result.messageId}, ${result.status}: ${where}.\n`,
        );
        const rep = await service.reps.findByEmail(DEMO_REP.email);
        const seeded = await seedDemo(
          service,
          { id: result.repId, timeZone: rep?.timeZone ?? DEMO_REP.time_zone },
          logger,
        );
        const { mailouts: m } = seeded;
        process.stdout.write(
          [
            `Demo manager ${DEMO_MANAGER.email} approves mailouts.`,
            `Customers: ${seeded.customers.total} tagged "demo" in ${DEMO_CUSTOMER_ZONES.length} time zones (${seeded.customers.created} new).`,
            `Mailout ${m.pendingId} "${DEMO_NAMES.pendingMailout}" awaits a manager's approval.`,
            `Mailout ${m.runningId} "${DEMO_NAMES.runningMailout}": ${m.runningSent} sent through the demo's local send API; customers whose 09:00-21:00 window is closed get theirs when it opens.`,
            `Sequence "${DEMO_NAMES.sequence}": ${seeded.sequence.enrolled} contacts enrolled (/sequences).`,
            `Service "${DEMO_NAMES.service}": ${seeded.appointments.upcoming} upcoming appointments (/appointments).`,
            '',
          ].join('\n'),
        );
        return result.status === 'failed' ? 1 : 0;
      } finally {
        await service.stop();
        await sendApi.stop();
      }
    }
    case 'send':
      return sendTest(config, logger, rest);
    case 'webhooks': {
      const [action] = rest;
      if (action !== 'check' && action !== 'register')
        throw new UsageError('webhooks takes: check | register');
      if (!config.email.sendgrid.apiKey) {
        throw new UsageError('webhooks needs SENDGRID_API_KEY (and SENDGRID_BASE_URL outside the US region)');
      }
      const client = new SendgridWebhookSettingsClient({
        apiKey: config.email.sendgrid.apiKey,
        baseUrl: config.email.sendgrid.baseUrl,
        timeoutMs: config.email.timeoutMs,
      });
      if (action === 'register') {
        const { url, publicKey } = await registerWebhook(client, { publicUrl: config.http.publicUrl });
        process.stdout.write(
          `SendGrid's Event Webhook now posts every event Briefly records to ${url}, signed.\n` +
            `Set this in Briefly's environment (.env) and restart:\nSENDGRID_WEBHOOK_PUBLIC_KEY=${publicKey}\n`,
        );
        return 0;
      }
      const report = await checkWebhook(client, {
        publicUrl: config.http.publicUrl,
        configuredPublicKey: config.email.sendgrid.webhookPublicKey,
      });
      for (const [passed, line] of report.lines)
        process.stdout.write(`${passed ? 'ok  ' : 'FIX '} ${line}\n`);
      if (report.publicKey && !report.lines.every(([passed]) => passed)) {
        process.stdout.write(`SENDGRID_WEBHOOK_PUBLIC_KEY=${report.publicKey}\n`);
      }
      process.stdout.write(
        report.ok
          ? 'SendGrid webhooks are set up.\n'
          : 'Run `briefly webhooks register` to fix the settings (PUBLIC_URL must be reachable from the internet).\n',
      );
      return report.ok ? 0 : 1;
    }
    default:
      throw new UsageError(`Unknown command "${command}"`);
  }
}

/**
 * `briefly send`: runs a worker in this process (like `demo`), so the test goes out whether or not
 * the service is running; a running service's workers may just as well be the ones that send it.
 */
async function sendTest(config: Config, logger: Logger, args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      to: { type: 'string' },
      subject: { type: 'string' },
      timeout: { type: 'string', default: '60' },
    },
  });
  if (!values.to) throw new UsageError('send needs --to ADDRESS');
  const timeoutSeconds = Number(values.timeout);
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds < 1 || timeoutSeconds > 3_600) {
    throw new UsageError('--timeout must be a number of seconds between 1 and 3600');
  }
  const service = await startService(config, logger, 'worker');
  try {
    const delivery = service.delivery.service;
    const sent = await delivery.sendTest({ to: values.to, subject: values.subject, requestedBy: 'cli' });
    process.stdout.write(
      `Message ${sent.id} accepted for ${values.to} (Message-ID ${sent.messageIdHeader})\n`,
    );
    const { message, settled } = await followMessage(() => delivery.get(sent.id), {
      timeoutMs: timeoutSeconds * 1_000,
      intervalMs: 250,
      onEvent: (event) => {
        process.stdout.write(`${event.at}  ${describeEvent(event)}\n`);
      },
    });
    if (!settled && message.status === 'sent') {
      process.stdout.write(
        `Sent via ${message.provider}; no delivery event within ${timeoutSeconds} s (does SendGrid's webhook reach Briefly? \`briefly webhooks check\`).\n`,
      );
      return 0;
    }
    if (!settled) {
      process.stdout.write(
        `Still ${message.status} after ${timeoutSeconds} s${message.last_error ? `: ${message.last_error}` : ''}. Follow it with \`/briefly message ${sent.id}\` or GET /v1/messages/${sent.id}.\n`,
      );
      return 1;
    }
    process.stdout.write(
      `Message ${sent.id}: ${message.status}${message.provider ? ` via ${message.provider}` : ''}\n`,
    );
    return isSuccess(message.status) ? 0 : 1;
  } finally {
    await service.stop();
  }
}

class UsageError extends Error {}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\nSee .env.example and README.md (Configuration).\n`);
    } else if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n\n${USAGE}`);
    } else if (isAppError(error)) {
      process.stderr.write(`${error.message}\n`);
    } else {
      process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    }
    process.exit(1);
  },
);
