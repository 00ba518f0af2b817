// Phone-home vocabulary shared by the metadata service, activities and workflows (no zod here:
// workflow code imports it).

export interface PhoneHomePayload {
  [field: string]: string;
}

/** What the metadata service and the hypervisor saw of a machine: evidence behind a timeout. */
export interface BootDiagnosis {
  fetched: string[];
  phonedHome: boolean;
  powerState: string;
}

export function explainBoot(d: BootDiagnosis): string {
  if (d.phonedHome) return 'the machine phoned home';
  if (d.powerState !== 'running') return `the VM is ${d.powerState}, not running`;
  if (!d.fetched.length) return 'the VM is running but never fetched its meta-data: check its path to the metadata URL (seed URL, SMBIOS serial, firewall)';
  if (!d.fetched.includes('user-data')) return `the VM fetched ${d.fetched.join(', ')} but not user-data: cloud-init stopped early; see the VM console`;
  return `the VM fetched ${d.fetched.join(', ')} but never phoned home: cloud-init's final stage failed or cannot reach the phone_home URL; see the VM console`;
}
