// Conventions applied to the whole command tree after every command is registered, so a command
// added anywhere gets them without code of its own:
//   - `-o table|wide|json|yaml` on the root; `--json` is the same as `-o json`;
//   - destructive commands (delete, rm, force-release, deprovision, ...) take `--yes` and ask for
//     confirmation on a terminal, and refuse (exit 2) without `--yes` when stdin is not one;
//   - descriptions and examples from cli/help-text.ts where the command has none of its own.
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { CliError } from './api-client.ts';
import { EXIT } from './exit-codes.ts';
import { DESCRIPTIONS, EXAMPLES, OPTION_DESCRIPTIONS } from './help-text.ts';
import { OUTPUT_FORMATS, setOutputFormat, type OutputFormat } from './output.ts';

/** Command names that change or remove something for good; each takes --yes. */
export const DESTRUCTIVE = new Set(['delete', 'rm', 'force-release', 'deprovision', 'detach', 'release', 'revoke']);

/** Every command below `root` (depth first), with its path without the program name: "machines delete". */
export function walk(root: Command): { path: string; cmd: Command }[] {
  const out: { path: string; cmd: Command }[] = [];
  const visit = (cmd: Command, prefix: string[]) => {
    for (const sub of cmd.commands) {
      if ((sub as unknown as { _hidden?: boolean })._hidden) continue;
      const path = [...prefix, sub.name()];
      out.push({ path: path.join(' '), cmd: sub });
      visit(sub, path);
    }
  };
  visit(root, []);
  return out;
}

export const pathOf = (cmd: Command): string => {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(' ');
};

const examplesOf = new WeakMap<Command, string[]>();
/** The examples shown under a command's help (and in docs/cli.md). */
export const examples = (cmd: Command): string[] => examplesOf.get(cmd) ?? [];

const hasOption = (cmd: Command, long: string) => cmd.options.some((o) => o.long === long);

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

/** Asks before a destructive command runs; without a terminal, --yes is required. */
async function confirmDestructive(cmd: Command): Promise<void> {
  const o = cmd.opts<{ yes?: boolean; dryRun?: boolean }>();
  if (o.yes || o.dryRun) return;
  const what = `hangar ${pathOf(cmd)}${cmd.args.length ? ` ${cmd.args.join(' ')}` : ''}`;
  if (!process.stdin.isTTY) throw new CliError(`${what}: refusing without --yes (stdin is not a terminal to confirm on)`, EXIT.usage);
  if (!(await confirm(`${what}: this cannot be undone. Go ahead?`))) throw new CliError('not confirmed; nothing was changed', EXIT.user);
}

export function applyConventions(program: Command): void {
  program.option('-o, --output <format>', `output format: ${OUTPUT_FORMATS.join(', ')}`, 'table');
  program.hook('preAction', async (_root, action) => {
    const wanted = program.opts<{ output: string }>().output;
    if (!(OUTPUT_FORMATS as readonly string[]).includes(wanted))
      throw new CliError(`-o/--output must be one of ${OUTPUT_FORMATS.join(', ')}, got "${wanted}"`, EXIT.usage);
    let format = wanted as OutputFormat;
    if (action.opts<{ json?: boolean }>().json) format = wanted === 'yaml' ? 'yaml' : 'json';
    else if ((format === 'json' || format === 'yaml') && hasOption(action, '--json')) action.setOptionValue('json', true);
    setOutputFormat(format);
    if (DESTRUCTIVE.has(action.name()) && hasOption(action, '--yes')) await confirmDestructive(action);
  });

  for (const { path, cmd } of walk(program)) {
    if (!cmd.description() && DESCRIPTIONS[path]) cmd.description(DESCRIPTIONS[path]!);
    for (const o of cmd.options) if (!o.description && o.long && OPTION_DESCRIPTIONS[o.long]) o.description = OPTION_DESCRIPTIONS[o.long]!;
    if (DESTRUCTIVE.has(cmd.name()) && !hasOption(cmd, '--yes')) cmd.option('-y, --yes', 'do not ask for confirmation (required when stdin is not a terminal)');
    const lines = EXAMPLES[path];
    if (lines?.length) {
      examplesOf.set(cmd, lines);
      cmd.addHelpText('after', `\nExample${lines.length > 1 ? 's' : ''}:\n${lines.map((l) => `  $ ${l}`).join('\n')}\n`);
    }
  }
}
