// Reading loosely typed Redfish JSON: strings, objects, `@odata.id` links, string lists, headers.
import type { RedfishResponse } from './transport.ts';

export type Json = Record<string, unknown>;

export const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);
export const obj = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});
export const link = (v: unknown): string | null => str(obj(v)['@odata.id']);
export const strings = (v: unknown): string[] | null => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : null);
export const links = (v: unknown): string[] => (Array.isArray(v) ? v : []).map(link).filter((p): p is string => !!p);

export function headerOf(res: RedfishResponse, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** A URL for logs and messages: user info stripped. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username || u.password) {
      u.username = '';
      u.password = '';
    }
    return u.toString();
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//');
  }
}
