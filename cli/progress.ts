// `--wait` and `ops watch`: each step with its elapsed time and an estimate from the median time the
// same step took in recent operations of the same kind; a spinner where there is no estimate; what
// a long step waits for (cli/step-hints.ts). On a terminal the step list is redrawn in place; when
// stdout is not a terminal each change is one plain line, so logs and pipes stay readable.
import type { Progress, ProgressStep } from '../domain/progress.ts';
import { CliError, type ApiClient } from './api-client.ts';
import { EXIT } from './exit-codes.ts';
import { print } from './output.ts';
import { hintNeedsSettings, stepHint, type HintSettings } from './step-hints.ts';
import { duration } from './time.ts';

export interface OperationJson {
  id: string;
  kind: string;
  status: string;
  progress: Progress | null;
  error: { code: string; message: string } | null;
  links: { history: string };
}

const ICON: Record<string, string> = {
  pending: '[ ]',
  running: '[>]',
  completed: '[x]',
  failed: '[!]',
  compensated: '[~]',
  skipped: '[-]',
};
const SPINNER = ['|', '/', '-', '\\'];

const stepMs = (s: ProgressStep, now: number) => (s.startedAt ? (s.finishedAt ? Date.parse(s.finishedAt) : now) - Date.parse(s.startedAt) : null);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Median duration per step name over completed operations of this kind (at most `sample` of them). */
export async function stepEstimates(api: ApiClient, kind: string, exceptId: string, sample = 5): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  try {
    const { body } = await api.get<{ items: { id: string; status?: string }[] }>(`/api/v1/operations?kind=${encodeURIComponent(kind)}&page_size=20`);
    const done = body.items.filter((o) => o.id !== exceptId && o.status === 'completed').slice(0, sample);
    const details = await Promise.all(
      done.map((o) =>
        api.get<OperationJson>(`/api/v1/operations/${o.id}`).then(
          (r) => r.body,
          () => null,
        ),
      ),
    );
    const samples = new Map<string, number[]>();
    for (const d of details)
      for (const s of d?.progress?.steps ?? []) {
        const ms = s.status === 'completed' && s.finishedAt ? stepMs(s, 0) : null;
        if (ms !== null && ms >= 0) samples.set(s.name, [...(samples.get(s.name) ?? []), ms]);
      }
    for (const [name, list] of samples) out.set(name, median(list));
  } catch {
    // no estimate is not an error: the spinner shows instead
  }
  return out;
}

export interface RenderContext {
  estimates: Map<string, number>;
  settings: HintSettings | null;
  now: number;
  tick: number;
}

/** The timing of one step: "3.1 s", or while running "12 s of ~40 s" / "12 s |" (no estimate). */
function timing(s: ProgressStep, ctx: RenderContext): string {
  const ms = stepMs(s, ctx.now);
  if (ms === null) return '';
  if (s.status !== 'running') return duration(ms);
  const est = ctx.estimates.get(s.name);
  if (est === undefined) return `${duration(ms)} ${SPINNER[ctx.tick % SPINNER.length]}`;
  const left = est - ms;
  return left > 0 ? `${duration(ms)}, about ${duration(left)} left (usually ${duration(est)})` : `${duration(ms)}, longer than usual (${duration(est)})`;
}

export function renderProgress(
  status: string,
  progress: Progress | null,
  ctx: RenderContext = { estimates: new Map(), settings: null, now: Date.now(), tick: 0 },
  width = 30,
): string[] {
  if (!progress) return [`status: ${status} (progress unavailable: no worker is answering queries)`];
  const main = progress.steps.filter((s) => !s.name.startsWith('undo:'));
  const done = main.filter((s) => s.status === 'completed' || s.status === 'skipped').length;
  const filled = main.length ? Math.round((done / main.length) * width) : width;
  const elapsed = duration((progress.state === 'running' ? ctx.now : Date.parse(progress.updatedAt)) - Date.parse(progress.startedAt));
  const lines = [
    `${progress.workflow} ${progress.resourceId}  [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${main.length}  ${status}  ${elapsed}`,
  ];
  for (const step of progress.steps) {
    const t = timing(step, ctx);
    lines.push(`  ${ICON[step.status] ?? '[?]'} ${step.name}${t ? `  ${t}` : ''}${step.error ? `  — ${step.error}` : ''}`);
    const hint = step.status === 'running' ? stepHint(step.name, ctx.settings) : null;
    if (hint) lines.push(`      ${hint}`);
  }
  if (progress.error) lines.push(`  error: ${progress.error.code}: ${progress.error.message}`);
  return lines;
}

/** One plain line per step change (no terminal): "start: completed in 3.1 s". */
function plainLines(prev: Map<string, string>, progress: Progress | null, ctx: RenderContext): string[] {
  const out: string[] = [];
  for (const s of progress?.steps ?? []) {
    if (prev.get(s.name) === s.status) continue;
    prev.set(s.name, s.status);
    if (s.status === 'pending') continue;
    const ms = stepMs(s, ctx.now);
    const est = ctx.estimates.get(s.name);
    if (s.status === 'running') {
      const hint = stepHint(s.name, ctx.settings);
      out.push(`${s.name}: running${est !== undefined ? ` (usually ${duration(est)})` : ''}${hint ? ` — ${hint}` : ''}`);
    } else out.push(`${s.name}: ${s.status}${ms !== null ? ` in ${duration(ms)}` : ''}${s.error ? ` — ${s.error}` : ''}`);
  }
  return out;
}

/** The last plain line: "provisionVm <resource>  5/5  completed in 3.2 s  (operation <id>)". */
function summaryLine(id: string, op: OperationJson): string {
  const p = op.progress;
  if (!p) return `operation ${id} ${op.status}`;
  const main = p.steps.filter((s) => !s.name.startsWith('undo:'));
  const done = main.filter((s) => s.status === 'completed' || s.status === 'skipped').length;
  return `${p.workflow} ${p.resourceId}  ${done}/${main.length}  ${op.status} in ${duration(Date.parse(p.updatedAt) - Date.parse(p.startedAt))}  (operation ${id})`;
}

export interface WatchOptions {
  json?: boolean;
  intervalMs?: number;
  timeoutMs?: number;
}

/** Polls the operation until it ends (first poll at once); a failed, cancelled or timed-out one exits 4. */
export async function watchOperation(api: ApiClient, id: string, opts: WatchOptions = {}): Promise<void> {
  const interval = opts.intervalMs ?? 500;
  const deadline = Date.now() + (opts.timeoutMs ?? 60 * 60_000);
  const tty = !!process.stdout.isTTY && !opts.json;
  const path = `/api/v1/operations/${encodeURIComponent(id)}`;
  const ctx: RenderContext = { estimates: new Map(), settings: null, now: Date.now(), tick: 0 };
  let estimated = false;
  let settingsAsked = false;
  const seen = new Map<string, string>();
  let drawn = 0;
  let body: OperationJson | null = null;
  let nextPoll = 0;
  for (;;) {
    if (Date.now() >= nextPoll) {
      body = (await api.get<OperationJson>(path)).body;
      nextPoll = Date.now() + interval;
      if (!estimated && !opts.json) {
        estimated = true;
        ctx.estimates = await stepEstimates(api, body.kind, id);
      }
      const running = body.progress?.steps.find((s) => s.status === 'running');
      if (!settingsAsked && !opts.json && running && hintNeedsSettings(running.name)) {
        settingsAsked = true;
        ctx.settings = await api.get<{ settings: HintSettings }>('/api/v1/status').then(
          (r) => r.body.settings,
          () => null,
        );
      }
    }
    ctx.now = Date.now();
    ctx.tick++;
    const op = body!;
    if (tty) {
      const lines = renderProgress(op.status, op.progress, ctx);
      process.stdout.write(`${drawn ? `\x1b[${drawn}A\x1b[J` : ''}${lines.join('\n')}\n`);
      drawn = lines.length;
    } else if (!opts.json) {
      for (const line of plainLines(seen, op.progress, ctx)) process.stdout.write(`${line}\n`);
    }
    if (op.status !== 'running') {
      if (opts.json) print(op);
      else if (!tty) process.stdout.write(`${summaryLine(id, op)}\n`);
      if (op.status !== 'completed') {
        throw new CliError(`operation ${id} ${op.status}${op.error ? `: ${op.error.code}: ${op.error.message}` : ''}`, EXIT.operationFailed);
      }
      return;
    }
    if (Date.now() > deadline) throw new CliError(`gave up watching operation ${id}: still running (hangar ops watch ${id} to go on)`, EXIT.operationFailed);
    // A terminal is redrawn a few times a second (elapsed times, spinner); polls stay at `interval`.
    await new Promise((r) => setTimeout(r, tty ? Math.min(250, interval) : Math.max(0, nextPoll - Date.now())));
  }
}
