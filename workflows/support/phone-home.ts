// The one phone-home wait, for VMs and hosts: the handler is installed when the workflow starts
// (a signal that arrives early is kept), the wait is a durable timer, and a timeout fails with
// one diagnosis (domain/boot.ts) built from the evidence the given activity collects.
import { ApplicationFailure, condition, setHandler } from '@temporalio/workflow';
import type { Duration } from '@temporalio/common';
import { explainBoot, type BootDiagnosis, type BootSubject, type PhoneHomePayload } from '../../domain/boot.ts';
import { phoneHomeSignal } from '../contracts.ts';

export interface PhoneHome {
  /** Resolves once the machine phoned home; after `timeout` fails with `phone_home_timeout` and the diagnosis. */
  wait(timeout: string, subject: BootSubject, diagnose: () => Promise<BootDiagnosis>): Promise<void>;
}

export function listenForPhoneHome(): PhoneHome {
  let payload: PhoneHomePayload | null = null;
  setHandler(phoneHomeSignal, (p) => {
    payload = p ?? {};
  });
  return {
    async wait(timeout, subject, diagnose) {
      if (await condition(() => payload !== null, timeout as Duration)) return;
      const diagnosis = await diagnose();
      throw ApplicationFailure.create({
        type: 'phone_home_timeout',
        message: `no phone-home within ${timeout}: ${explainBoot(diagnosis, subject)}`,
        nonRetryable: true,
        details: [diagnosis],
      });
    },
  };
}
