import type { ProviderName, TemplateInput } from '../domain/machine.ts';
import { inventoryActs, inventoryCompensationActs, templateActs, vmActs, vmCompensationActs } from './activity-options.ts';
import { runOperation } from './support/operation.ts';

export const CREATE_TEMPLATE_STEPS = ['mark-creating', 'import', 'mark-ready'] as const;
export const DELETE_TEMPLATE_STEPS = ['mark-deleting', 'delete', 'delete-record'] as const;

/**
 * createTemplate: import the image (verify checksum → upload or download → create the VM with the
 * disk and a cloud-init drive → convert to template, inside the provider) → mark ready. A failure
 * deletes the partial template and marks the record failed.
 */
export async function createTemplate(input: TemplateInput): Promise<{ providerRef: string }> {
  const { templateId } = input;
  return runOperation(
    { workflow: 'createTemplate', resourceId: templateId, steps: CREATE_TEMPLATE_STEPS, failure: `creating template ${input.name} failed` },
    async (op) => {
      op.undo('mark-failed', ({ cause }) => inventoryCompensationActs.setTemplateState(templateId, 'failed', { lastError: cause.message }));
      await op.step('mark-creating', () => inventoryActs.setTemplateState(templateId, 'creating'));
      op.undo('delete-template', () => vmCompensationActs.deleteTemplate(input.provider, templateId));
      const ref = await op.step('import', () => templateActs.importTemplate(input));
      await op.step('mark-ready', () => inventoryActs.setTemplateState(templateId, 'ready', { providerRef: ref.ref, lastError: null }));
      return { providerRef: ref.ref };
    },
  );
}

/** deleteTemplate: delete it at the provider → delete the record. The API refuses while machines use it. */
export async function deleteTemplate(input: { templateId: string; provider: ProviderName }): Promise<void> {
  const { templateId } = input;
  return runOperation({ workflow: 'deleteTemplate', resourceId: templateId, steps: DELETE_TEMPLATE_STEPS, failure: 'deleting template failed' }, async (op) => {
    // The record stays, marked failed, so the delete can be requested again.
    op.undo('mark-failed', ({ cause }) => inventoryCompensationActs.setTemplateState(templateId, 'failed', { lastError: cause.message }));
    await op.step('mark-deleting', () => inventoryActs.setTemplateState(templateId, 'deleting'));
    await op.step('delete', () => vmActs.deleteTemplate(input.provider, templateId));
    await op.step('delete-record', () => inventoryActs.deleteTemplateRecord(templateId));
  });
}
