import { HangarError } from '../../domain/errors.ts';

type ErrorClass<E extends Error> = abstract new (...args: never[]) => E;

/** Runs fn, which must throw an instance of `kind` (a HangarError by default), and returns it for assertions. */
export function thrown<E extends Error = HangarError>(fn: () => unknown, kind: ErrorClass<E> = HangarError as unknown as ErrorClass<E>): E {
  try {
    fn();
  } catch (err) {
    if (err instanceof kind) return err;
    throw err;
  }
  throw new Error(`expected a ${kind.name}`);
}
