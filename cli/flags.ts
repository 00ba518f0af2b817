// Checks of command-line flag values: a wrong value is a usage error (exit code 2) naming the flag.
import { CliError } from './api-client.ts';

export function usage(message: string): never {
  throw new CliError(message, 2);
}

/** A whole number within bounds. */
export function wholeNumber(flag: string, v: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  if (!/^\d+$/.test(v)) usage(`${flag} must be a whole number, got "${v}"`);
  const n = Number(v);
  if (n < min || n > max) usage(`${flag} must be between ${min} and ${max}, got ${n}`);
  return n;
}

/** One of a fixed set of values. */
export function oneOf<T extends string>(flag: string, v: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(v)) usage(`${flag} must be one of ${allowed.join(', ')}, got "${v}"`);
  return v as T;
}

/** Repeatable options: each use appends; `--no-x` (false) before a use is forgotten. */
export const collect = (v: string, prev: unknown): string[] => [...(Array.isArray(prev) ? (prev as string[]) : []), v];
