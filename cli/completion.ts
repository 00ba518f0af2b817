// Shell completion. The scripts for bash, zsh and fish are thin: each asks `hangar __complete` for
// the candidates of the word being typed, so the command tree (and every command others add) is
// always current, and resource names come from the API (one page, short timeout) where an argument
// or option names a machine, network, pool, template, key, host, cluster or account.
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import type { ApiClient } from './api-client.ts';
import { oneOf } from './flags.ts';
import { OUTPUT_FORMATS } from './output.ts';

export const SHELLS = ['bash', 'zsh', 'fish'] as const;
const LAUNCHER = fileURLToPath(new URL('./hangar', import.meta.url));

/** Where names come from: the list endpoint and the field to offer. */
const SOURCES: Record<string, { path: string; field: string }> = {
  machine: { path: '/api/v1/machines', field: 'name' },
  network: { path: '/api/v1/networks', field: 'name' },
  pool: { path: '/api/v1/pools', field: 'name' },
  template: { path: '/api/v1/templates', field: 'name' },
  key: { path: '/api/v1/ssh-keys', field: 'name' },
  host: { path: '/api/v1/hosts', field: 'name' },
  cluster: { path: '/api/v1/clusters', field: 'name' },
  account: { path: '/api/v1/accounts', field: 'key' },
  schedule: { path: '/api/v1/schedules', field: 'target' },
  operation: { path: '/api/v1/operations', field: 'id' },
};

/** The resource a command group's <id-or-name> argument refers to. */
const GROUP_RESOURCE: Record<string, string> = {
  machines: 'machine',
  networks: 'network',
  leases: 'network',
  disks: 'machine',
  pools: 'pool',
  templates: 'template',
  keys: 'key',
  hosts: 'host',
  clusters: 'cluster',
  accounts: 'account',
  schedules: 'schedule',
  ops: 'operation',
};

/** Options whose value names a resource. */
const OPTION_RESOURCE: Record<string, string> = {
  '--network': 'network',
  '--template': 'template',
  '--ssh-key': 'key',
  '--pool': 'pool',
  '--parent': 'pool',
  '--account': 'account',
  '--machine': 'machine',
  '--host': 'host',
  '--control-plane': 'machine',
  '--worker': 'machine',
};

const FIXED_VALUES: Record<string, readonly string[]> = {
  '-o': OUTPUT_FORMATS,
  '--output': OUTPUT_FORMATS,
  '--provider': ['dryrun', 'qemu', 'proxmox', 'redfish', 'aws', 'gcp'],
};

const find = (cmd: Command, word: string) => cmd.commands.find((c) => c.name() === word || c.aliases().includes(word));
const takesValue = (cmd: Command, flag: string) => {
  for (let c: Command | null = cmd; c; c = c.parent) {
    const o = c.options.find((x) => x.long === flag || x.short === flag);
    if (o) return o.required || o.optional;
  }
  return false;
};

async function names(api: () => ApiClient, resource: string): Promise<string[]> {
  const src = SOURCES[resource];
  if (!src) return [];
  try {
    const { body } = await api().get<{ items: Record<string, unknown>[] }>(`${src.path}${src.path.endsWith('schedules') ? '' : '?page_size=100'}`);
    return body.items.map((i) => i[src.field]).filter((v): v is string => typeof v === 'string');
  } catch {
    return [];
  }
}

/** The candidates for the last of `words` (the words after `hangar`; the last may be empty). */
export async function complete(program: Command, words: string[], api: () => ApiClient): Promise<string[]> {
  const current = words.at(-1) ?? '';
  let cmd = program;
  let group = '';
  let positional = 0;
  let previous = '';
  for (const w of words.slice(0, -1)) {
    if (previous && takesValue(cmd, previous)) {
      previous = '';
      continue;
    }
    previous = w.startsWith('-') && !w.includes('=') ? w : '';
    if (w.startsWith('-')) continue;
    const sub = find(cmd, w);
    if (sub) {
      if (cmd === program) group = sub.name();
      cmd = sub;
      positional = 0;
    } else positional++;
  }
  let out: string[];
  if (previous && takesValue(cmd, previous)) {
    out = FIXED_VALUES[previous] ? [...FIXED_VALUES[previous]!] : OPTION_RESOURCE[previous] ? await names(api, OPTION_RESOURCE[previous]!) : [];
  } else if (current.startsWith('-')) {
    const flags = new Set<string>(['--help']);
    for (let c: Command | null = cmd; c; c = c.parent) for (const o of c.options) if (o.long) flags.add(o.long);
    out = [...flags];
  } else if (cmd.commands.length) {
    out = cmd.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden).map((c) => c.name());
  } else {
    const arg = cmd.registeredArguments[positional];
    const resource = arg
      ? /machine/.test(arg.name())
        ? 'machine'
        : /network/.test(arg.name())
          ? 'network'
          : /cluster/.test(arg.name())
            ? 'cluster'
            : /pool/.test(arg.name())
              ? 'pool'
              : GROUP_RESOURCE[group]
      : undefined;
    out = resource ? await names(api, resource) : [];
  }
  return out.filter((c) => c.startsWith(current));
}

export function completionScript(shell: (typeof SHELLS)[number]): string {
  const bin = LAUNCHER.replace(/'/g, `'\\''`);
  switch (shell) {
    case 'bash':
      return `# hangar completion for bash. Load it with:  source <(hangar completion bash)
_hangar_complete() {
  local IFS=$'\\n'
  COMPREPLY=( $(compgen -W "$('${bin}' __complete -- "\${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null)" -- "\${COMP_WORDS[COMP_CWORD]}") )
}
complete -o default -F _hangar_complete hangar
`;
    case 'zsh':
      return `#compdef hangar
# hangar completion for zsh. Load it with:  source <(hangar completion zsh)   (after compinit)
_hangar() {
  local -a candidates
  candidates=("\${(@f)$('${bin}' __complete -- "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  compadd -a candidates
}
if (( $+functions[compdef] )); then
  compdef _hangar hangar
else
  print -u2 "hangar completion: run 'autoload -Uz compinit && compinit' first"
fi
`;
    case 'fish':
      return `# hangar completion for fish. Load it with:  hangar completion fish | source
complete -c hangar -f -a "('${bin}' __complete -- (commandline -opc)[2..-1] (commandline -ct))"
`;
  }
}

export function registerCompletionCommands(program: Command, api: () => ApiClient): void {
  program
    .command('completion')
    .description('print a shell completion script (commands, options and resource names from the API)')
    .argument('<shell>', SHELLS.join(', '))
    .action((shell: string) => {
      process.stdout.write(completionScript(oneOf('<shell>', shell, SHELLS)));
    });
  program
    .command('__complete', { hidden: true })
    .description('the candidates for the last word (used by the completion scripts)')
    .argument('[words...]')
    .allowUnknownOption()
    .helpOption(false)
    .action(async (words: string[] = []) => {
      const out = await complete(program, words, api);
      if (out.length) process.stdout.write(`${out.join('\n')}\n`);
    });
}
