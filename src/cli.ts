import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ApiKeyService } from './api-keys/api-key.service.ts';
import { AuditRepository } from './audit/audit.repository.ts';
import { DEMO_REP, runDemo } from './briefings/demo.ts';
import { ConfigError, loadConfig, secretValues } from './config/config.ts';
import { runCustomerImport } from './customers/customer-import.command.ts';
import { createDatabase, createPool } from './db/client.ts';
import { prepareDatabase } from './db/migrate.ts';
import { isAppError } from './errors.ts';
import { createLogger } from './logging/logger.ts';
import { ROLES, type Role, startService } from './main.ts';

const USAGE = `Usage: briefly <command>

  start [--role all|web|bot|worker|scheduler]   run the service (default: all roles in one process)
  migrate                                        create the database if missing and apply migrations
  api-key create <name>                          create an API key (printed once; only a hash is stored)
  api-key revoke <id>                            revoke an API key
  api-key list                                   list API keys (never the keys themselves)
  customers import FILE                          upsert customers by phone from a CSV (phone,operator_code,tag,
                                                 time_zone) or NDJSON (.ndjson/.jsonl) file, with a progress bar
  demo                                           create a demo rep on the bundled sample calendar and send
                                                 today's briefing (without an email provider: an .eml in
                                                 EMAIL_OUTBOX_DIR)
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
      const service = await startService(config, logger, role);
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
          const created = await keys.create(rest.slice(1).join(' '), 'cli');
          process.stdout.write(
            `API key created (id ${created.id}). Store it now, it is not shown again:\n${created.key}\n`,
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
            process.stdout.write(`${key.id}  ${key.prefix}…  ${key.name}  ${state}\n`);
          }
          return 0;
        }
        throw new UsageError('api-key takes: create <name> | revoke <id> | list');
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
      // Runs a worker in this process so the briefing is delivered even when no service is running.
      const service = await startService(config, logger, 'worker');
      try {
        const result = await runDemo(service, logger);
        const where =
          result.provider === 'file-outbox'
            ? `an .eml file in ${resolve(config.email.outboxDir)} (open it in a mail client)`
            : `${DEMO_REP.email} via ${result.provider ?? 'the delivery layer'}`;
        process.stdout.write(
          `Demo rep ${DEMO_REP.email} (id ${result.repId}) is on the bundled sample calendar.\nToday's briefing: message ${result.messageId}, ${result.status}: ${where}.\n`,
        );
        return result.status === 'failed' ? 1 : 0;
      } finally {
        await service.stop();
      }
    }
    default:
      throw new UsageError(`Unknown command "${command}"`);
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
