// The README's main job, run verbatim: the marked block of `hangar` commands in README.md is
// executed by bash, line by line as a user would paste it, with `hangar` on the PATH the way
// `make install-cli` puts it there, in a fresh data folder. What `make up` prepares first (the
// `debian-12` template and the `demo-key` SSH key) is prepared here on the dry-run provider, so the
// commands run without booting a real VM (the QEMU boot itself is test/e2e/qemu-provision.test.ts).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ROOT } from '../support/services.ts';
import { useCliSuite } from '../support/hangar-cli.ts';

const folder = mkdtempSync(join(tmpdir(), 'hangar-readme-'));
const cli = useCliSuite({ beforeAll, afterAll }, { worker: true, config: { HANGAR_DATA_DIR: join(folder, 'data') } });

/** The commands between the readme-main-job markers. */
function mainJob(): string {
  const readme = readFileSync(resolve(ROOT, 'README.md'), 'utf8');
  const block = /<!-- readme-main-job[^>]*-->\s*```sh\n([\s\S]*?)```\s*<!-- \/readme-main-job -->/.exec(readme);
  if (!block) throw new Error('README.md has no readme-main-job block');
  return block[1]!;
}

beforeAll(async () => {
  // `make install-cli`, into a folder of this test instead of ~/.local/bin.
  execFileSync('bash', [resolve(ROOT, 'scripts/install-cli.sh')], { env: { ...process.env, HANGAR_BIN_DIR: join(folder, 'bin') }, stdio: 'pipe' });
  // What `make up` prepares before the main job: the template and the demo key.
  const template = await cli.run(['templates', 'get', 'debian-12', '--json']);
  if (template.code !== 0)
    await cli.ok(['templates', 'create', '--name', 'debian-12', '--provider', 'dryrun', '--image', '/var/lib/images/debian-12.qcow2', '--wait']);
  else expect(JSON.parse(template.stdout).provider).toBe('dryrun');
  const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl demo@readme';
  if ((await cli.run(['keys', 'get', 'demo-key'])).code !== 0) await cli.ok(['keys', 'add', '--name', 'demo-key', '--public-key', key]);
  // A run stopped half-way must not make the next one fail on "already exists".
  if ((await cli.run(['machines', 'get', 'vm-2'])).code === 0) await cli.ok(['machines', 'delete', 'vm-2', '--wait', '--yes']);
}, 120_000);

afterAll(() => rmSync(folder, { recursive: true, force: true }));

describe('README main job', () => {
  it('uses the one name, hangar, on every line', () => {
    const lines = mainJob()
      .split('\n')
      .filter((l) => l.trim());
    expect(lines.length).toBeGreaterThanOrEqual(5);
    for (const line of lines) expect(line).toMatch(/^hangar /);
    expect(readFileSync(resolve(ROOT, 'README.md'), 'utf8')).not.toMatch(/^cli\/hangar /m);
  });

  it('links hangar onto the PATH like make install-cli', () => {
    const link = join(folder, 'bin', 'hangar');
    expect(existsSync(link)).toBe(true);
    expect(readlinkSync(link)).toBe(resolve(ROOT, 'cli/hangar'));
  });

  it('runs verbatim in a fresh data folder', async () => {
    const script = `set -euo pipefail\n${mainJob()}`;
    const result = await new Promise<{ code: number; stdout: string; stderr: string }>((done) =>
      execFile(
        'bash',
        ['-c', script],
        {
          cwd: folder,
          timeout: 240_000,
          env: {
            PATH: `${join(folder, 'bin')}:${process.env.PATH ?? ''}`,
            HOME: process.env.HOME ?? '',
            HANGAR_API_URL: cli.api.url,
            HANGAR_TOKEN: cli.token,
            HANGAR_DATA_DIR: join(folder, 'data'),
            HANGAR_LOG_LEVEL: 'silent',
          },
        },
        (err, stdout, stderr) => done({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
      ),
    );
    if (result.code !== 0) throw new Error(`the README's main job failed (exit ${result.code}):\n${result.stderr}\n${result.stdout}`);
    expect(result.stdout).toMatch(/^machine vm-2 \([0-9a-f-]{36}\) accepted/m);
    expect(result.stdout).toContain('reach it:');
    expect(result.stdout).toMatch(/^dry run: provisionVm .* nothing was changed$/m);
    expect(result.stdout).toMatch(/^STATUS\s+TYPE\s+RESOURCE\s+STARTED\s+DURATION\s+ID$/m);
    expect(result.stdout).toMatch(/^delete-record: completed in /m);
    expect(await cli.fails(1, ['machines', 'get', 'vm-2'])).toContain('not_found');
    expect(await cli.fails(1, ['machines', 'get', 'vm-3'])).toContain('not_found');
  }, 300_000);
});
