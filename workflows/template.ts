import { ApplicationFailure, CancellationScope, setHandler } from '@temporalio/workflow';
import type { ProviderName, TemplateInput } from '../domain/machine.ts';
import { compensationActs, inventoryActs, inventoryCompensationActs, machineActs, templateActs } from './activity-options.ts';
import { CompensationStack } from './support/compensation.ts';
import { ProgressTracker, describeFailure, progressQuery } from './support/progress.ts';

/**
 * createTemplate: import the image (verify checksum → upload or download → create the VM with the
 * disk and a cloud-init drive → convert to template, inside the provider) → mark ready. A failure
 * deletes the partial template and marks the record failed.
 */
export async function createTemplate(input: TemplateInput): Promise<{ providerRef: string }> {
  const progress = new ProgressTracker('createTemplate', input.templateId, ['mark-creating', 'import', 'mark-ready']);
  setHandler(progressQuery, () => progress.snapshot());
  const undo = new CompensationStack();
  try {
    await progress.run('mark-creating', () => inventoryActs.setTemplateState(input.templateId, 'creating'));
    undo.push('delete-template', () => compensationActs.deleteTemplate(input.provider, input.templateId));
    const ref = await progress.run('import', () => templateActs.importTemplate(input));
    await progress.run('mark-ready', () => inventoryActs.setTemplateState(input.templateId, 'ready', { providerRef: ref.ref, lastError: null }));
    progress.setState('completed');
    return { providerRef: ref.ref };
  } catch (err) {
    const cause = describeFailure(err);
    progress.setState('compensating', cause);
    await undo.unwind(progress);
    await CancellationScope.nonCancellable(() => inventoryCompensationActs.setTemplateState(input.templateId, 'failed', { lastError: cause.message })).catch(() => undefined);
    progress.setState('failed', cause);
    throw ApplicationFailure.create({ type: cause.code, message: `creating template ${input.name} failed: ${cause.message}`, nonRetryable: true });
  }
}

/** deleteTemplate: delete it at the provider → delete the record. The API refuses while machines use it. */
export async function deleteTemplate(input: { templateId: string; provider: ProviderName }): Promise<void> {
  const progress = new ProgressTracker('deleteTemplate', input.templateId, ['mark-deleting', 'delete', 'delete-record']);
  setHandler(progressQuery, () => progress.snapshot());
  try {
    await progress.run('mark-deleting', () => inventoryActs.setTemplateState(input.templateId, 'deleting'));
    await progress.run('delete', () => machineActs.deleteTemplate(input.provider, input.templateId));
    await progress.run('delete-record', () => inventoryActs.deleteTemplateRecord(input.templateId));
    progress.setState('completed');
  } catch (err) {
    const cause = describeFailure(err);
    progress.setState('failed', cause);
    await CancellationScope.nonCancellable(() => inventoryCompensationActs.setTemplateState(input.templateId, 'failed', { lastError: cause.message })).catch(() => undefined);
    throw ApplicationFailure.create({ type: cause.code, message: `deleting template failed: ${cause.message}`, nonRetryable: true });
  }
}
