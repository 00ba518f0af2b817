import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { renderConfigDocs } from '../../domain/config-docs.ts';
import { SETTINGS } from '../../domain/settings.ts';
import { ROOT } from '../support/services.ts';

describe('docs/configuration.md', () => {
  it('is the current output of `hangar config docs`', () => {
    expect(readFileSync(resolve(ROOT, 'docs/configuration.md'), 'utf8')).toBe(renderConfigDocs());
  });

  it('documents every setting with its variable', () => {
    const doc = renderConfigDocs();
    for (const s of SETTINGS) expect(doc).toContain(`| \`${s.env}\` | \`${s.key}\` |`);
  });
});
