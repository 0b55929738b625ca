import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { AppError } from '../errors.ts';

/**
 * Secrets at rest (refresh tokens, private ICS feed URLs): AES-256-GCM with ENCRYPTION_KEY.
 * Sealed form: "v1.<iv>.<tag>.<ciphertext>" in base64url, so a key rotation can add "v2".
 */
export class SecretBox {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('SecretBox needs a 32-byte key');
  }

  seal(value: Record<string, string>): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const data = Buffer.concat([cipher.update(JSON.stringify(value), 'utf8'), cipher.final()]);
    return ['v1', iv, cipher.getAuthTag(), data]
      .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
      .join('.');
  }

  open(sealed: string): Record<string, string> {
    const [version, iv, tag, data] = sealed.split('.');
    if (version !== 'v1' || !iv || !tag || data === undefined) {
      throw new AppError('internal', 'stored credentials are not in a format this version can read');
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      const text = Buffer.concat([
        decipher.update(Buffer.from(data, 'base64url')),
        decipher.final(),
      ]).toString('utf8');
      return JSON.parse(text) as Record<string, string>;
    } catch (error) {
      throw new AppError(
        'internal',
        'stored credentials cannot be decrypted: ENCRYPTION_KEY is not the key they were stored with',
        { cause: error },
      );
    }
  }
}

/**
 * Development only: without ENCRYPTION_KEY, a random key is kept in a file next to the outbox
 * so that credentials stored on a laptop survive restarts. Production refuses to start without
 * ENCRYPTION_KEY (config.ts).
 */
export function loadOrCreateDevKey(path: string): Buffer {
  if (existsSync(path)) {
    const key = Buffer.from(readFileSync(path, 'utf8').trim(), 'hex');
    if (key.length === 32) return key;
  }
  const key = randomBytes(32);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, key.toString('hex'), { mode: 0o600 });
  return key;
}
