// Shared retry presets for activities (DESIGN.md: initial 2 s, coefficient 2, max 30 s).
// Plain data so workflow code can import it without side effects.
import { NON_RETRYABLE_CODES } from './errors.ts';

export interface RetryPreset {
  initialInterval: string;
  backoffCoefficient: number;
  maximumInterval: string;
  maximumAttempts: number;
  nonRetryableErrorTypes: string[];
}

export const DEFAULT_RETRY: RetryPreset = {
  initialInterval: '2s',
  backoffCoefficient: 2,
  maximumInterval: '30s',
  maximumAttempts: 10,
  nonRetryableErrorTypes: [...NON_RETRYABLE_CODES],
};

/** Compensations try harder: leaving a half-built resource behind is worse than waiting. */
export const COMPENSATION_RETRY: RetryPreset = { ...DEFAULT_RETRY, maximumAttempts: 20 };
