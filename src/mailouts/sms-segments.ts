/**
 * How many SMS segments a text needs (3GPP TS 23.038): GSM 7-bit when every character is in the
 * default alphabet or its extension table (extension characters take two septets), else UCS-2.
 * One segment holds 160 septets / 70 UTF-16 units; a concatenated message loses a 6-byte header
 * per segment: 153 septets / 67 units each.
 */
const GSM_BASIC =
  '@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u001bÆæßÉ !"#¤%&\'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà';
const GSM_EXTENDED = '^{}\\[~]|€\f';
const BASIC = new Set(GSM_BASIC);
const EXTENDED = new Set(GSM_EXTENDED);

export interface SmsSize {
  encoding: 'GSM-7' | 'UCS-2';
  /** Characters as a person counts them (code points). */
  characters: number;
  segments: number;
}

export function smsSize(text: string): SmsSize {
  let septets = 0;
  let gsm = true;
  for (const char of text) {
    if (BASIC.has(char)) septets += 1;
    else if (EXTENDED.has(char)) septets += 2;
    else {
      gsm = false;
      break;
    }
  }
  const characters = [...text].length;
  if (gsm) {
    return {
      encoding: 'GSM-7',
      characters,
      segments: septets === 0 ? 0 : septets <= 160 ? 1 : Math.ceil(septets / 153),
    };
  }
  const units = text.length;
  return { encoding: 'UCS-2', characters, segments: units <= 70 ? 1 : Math.ceil(units / 67) };
}
