// The CLI's conventions end to end, through the real API and worker: --json is exactly the API's
// body, --all pages, destructive commands refuse without a terminal and without --yes, every exit
// code, shell completion that loads and completes resource names, `hangar status` naming why QEMU
// runs under the accelerator it chose, and `machines get` saying how to reach a VM.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile, execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { http } from '../support/harness.ts';
import { ROOT } from '../support/services.ts';
import { tableLine, tableRows, useCliSuite } from '../support/hangar-cli.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'hangar-cli-conv-'));
const cli = useCliSuite(
  { beforeAll, afterAll },
  // A blank disk never answers ACPI: a short graceful-shutdown wait keeps the delete quick.
  { worker: true, config: { HANGAR_PROVIDERS: 'dryrun,qemu', HANGAR_DATA_DIR: dataDir, HANGAR_SHUTDOWN_TIMEOUT_SEC: '5' } },
);
const { run, ok, json, fails } = cli;
const sfx = Date.now().toString(36);
const env = () => ({
  HANGAR_API_URL: cli.api.url,
  HANGAR_TOKEN: cli.token,
  HANGAR_LOG_LEVEL: 'silent',
  PATH: process.env.PATH ?? '',
  HOME: process.env.HOME ?? '',
});
const api = (path: string) => http(cli.api.url, 'GET', path, { token: cli.token });

afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

/** Runs a shell with the given script (bash or zsh) and the suite's environment. */
function shell(bin: string, args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = execFile(bin, args, { env: env(), timeout: 60_000 }, (err, stdout, stderr) =>
      done({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

describe('lists', () => {
  const nets = [1, 2, 3].map((i) => `conv-${sfx}-${i}`);
  beforeAll(async () => {
    for (const [i, name] of nets.entries()) await ok(['networks', 'create', '--name', name, '--cidr', `10.${90 + i}.0.0/24`]);
  }, 60_000);

  it('print exactly the API body with --json, -o json and -o yaml', async () => {
    const [cliPage, apiPage, yamlPage, oJson] = await Promise.all([
      json(['networks', 'list', '--page-size', '2']),
      api('/api/v1/networks?page_size=2'),
      ok(['networks', 'list', '--page-size', '2', '-o', 'yaml']),
      ok(['-o', 'json', 'networks', 'get', nets[0]!]),
    ]);
    expect(apiPage.status).toBe(200);
    expect(cliPage).toEqual(apiPage.body);
    expect(cliPage.next_cursor).toEqual(expect.any(String));
    expect(parseYaml(yamlPage.stdout)).toEqual(apiPage.body);
    const id = JSON.parse(oJson.stdout).id as string;
    expect(JSON.parse(oJson.stdout)).toEqual((await api(`/api/v1/networks/${id}`)).body);
  });

  it('page with --all and say how to get more without it', async () => {
    const all = await json<{ items: { name: string }[]; next_cursor: string | null }>(['networks', 'list', '--all', '--page-size', '1']);
    expect(all.next_cursor).toBeNull();
    expect(all.items.map((n) => n.name)).toEqual(expect.arrayContaining(nets));
    const one = await run(['networks', 'list', '--page-size', '1']);
    expect(one.code).toBe(0);
    expect(tableRows(one.stdout)).toHaveLength(1);
    expect(one.stderr).toMatch(/more results: repeat with --all, or --cursor \S+ for the next page/);
  });

  it('show more columns with -o wide and times absolute and relative', async () => {
    const [plain, wide] = await Promise.all([ok(['networks', 'list', '--all']), ok(['networks', 'list', '--all', '-o', 'wide'])]);
    expect(tableLine(plain.stdout)).not.toContain('CREATED_AT');
    expect(tableLine(wide.stdout)).toMatch(/^NAME\s+ID\s+CIDR\s+GATEWAY\s+VLAN\s+BRIDGE\s+DNS_SERVERS\s+.*CREATED_AT/);
    expect(wide.stdout).toMatch(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ \((just now|\d+(\.\d)? s ago|\d+ min( \d+ s)? ago)\)/);
  });

  it('list operations with status, type, resource, start and duration', async () => {
    const name = `ops-${sfx}`;
    await ok(['machines', 'create', '--name', name, '--wait']);
    const id = (await json(['machines', 'get', name])).id as string;
    const out = await ok(['ops', 'list', '--resource', id]);
    expect(tableLine(out.stdout)).toMatch(/^STATUS\s+TYPE\s+RESOURCE\s+STARTED\s+DURATION\s+ID$/);
    expect(tableRows(out.stdout)[0]).toMatch(new RegExp(`^completed\\s+provision\\s+machine/${id}\\s+\\d{4}-.*ago\\)\\s+\\d+(\\.\\d)? s\\s+[0-9a-f-]{36}$`));
    const page = await json(['ops', 'list', '--resource', id]);
    expect(page).toEqual({ items: [expect.objectContaining({ kind: 'provision', status: 'completed', started_at: expect.any(String) })], next_cursor: null });
  }, 60_000);
});

describe('destructive commands', () => {
  it('refuse without a terminal and without --yes, and go ahead with --yes', async () => {
    const name = `doomed-${sfx}`;
    await ok(['networks', 'create', '--name', name, '--cidr', '10.99.0.0/24']);
    const refused = await run(['networks', 'rm', name]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`hangar networks rm ${name}: refusing without --yes (stdin is not a terminal to confirm on)`);
    expect((await json(['networks', 'get', name])).name).toBe(name);
    expect((await ok(['networks', 'rm', name, '--yes'])).stdout).toContain(`removed network ${name}`);
    expect(await fails(1, ['networks', 'get', name])).toContain('not_found');
  });

  it('ask on a terminal: "n" keeps the resource, "y" removes it', async () => {
    const name = `asked-${sfx}`;
    await ok(['networks', 'create', '--name', name, '--cidr', '10.98.0.0/24']);
    const hangar = resolve(ROOT, 'cli/hangar');
    // `script` gives the command a terminal; its answer comes from our stdin.
    const no = await shell('script', ['-qec', `${hangar} networks rm ${name}`, '/dev/null'], 'n\n');
    expect(no.stdout).toContain(`hangar networks rm ${name}: this cannot be undone. Go ahead? [y/N]`);
    expect(no.stdout).toContain('not confirmed; nothing was changed');
    expect((await json(['networks', 'get', name])).name).toBe(name);
    const yes = await shell('script', ['-qec', `${hangar} networks rm ${name}`, '/dev/null'], 'y\n');
    expect(yes.stdout).toContain(`removed network ${name}`);
    expect(await fails(1, ['networks', 'get', name])).toContain('not_found');
  });
});

describe('exit codes', () => {
  let server: Server;
  let brokenUrl = '';
  beforeAll(async () => {
    // An API that fails on its side: every request answers 500 with the error envelope.
    server = createServer((_req, res) => res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"internal","detail":"boom"}'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const addr = server.address();
    brokenUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('0 ok, 1 refused (4xx), 2 usage, 3 unreachable or 5xx (4, a failed operation: below)', async () => {
    const [okRun, notFound, unknownFlag, badValue, unreachable, serverError] = await Promise.all([
      run(['networks', 'list']),
      run(['machines', 'get', `ghost-${sfx}`]),
      run(['machines', 'list', '--colour']),
      run(['machines', 'list', '-o', 'xml']),
      run(['machines', 'list'], { HANGAR_API_URL: 'http://127.0.0.1:1' }),
      run(['machines', 'list'], { HANGAR_API_URL: brokenUrl }),
    ]);
    expect([okRun.code, notFound.code, unknownFlag.code, badValue.code, unreachable.code, serverError.code]).toEqual([0, 1, 2, 2, 3, 3]);
    expect(notFound.stderr).toContain('error: not_found');
    expect(unknownFlag.stderr).toContain("unknown option '--colour'");
    expect(badValue.stderr).toContain('-o/--output must be one of table, wide, json, yaml, got "xml"');
    expect(unreachable.stderr).toContain('cannot reach the Hangar API');
    expect(serverError.stderr).toContain('error: internal: boom');
  }, 120_000);
});

describe('help and completion', () => {
  it('shows a description and an example in --help', async () => {
    const help = await ok(['machines', 'get', '--help']);
    expect(help.stdout).toContain('show a machine, how to reach it (ssh command, addresses) and its open conditions');
    expect(help.stdout).toContain('Example:\n  $ hangar machines get demo-qemu');
  });

  it('prints bash and zsh scripts that load, and completes machine names in bash', async () => {
    const name = `compl-${sfx}`;
    await ok(['machines', 'create', '--name', name]);
    const [bash, zsh, fish, bad] = await Promise.all([
      ok(['completion', 'bash']),
      ok(['completion', 'zsh']),
      ok(['completion', 'fish']),
      run(['completion', 'tcsh']),
    ]);
    expect(bad.code).toBe(2);
    expect(fish.stdout).toContain('complete -c hangar');
    const dir = mkdtempSync(join(tmpdir(), 'hangar-compl-'));
    try {
      writeFileSync(join(dir, 'hangar.bash'), bash.stdout);
      writeFileSync(join(dir, 'hangar.zsh'), zsh.stdout);
      expect(await shell('bash', ['-n', join(dir, 'hangar.bash')])).toMatchObject({ code: 0, stderr: '' });
      expect(await shell('zsh', ['-n', join(dir, 'hangar.zsh')])).toMatchObject({ code: 0, stderr: '' });
      // What bash does on TAB after `hangar machines get compl-`: COMP_WORDS/COMP_CWORD, then the function.
      const tab = (words: string[]) =>
        shell('bash', [
          '-c',
          `source ${join(dir, 'hangar.bash')}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')}); COMP_CWORD=${words.length - 1}; _hangar_complete; printf '%s\\n' "\${COMPREPLY[@]}"`,
        ]);
      const [names, groups, formats] = await Promise.all([
        tab(['hangar', 'machines', 'get', 'compl-']),
        tab(['hangar', 'net']),
        tab(['hangar', 'machines', 'list', '-o', '']),
      ]);
      expect(names.stdout.split('\n')).toContain(name);
      expect(groups.stdout.trim()).toBe('networks');
      expect(formats.stdout.trim().split('\n')).toEqual(['table', 'wide', 'json', 'yaml']);
      // zsh loads it into a completion system and registers the function for hangar.
      const zshLoad = await shell('zsh', [
        '-fc',
        `autoload -Uz compinit && compinit -u -d ${join(dir, 'zcompdump')}; source ${join(dir, 'hangar.zsh')}; print -r -- $_comps[hangar]`,
      ]);
      expect(zshLoad.stdout.trim()).toBe('_hangar');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('a QEMU VM', () => {
  it(
    'is planned in QEMU terms, shows how to reach it, and `hangar status` names why it runs under its accelerator',
    async () => {
      const image = join(dataDir, 'blank.qcow2');
      execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', image, '64M']);
      const tpl = `blank-${sfx}`;
      await ok(['templates', 'create', '--name', tpl, '--provider', 'qemu', '--image', image, '--wait']);
      const vm = `reach-${sfx}`;
      const plan = await json(['machines', 'create', '--name', vm, '--template', tpl, '--dry-run']);
      const create = plan.calls.find((c: { step: string }) => c.step === 'create');
      expect(create.call).toBe('qemu.clone');
      expect(create.args).not.toHaveProperty('vmid');
      expect(create.args.disk).toContain('qcow2 overlay');

      // A blank disk boots nothing: no phone home to wait for.
      await ok(['machines', 'create', '--name', vm, '--template', tpl, '--memory-mb', '128', '--disk-gb', '1', '--no-wait-phone-home', '--wait']);
      const machine = await json(['machines', 'get', vm]);
      expect(machine.provider).toBe('qemu');
      expect(machine.access).toMatchObject({ ssh_host: '127.0.0.1', ssh_port: expect.any(Number), accel: expect.stringMatching(/^(kvm|tcg)$/) });
      const reason = machine.access.accel_reason as string;
      expect(reason.length).toBeGreaterThan(3);

      const get = await ok(['machines', 'get', vm]);
      expect(get.stdout).toContain(`ssh -p ${machine.access.ssh_port} hangar@127.0.0.1`);
      expect(get.stdout).toContain(`runs under ${machine.access.accel.toUpperCase()} (${reason})`);
      expect(get.stdout).toMatch(/open conditions: none|open conditions:\n/);

      const status = await ok(['status']);
      expect(status.stdout).toContain('QEMU acceleration');
      expect(status.stdout).toContain(`${machine.access.accel.toUpperCase()}`);
      expect(status.stdout).toContain(reason);
      expect(status.stdout).toMatch(/postgres\s+ok/);
      expect(status.stdout).toMatch(/temporal\s+ok/);
      const statusJson = await json(['status']);
      expect(statusJson).toEqual((await api('/api/v1/status')).body);
      expect(statusJson.acceleration).toMatchObject({ accel: machine.access.accel, reason, machine: vm });

      const version = await ok(['version']);
      expect(version.stdout).toMatch(/^hangar \(this command\)\s+\d+\.\d+\.\d+/m);
      expect(version.stdout).toContain(`Hangar API             ${statusJson.version}  at ${cli.api.url}`);
      expect(version.stdout).toMatch(/^Temporal server\s+\S+/m);

      // The blank VM ignores ACPI: the stop step says what it waits for and that it will force it.
      const del = await ok(['machines', 'delete', vm, '--wait', '--yes']);
      expect(del.stdout).toContain('stop: running — waiting up to 5 s for a graceful shutdown (ACPI), then forcing it');
      expect(del.stdout).toMatch(/^stop: completed in \d+(\.\d)? s$/m);

      // Exit code 4: the operation ends without success. This VM waits for a phone home that never
      // comes; cancelling its workflow compensates (the VM is removed) and the watcher exits 4.
      const waiting = await json(['machines', 'create', '--name', `never-${sfx}`, '--template', tpl, '--memory-mb', '128', '--disk-gb', '1']);
      const watcher = run(['ops', 'watch', waiting.operation.id]);
      await cli.api.temporal.workflow.getHandle(waiting.operation.workflow_id).cancel();
      const watched = await watcher;
      expect(watched.code).toBe(4);
      expect(watched.stderr).toMatch(new RegExp(`operation ${waiting.operation.id} (cancelled|failed)`));
      await ok(['machines', 'delete', `never-${sfx}`, '--wait', '--yes']);
      await ok(['templates', 'rm', tpl, '--wait', '--yes']);
    },
    10 * 60_000,
  );
});
