import { describe, expect, it } from '@jest/globals';
import { createAccountSchema, isRegionOf, parseAccountKey } from '../../domain/accounts.ts';

describe('account keys and regions', () => {
  it('accepts AWS account ids and GCP project ids', () => {
    expect(parseAccountKey('aws:123456789012')).toEqual({ provider: 'aws', id: '123456789012' });
    expect(parseAccountKey('gcp:my-project-42')).toEqual({ provider: 'gcp', id: 'my-project-42' });
  });

  it('rejects malformed keys with a reason', () => {
    for (const key of [
      'aws:12345678901',
      'aws:1234567890123',
      'aws:12345678901a',
      'gcp:short',
      'gcp:1project',
      'gcp:Project-x',
      'gcp:ends-with-',
      `gcp:${'a'.repeat(31)}`,
      'azure:x',
      'aws',
      'aws:1:2',
    ]) {
      expect({ key, ok: !('error' in parseAccountKey(key)) }).toEqual({ key, ok: false });
    }
    expect(parseAccountKey(`gcp:a${'b'.repeat(28)}c`)).toMatchObject({ provider: 'gcp' });
  });

  it('checks regions against the provider', () => {
    expect(isRegionOf('aws', 'us-east-1')).toBe(true);
    expect(isRegionOf('aws', 'us-gov-west-1')).toBe(true);
    expect(isRegionOf('aws', 'eu-central-2')).toBe(true);
    expect(isRegionOf('aws', 'us-central1')).toBe(false);
    expect(isRegionOf('gcp', 'us-central1')).toBe(true);
    expect(isRegionOf('gcp', 'europe-west4')).toBe(true);
    expect(isRegionOf('gcp', 'us-east-1')).toBe(false);
    const bad = createAccountSchema.safeParse({ key: 'gcp:my-project-42', name: 'x', regions: ['europe-west4', 'us-east-1'] });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues[0]!.path).toEqual(['regions', 1]);
  });
});
