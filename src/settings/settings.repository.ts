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

/**
 * Settings that hold a list of Slack users rather than a channel. `mailout_managers`: who approves
 * mailouts (besides reps whose role is manager or admin); read by MailoutService.isManager.
 */
export const USER_LIST_SETTINGS = {
  mailout_managers: { label: 'Mailout managers', purpose: 'approve, reject, pause and cancel mailouts' },
} as const;
export type UserListKey = keyof typeof USER_LIST_SETTINGS;
export const USER_LIST_KEYS = Object.keys(USER_LIST_SETTINGS) as UserListKey[];
const userIds = z.array(z.string().regex(/^[UW][A-Z0-9]{2,}$/)).max(100);
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

  /** A user-list setting (empty when unset or unreadable). */
  async getUsers(key: UserListKey): Promise<string[]> {
    const [row] = await this.db
      .select()
      .from(settings)
      .where(inArray(settings.key, [key]));
    const parsed = userIds.safeParse(row?.value);
    return parsed.success ? parsed.data : [];
  }

  async get(key: SettingKey): Promise<string | undefined> {
    return (await this.getChannels())[key];
  }

  /** Sets the given keys and clears the ones passed as null (or an empty user list), in one transaction. */
  async setChannels(
    values: Partial<Record<SettingKey, string | null>>,
    updatedBy: string,
    audit?: AuditRepository,
    users: Partial<Record<UserListKey, string[]>> = {},
  ): Promise<void> {
    await this.db.transaction(async (tx) => {
      const lists = Object.entries(users).map(([key, ids]) => [key, ids?.length ? ids : null] as const);
      for (const [key, value] of [...Object.entries(values), ...lists]) {
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
      await audit?.record(
        { actor: updatedBy, action: 'settings.update', details: { ...values, ...users } },
        tx,
      );
    });
  }
}
