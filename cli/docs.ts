// docs/cli.md, generated from the command tree: every command with its description, usage,
// arguments, options and examples, plus the exit codes. test/unit/cli-docs.test.ts keeps the file
// equal to this output (regenerate: `cli/hangar docs > docs/cli.md`).
import type { Command, Option } from 'commander';
import { examples, walk } from './command-tree.ts';
import { EXIT_CODE_DOCS } from './exit-codes.ts';

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function optionRows(options: readonly Option[]): string[] {
  return options
    .filter((o) => !o.hidden)
    .map(
      (o) =>
        `| \`${cell(o.flags)}\` | ${cell(o.description)}${o.defaultValue !== undefined && o.defaultValue !== false ? ` (default: \`${cell(String(o.defaultValue))}\`)` : ''} |`,
    );
}

function section(path: string, cmd: Command): string[] {
  const lines = [`### hangar ${path}`, '', cmd.description() || '(no description)', ''];
  if (cmd.aliases().length)
    lines.push(
      `Alias${cmd.aliases().length > 1 ? 'es' : ''}: ${cmd
        .aliases()
        .map((a) => `\`${a}\``)
        .join(', ')}`,
      '',
    );
  if (cmd.commands.length) {
    lines.push(`Subcommands: ${cmd.commands.map((c) => `\`${c.name()}\``).join(', ')}`, '');
  } else {
    lines.push('```', `hangar ${path} ${cmd.usage()}`.trimEnd(), '```', '');
    const args = cmd.registeredArguments;
    if (args.length) {
      lines.push('| argument | description |', '|---|---|');
      for (const a of args) lines.push(`| \`${a.name()}\`${a.required ? '' : ' (optional)'} | ${cell(a.description || '')} |`);
      lines.push('');
    }
    const opts = optionRows(cmd.options);
    if (opts.length) lines.push('| option | description |', '|---|---|', ...opts, '');
  }
  const ex = examples(cmd);
  if (ex.length) lines.push('Example:', '', '```sh', ...ex, '```', '');
  return lines;
}

export function renderCliDocs(program: Command): string {
  const commands = walk(program);
  const top = commands.filter((c) => !c.path.includes(' '));
  const out = [
    '# `hangar` command reference',
    '',
    '<!-- Generated from the command tree by `cli/hangar docs > docs/cli.md`; test/unit/cli-docs.test.ts fails when it is out of date. Do not edit by hand. -->',
    '',
    program.description(),
    '',
    'Global options (before or after the command):',
    '',
    '| option | description |',
    '|---|---|',
    ...optionRows(program.options),
    '',
    'Every list takes `--all` (every page), `--page-size`, `--cursor`; `--json` (or `-o json|yaml`) prints exactly what the API answered, `{items, next_cursor}` for lists. Destructive commands ask for confirmation on a terminal and need `--yes` otherwise. `hangar completion bash|zsh|fish` prints a completion script.',
    '',
    '## Exit codes',
    '',
    '| code | meaning |',
    '|---|---|',
    ...EXIT_CODE_DOCS.map((e) => `| ${e.code} | ${cell(e.meaning)} |`),
    '',
    '## Commands',
    '',
    ...top.map((c) => `- [\`hangar ${c.path}\`](#hangar-${c.path.replace(/ /g, '-')}): ${cell(c.cmd.description())}`),
    '',
  ];
  for (const { path, cmd } of commands) out.push(...section(path, cmd));
  return `${out.join('\n').trimEnd()}\n`;
}
