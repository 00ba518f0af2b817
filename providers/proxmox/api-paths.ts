// Building Proxmox API requests: encoded path segments, form/query encoding, and task ids (UPIDs).
import type { Params } from './client.ts';

/** Encodes each dynamic segment: `pvePath\`/nodes/${node}/tasks/${upid}/status\``. */
export function pvePath(strings: TemplateStringsArray, ...values: (string | number)[]): string {
  let out = strings[0] ?? '';
  values.forEach((v, i) => {
    out += encodeURIComponent(String(v)) + (strings[i + 1] ?? '');
  });
  return out;
}

/** `application/x-www-form-urlencoded` (and query strings): booleans as 1/0, spaces as %20. */
export function encodeParams(params: Params | undefined): string {
  if (!params) return '';
  const parts: string[] = [];
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null) continue;
    const v = typeof value === 'boolean' ? (value ? '1' : '0') : String(value);
    parts.push(`${encodeURIComponent(key)}=${encodeURIComponent(v)}`);
  }
  return parts.join('&');
}

export function isUpid(value: unknown): value is string {
  return typeof value === 'string' && value.startsWith('UPID:');
}

/** The node a UPID belongs to (`UPID:<node>:...`). */
export function upidNode(upid: string): string | undefined {
  return upid.split(':')[1] || undefined;
}
