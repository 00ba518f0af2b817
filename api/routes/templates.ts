// /api/v1/templates: images imported into a provider for machines to clone from. Creating and
// deleting run as workflows (createTemplate / deleteTemplate) and answer with the operation.
import { z } from 'zod';
import { HangarError } from '../../domain/errors.ts';
import { PROVIDERS, createTemplateSchema, type TemplateInput } from '../../domain/machine.ts';
import { templateWorkflowId } from '../../workflows/contracts.ts';
import { planTemplate } from '../../domain/plan.ts';
import { Machine, Operation, Template, TEMPLATE_STATES, type ITemplate } from '../../db/entities/index.ts';
import type { ApiDeps } from '../context.ts';
import { operationSummary, startOperation, startOperationOrUndo } from '../operations.ts';
import { pageOf, parsePage } from '../pagination.ts';
import { contractRouter, json, type ContractRouter } from '../contract/route.ts';
import { byRef, dryRun, operationSummary as operationSummarySchema, page, paging, plan } from '../contract/schemas.ts';
import { template as templateSchema, templateDetail } from '../contract/views.ts';
import { redactUrl } from '../../domain/logging.ts';
import { isDryRun, loadById, requireEnabledProvider } from './common.ts';

export function templateView(t: ITemplate) {
  return {
    id: t.id,
    name: t.name,
    provider: t.provider,
    node: t.node ?? null,
    image: redactUrl(t.image),
    checksum: t.checksum ?? null,
    storage: t.storage ?? null,
    vmid: t.vmid ?? null,
    cpu: t.cpu,
    memory_mb: t.memoryMb,
    provider_ref: t.providerRef ? redactUrl(t.providerRef) : null,
    state: t.state,
    last_error: t.lastError ?? null,
    created_at: t.createdAt,
    updated_at: t.updatedAt,
  };
}

const listQuery = z.object({
  provider: z.enum(PROVIDERS).optional(),
  state: z.enum(TEMPLATE_STATES).optional(),
  ...paging,
});
const createTemplateBody = createTemplateSchema.meta({ id: 'CreateTemplate' });
const templateOperation = z.strictObject({ template: templateSchema, operation: operationSummarySchema }).meta({ id: 'TemplateOperation' });

/** By id or by name. */
async function loadTemplate(deps: ApiDeps, ref: string): Promise<ITemplate> {
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(ref)) return loadById(deps.orm.em.fork(), Template, ref, 'template');
  const t = await deps.orm.em.fork().findOne(Template, { name: ref });
  if (!t) throw new HangarError('not_found', `template "${ref}" not found`);
  return t;
}

export function templatesRouter(deps: ApiDeps): ContractRouter {
  const r = contractRouter({ tags: ['templates'] });

  r.route({
    method: 'post',
    path: '/',
    summary: 'Import an image as a template (runs createTemplate)',
    query: z.object(dryRun),
    body: createTemplateBody,
    responses: { 202: json(templateOperation, 'the template and its operation'), 200: json(plan, 'the plan (dry_run)') },
    errors: [409, 422, 503],
    handler: async ({ query, body }, req, res) => {
      // Bare-metal templates need no hypervisor; hosts are always available.
      if (body.provider !== 'redfish') requireEnabledProvider(deps.config, body.provider);
      if (body.provider !== 'proxmox' && (body.vmid !== undefined || body.node !== undefined || body.storage !== undefined)) {
        throw new HangarError('validation_failed', 'vmid, node and storage apply to proxmox templates only', { provider: 'not proxmox' });
      }
      if (body.provider === 'qemu' && !body.image.startsWith('/')) {
        throw new HangarError('validation_failed', 'qemu templates import a local image: give an absolute path', {
          image: 'must be an absolute path for qemu',
        });
      }
      if (body.provider === 'redfish') {
        // Bare metal: the BMC fetches the image by URL when a host is provisioned from the template.
        if (!/^(https?|nfs|cifs|smb):\/\//i.test(body.image)) {
          throw new HangarError('validation_failed', 'redfish templates name an image the BMC mounts: give an http(s), nfs or cifs URL', {
            image: 'must be a URL the BMC can fetch',
          });
        }
        if (body.cpu !== undefined || body.memory_mb !== undefined) {
          throw new HangarError('validation_failed', 'cpu and memory_mb apply to VM templates only', { provider: 'redfish' });
        }
      } else if (/^(nfs|cifs|smb):\/\//i.test(body.image)) {
        throw new HangarError('validation_failed', `${body.provider} templates cannot import from ${body.image.split(':')[0]} URLs`, {
          image: 'must be an absolute path or an http(s) URL',
        });
      }
      const em = deps.orm.em.fork();
      if (await em.count(Template, { name: body.name })) {
        throw new HangarError('already_exists', `a template named "${body.name}" already exists`, { name: 'already exists' });
      }
      const id = crypto.randomUUID();
      const node = body.provider === 'proxmox' ? (body.node ?? deps.config.proxmox.node) : undefined;
      const input: TemplateInput = {
        templateId: id,
        name: body.name,
        provider: body.provider,
        image: body.image,
        ...(body.checksum ? { checksum: body.checksum } : {}),
        ...(node ? { node } : {}),
        ...(body.storage ? { storage: body.storage } : {}),
        ...(body.vmid !== undefined ? { vmid: body.vmid } : {}),
        ...(body.cpu ? { cpu: body.cpu } : {}),
        ...(body.memory_mb ? { memoryMb: body.memory_mb } : {}),
      };
      if (isDryRun(query)) {
        res.status(200).json(planTemplate(input, templateWorkflowId(id)));
        return;
      }
      const template = em.create(Template, {
        id,
        name: body.name,
        provider: body.provider,
        node: node ?? null,
        image: body.image,
        checksum: body.checksum ?? null,
        storage: body.storage ?? null,
        vmid: body.vmid ?? null,
        cpu: body.cpu ?? 1,
        memoryMb: body.memory_mb ?? 512,
        state: 'pending',
      });
      await em.flush();
      const operation = await startOperationOrUndo(
        em,
        deps.temporal,
        deps.config,
        {
          kind: 'create-template',
          workflow: 'createTemplate',
          workflowId: templateWorkflowId(id),
          args: [input],
          resourceType: 'template',
          resourceId: id,
          requestedBy: req.actor!.name,
        },
        () => deps.orm.em.fork().nativeDelete(Template, { id }),
      );
      res.locals.audit = { action: 'templates.create', resourceType: 'template', resourceId: id, detail: { name: body.name, provider: body.provider } };
      res
        .status(202)
        .location(`/api/v1/templates/${id}`)
        .json({ template: templateView(template), operation: operationSummary(deps.config, operation) });
    },
  });

  r.route({
    method: 'get',
    path: '/',
    summary: 'List templates (by name)',
    query: listQuery,
    responses: { 200: json(page(templateSchema), 'a page of templates') },
    handler: async ({ query: q }, req, res) => {
      const page = parsePage(req.query, deps.config.api.maxPageSize);
      const where: Record<string, unknown> = {};
      if (q.provider) where.provider = q.provider;
      if (q.state) where.state = q.state;
      if (page.after !== null) where.name = { $gt: page.after };
      const rows = await deps.orm.em.fork().find(Template, where, { orderBy: { name: 'asc' }, limit: page.pageSize + 1 });
      const { items, next_cursor } = pageOf(rows, page.pageSize, (t) => t.name);
      res.json({ items: items.map(templateView), next_cursor });
    },
  });

  r.route({
    method: 'get',
    path: '/:ref',
    summary: 'Get a template with its latest operations',
    params: byRef('template'),
    responses: { 200: json(templateDetail, 'the template') },
    errors: [404],
    handler: async ({ params }, _req, res) => {
      const template = await loadTemplate(deps, params.ref);
      const ops = await deps.orm.em
        .fork()
        .find(Operation, { resourceType: 'template', resourceId: template.id }, { orderBy: { createdAt: 'desc' }, limit: 10 });
      res.json({ ...templateView(template), operations: ops.map((o) => operationSummary(deps.config, o)) });
    },
  });

  r.route({
    method: 'delete',
    path: '/:ref',
    summary: 'Delete a template (runs deleteTemplate; 409 while machines use it)',
    params: byRef('template'),
    query: z.object(dryRun),
    responses: { 202: json(templateOperation, 'the template and its operation'), 200: json(plan, 'the plan (dry_run)') },
    errors: [404, 409, 503],
    handler: async ({ params, query }, req, res) => {
      const template = await loadTemplate(deps, params.ref);
      const em = deps.orm.em.fork();
      const users = await em.find(Machine, { template: template.name, provider: template.provider }, { fields: ['name'], limit: 5 });
      if (users.length) {
        throw new HangarError('has_dependents', `template ${template.name} is used by machine(s) ${users.map((m) => m.name).join(', ')}; delete them first`);
      }
      if (template.state === 'creating' || template.state === 'pending') {
        throw new HangarError('invalid_state', `template ${template.name} is still ${template.state}; wait for its creation to finish`);
      }
      const input = { templateId: template.id, provider: template.provider };
      if (isDryRun(query)) {
        res.status(200).json({
          dry_run: true,
          workflow: 'deleteTemplate',
          workflow_id: templateWorkflowId(template.id),
          calls: [
            { step: 'mark-deleting', call: 'hangar.setTemplateState', args: { state: 'deleting' } },
            {
              step: 'delete',
              call: `${template.provider}.deleteTemplate`,
              args: { provider_ref: template.providerRef ? redactUrl(template.providerRef) : null },
            },
            { step: 'delete-record', call: 'hangar.deleteTemplateRecord', args: {} },
          ],
        });
        return;
      }
      const operation = await startOperation(em, deps.temporal, deps.config, {
        kind: 'delete-template',
        workflow: 'deleteTemplate',
        workflowId: templateWorkflowId(template.id),
        args: [input],
        resourceType: 'template',
        resourceId: template.id,
        requestedBy: req.actor!.name,
        onConflict: 'fail',
      });
      res.locals.audit = { action: 'templates.delete', resourceType: 'template', resourceId: template.id, detail: { name: template.name } };
      res.status(202).json({ template: templateView(template), operation: operationSummary(deps.config, operation) });
    },
  });

  return r;
}
