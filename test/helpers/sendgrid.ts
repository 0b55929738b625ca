import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';

/** A key pair like the one SendGrid's Signed Event Webhook uses (ECDSA P-256); public key as base64 DER SPKI. */
export function generateSendgridKeyPair(): { publicKeyBase64: string; privateKey: KeyObject } {
  const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    publicKeyBase64: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
    privateKey,
  };
}

/** Signs as SendGrid does: base64 DER ECDSA over timestamp + raw body. */
export function signSendgrid(privateKey: KeyObject, timestamp: string, rawBody: string | Buffer): string {
  return sign('sha256', Buffer.concat([Buffer.from(timestamp), Buffer.from(rawBody)]), privateKey).toString(
    'base64',
  );
}
