// The CLI's reference and help: docs/cli.md is the current output of `hangar docs`, and every
// command (including ones added later) has a description and an example.
import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { buildProgram } from '../../cli/main.ts';
import { examples, walk } from '../../cli/command-tree.ts';
import { renderCliDocs } from '../../cli/docs.ts';
import { EXIT, EXIT_CODE_DOCS } from '../../cli/exit-codes.ts';
import { ROOT } from '../support/services.ts';

describe('docs/cli.md', () => {
  it('is the current output of `hangar docs` (regenerate: cli/hangar docs > docs/cli.md)', () => {
    expect(readFileSync(resolve(ROOT, 'docs/cli.md'), 'utf8')).toBe(renderCliDocs(buildProgram()));
  });

  it('documents every exit code, each distinct', () => {
    const codes = Object.values(EXIT);
    expect(new Set(codes).size).toBe(codes.length);
    expect(EXIT_CODE_DOCS.map((e) => e.code).sort()).toEqual([...codes].sort());
    const doc = renderCliDocs(buildProgram());
    for (const e of EXIT_CODE_DOCS) expect(doc).toContain(`| ${e.code} | `);
  });
});

describe('help', () => {
  const commands = walk(buildProgram());

  it('covers every command of the tree', () => {
    expect(commands.map((c) => c.path)).toEqual(expect.arrayContaining(['machines create', 'machines get', 'ops list', 'completion', 'status', 'version']));
  });

  it('gives every command and subcommand a description and an example (add them in cli/help-text.ts)', () => {
    const missing = commands.filter(({ cmd }) => !cmd.description() || !examples(cmd).length).map((c) => c.path);
    expect(missing).toEqual([]);
  });

  it('describes every option', () => {
    const bare = commands.flatMap(({ path, cmd }) => cmd.options.filter((o) => !o.description).map((o) => `${path} ${o.long}`));
    expect(bare).toEqual([]);
  });

  it('offers --yes on every destructive command', () => {
    for (const { path, cmd } of commands.filter((c) => ['delete', 'rm', 'force-release', 'deprovision'].includes(c.cmd.name())))
      expect([path, cmd.options.some((o) => o.long === '--yes')]).toEqual([path, true]);
  });
});
