// Phone-home vocabulary shared by the metadata service, activities and workflows (no zod here:
// workflow code imports it).

export interface PhoneHomePayload {
  [field: string]: string;
}

/**
 * What the metadata service and the hypervisor or BMC saw of a machine: evidence behind a timeout.
 * `powerState` is normalised (running, stopped, …) whatever the provider calls it.
 */
export interface BootDiagnosis {
  fetched: string[];
  phonedHome: boolean;
  powerState: string;
}

/** Who was expected to phone home: a VM, or a bare-metal host (by name). */
export type BootSubject = { kind: 'vm' } | { kind: 'host'; name: string };

/** Redfish says On/Off; the diagnosis speaks the hypervisors' words. */
export function normalisePowerState(state: string): string {
  if (state === 'On') return 'running';
  if (state === 'Off') return 'stopped';
  return state;
}

/** One diagnosis for VMs and hosts alike: the first thing that went wrong on the way to phone-home. */
export function explainBoot(d: BootDiagnosis, subject: BootSubject = { kind: 'vm' }): string {
  const who = subject.kind === 'vm' ? 'the VM' : `host ${subject.name}`;
  const pathHint =
    subject.kind === 'vm'
      ? 'check its path to the metadata URL (seed URL, SMBIOS serial, firewall)'
      : "is the NoCloud seed URL on the image's kernel command line, and is Hangar reachable from the host?";
  if (d.phonedHome) return 'the machine phoned home';
  if (d.powerState !== 'running') return `${who} is ${d.powerState}, not running`;
  if (!d.fetched.length) return `${who} is running but never fetched its meta-data: ${pathHint}`;
  if (!d.fetched.includes('user-data')) return `${who} fetched ${d.fetched.join(', ')} but not user-data: cloud-init stopped early; see the console`;
  return `${who} fetched ${d.fetched.join(', ')} but never phoned home: cloud-init's final stage failed or cannot reach the phone_home URL; see the console`;
}
