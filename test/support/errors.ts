import { HangarError } from '../../domain/errors.ts';

/** Runs fn, which must throw a HangarError, and returns it for assertions. */
export function thrown(fn: () => unknown): HangarError {
  try {
    fn();
  } catch (err) {
    if (err instanceof HangarError) return err;
    throw err;
  }
  throw new Error('expected a HangarError');
}
