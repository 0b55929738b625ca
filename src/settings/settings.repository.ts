import { inArray, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { AuditRepository } from '../audit/audit.repository.ts';
import type { Database } from '../db/client.ts';
import { settings } from '../db/schema.ts';

const channelId = z.string().regex(/^[CGD][A-Z0-9]{2,}$/, 'must be a Slack channel id such as C012ABCDEF');

/**
 * Every workspace setting, its schema and what it is for. `whenUnset`: where posts aimed at an unset
 * channel go ('admins': each admin by DM, so nothing is silent; 'skip': nowhere, recorded).
 */
export const SETTINGS = {
  alert_channel: {
    schema: channelId,
    label: 'Alert channel',
    purpose: 'delivery failures, provider swaps, broken calendars',
    whenUnset: 'admins',
  },
  stats_channel: {
    schema: channelId,
    label: 'Stats channel',
    purpose: 'daily statistics',
    whenUnset: 'skip',
  },
  approvals_channel: {
    schema: channelId,
    label: 'Approvals channel',
    purpose: 'mailout approval requests',
    whenUnset: 'admins',
  },
} as const;

export function isSettingKey(value: string): value is SettingKey {
  return Object.hasOwn(SETTINGS, value);
}

export type SettingKey = keyof typeof SETTINGS;
export type ChannelSettings = Partial<Record<SettingKey, string>>;
export const SETTING_KEYS = Object.keys(SETTINGS) as SettingKey[];

export class SettingsRepository {
  constructor(private readonly db: Database) {}

  async getChannels(): Promise<ChannelSettings> {
    const rows = await this.db.select().from(settings).where(inArray(settings.key, SETTING_KEYS));
    const out: ChannelSettings = {};
    for (const row of rows) {
      const parsed = SETTINGS[row.key as SettingKey].schema.safeParse(row.value);
      if (parsed.success) out[row.key as SettingKey] = parsed.data;
    }
    return out;
  }

  async get(key: SettingKey): Promise<string | undefined> {
    return (await this.getChannels())[key];
  }

  /** Sets the given keys and clears the ones passed as null, in one transaction. */
  async setChannels(
    values: Partial<Record<SettingKey, string | null>>,
    updatedBy: string,
    audit?: AuditRepository,
  ): Promise<void> {
    await this.db.transaction(async (tx) => {
      for (const [key, value] of Object.entries(values)) {
        if (value === undefined) continue;
        if (value === null) {
          await tx.delete(settings).where(inArray(settings.key, [key]));
          continue;
        }
        await tx
          .insert(settings)
          .values({ key, value, updatedBy })
          .onConflictDoUpdate({ target: settings.key, set: { value, updatedBy, updatedAt: sql`now()` } });
      }
      await audit?.record({ actor: updatedBy, action: 'settings.update', details: values }, tx);
    });
  }
}
