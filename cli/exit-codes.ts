// The exit codes of `hangar`, one per kind of outcome, so scripts can tell a mistake of theirs from
// a broken service (docs/operations.md lists them; docs/cli.md is generated from this table).
export const EXIT = {
  /** Done. */
  ok: 0,
  /** The request was refused: a 4xx from the API (validation, not found, conflict, forbidden). */
  user: 1,
  /** The command line is wrong: unknown command or flag, bad flag value, missing --yes without a terminal. */
  usage: 2,
  /** The API or a service behind it failed: unreachable, a 5xx, an answer that makes no sense. */
  system: 3,
  /** The operation ran and failed (or was cancelled) on the real system: `--wait`, `ops watch`. */
  operationFailed: 4,
} as const;

export const EXIT_CODE_DOCS: { code: number; meaning: string }[] = [
  { code: EXIT.ok, meaning: 'success' },
  { code: EXIT.user, meaning: 'user error: the API refused the request (4xx: validation, not found, conflict, forbidden)' },
  { code: EXIT.usage, meaning: 'usage error: unknown command or flag, bad flag value, a destructive command without --yes when stdin is not a terminal' },
  { code: EXIT.system, meaning: 'system error: the API is unreachable or answered 5xx (or PostgreSQL/Temporal behind it failed)' },
  { code: EXIT.operationFailed, meaning: 'the operation ran and failed, was cancelled or timed out (--wait, ops watch)' },
];
