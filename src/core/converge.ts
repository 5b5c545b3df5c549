// The one planner every step shares: diff each owned resource's desired document against the
// observed one and turn the difference into actions; and rollback as the same convergence with
// `before` as the desired document (DESIGN.md §3). Steps only say what their resources are.
import { freshReads } from '../aws/clients.js';
import { executeActions, hasRef, kindOf, resolveRefs, type Action, type ActionSpec } from './actions.js';
import { changedTopLevel, diffDocuments, prune, sameDocument, withoutIgnored } from './document.js';
import { UnsafeChangeError } from './errors.js';
import type { Change, FieldDiff, Finding, Plan, ResourceDef, Step, StepContext, StepId, StepOutputs } from './step.js';
import { fail, ok } from './step.js';

type StepDefinition<Id extends StepId> = Omit<Step<Id>, 'plan' | 'apply' | 'rollback' | 'planRollback'>;

/** `inOrder`: rollback's actions go one resource at a time (its `after` is apply's order, not undo's). */
function toActions(step: StepId, resource: ResourceDef, specs: ActionSpec[], inOrder = false): Action[] {
  const after = !inOrder && resource.after ? { after: resource.after } : {};
  return specs.map((spec) => ({ ...spec, kind: spec.kind ?? kindOf(spec.operation), step, resourceId: resource.id, resource: resource.name, ...after }));
}

/** The change and actions that move one resource from `observed` to `desired`. */
export function planResource(step: StepId, resource: ResourceDef): { change?: Change; actions: Action[] } {
  if (!resource.observed) {
    // A create shows each top-level field it sets.
    const fields = Object.entries((prune(withoutIgnored(resource.desired, resource.ignore)) ?? {}) as Record<string, unknown>).map(([field, to]) => ({ field, from: undefined, to }));
    return {
      change: { resource: resource.name, action: 'create', fields, ...(resource.note ? { note: resource.note } : {}) },
      actions: toActions(step, resource, resource.create(resource.desired)),
    };
  }
  const diffs = diffDocuments(resource.desired, resource.observed, resource.ignore);
  if (!diffs.length) return { actions: [] };
  return {
    change: { resource: resource.name, action: 'update', fields: diffs, ...(resource.note ? { note: resource.note } : {}) },
    actions: toActions(step, resource, resource.update(resource.desired, resource.observed, diffs)),
  };
}

/** Re-read after an ambiguous create: adopt it when it is what the create makes (the lock is held). */
function rereader<Id extends StepId>(definition: StepDefinition<Id>, ctx: StepContext) {
  return async (action: Action) => {
    // What AWS holds now, never the run's cached answer from before the write.
    const observed = await freshReads(ctx.clients, () => definition.observe(ctx));
    const resource = definition.resources(ctx, observed).find((r) => r.id === action.resourceId);
    if (!resource?.observed) return { gone: true };
    // A delete that failed: the resource is still there (only a whole-resource delete is judged here).
    if (action.kind === 'delete') return {};
    const ignore = [...resource.ignore, ...(resource.adoptIgnore ?? [])];
    if (sameDocument(resource.desired, resource.observed, ignore)) return { adopt: resource.observed };
    const fields = diffDocuments(resource.desired, resource.observed, ignore).map((d) => d.field);
    return { foreign: `exists and differs from what this run creates (${fields.join(', ')}): not this run's, left alone` };
  };
}

export function defineStep<Id extends StepId>(definition: StepDefinition<Id>): Step<Id> {
  const step: Step<Id> = {
    ...definition,

    async plan(ctx, observed): Promise<Plan<StepOutputs[Id]>> {
      const before = observed ?? (await definition.observe(ctx));
      const changes: Change[] = [];
      const actions: Action[] = [];
      for (const resource of definition.resources(ctx, before)) {
        const planned = planResource(definition.id, resource);
        if (planned.change) changes.push(planned.change);
        actions.push(...planned.actions);
      }
      const notes = definition.notes?.(ctx, before) ?? [];
      return { before, changes, actions, outputs: definition.outputs(ctx, before), ...(notes.length ? { notes } : {}) };
    },

    async apply(ctx, plan) {
      await executeActions(plan.actions, { clients: ctx.clients, recorder: ctx.recorder, bindings: ctx.bindings, reread: rereader(definition, ctx) });
      // Outputs with ref tokens resolve from what the actions bound.
      return hasRef(plan.outputs) ? resolveRefs(plan.outputs, ctx.bindings) : plan.outputs;
    },

    async planRollback(ctx, before, created) {
      const now = await definition.observe(ctx);
      const changes: Change[] = [];
      const actions: Action[] = [];
      const notes: string[] = [];
      // Newest first: a listener before its target group, a role's policies before the role.
      for (const resource of [...definition.resources(ctx, now)].reverse()) {
        const was = before[resource.id];
        if (!was) {
          if (!resource.observed) continue;
          if (!created.has(resource.id)) {
            notes.push(`${resource.name}: not created by this run (no reply or token proves it), left as it is`);
            continue;
          }
          const removal = resource.remove(resource.observed);
          if (typeof removal === 'string') {
            notes.push(`${resource.name}: ${removal}`);
            continue;
          }
          if (!removal.length) continue; // nothing of it left to delete (e.g. "no policy")
          changes.push({ resource: resource.name, action: 'delete' });
          actions.push(...toActions(definition.id, resource, removal, true));
          continue;
        }
        if (!resource.observed) {
          notes.push(`${resource.name} no longer exists; nothing to restore`);
          continue;
        }
        const planned = planResource(definition.id, { ...resource, desired: was, after: undefined });
        if (planned.change) changes.push(planned.change);
        actions.push(...planned.actions);
      }
      return { actions, changes, notes };
    },

    async rollback(ctx, before, created) {
      const planned = await step.planRollback(ctx, before, created);
      await executeActions(planned.actions, { clients: ctx.clients, recorder: ctx.recorder, bindings: ctx.bindings, reread: rereader(definition, ctx) });
      return planned.notes;
    },
  };
  return step;
}

/** One finding per resource: OK when its whole document matches, else FAIL naming every field. */
export function documentFindings(check: string, resources: ResourceDef[], describe: (r: ResourceDef) => string = () => 'matches the config'): Finding[] {
  return resources.map((resource) => {
    if (!resource.observed) return fail(check, resource.name, 'does not exist');
    const diffs = diffDocuments(resource.desired, resource.observed, resource.ignore);
    return diffs.length
      ? fail(check, resource.name, `differs from the config: ${diffs.map((d) => d.field).join(', ')} (run plan)`)
      : ok(check, resource.name, describe(resource));
  });
}

/** Refuse a difference no API call can converge in place, naming the fields: a person decides. */
export function refuseUnhandled(resource: string, diffs: FieldDiff[], handled: string[]): void {
  const rest = [...changedTopLevel(diffs)].filter((field) => !handled.includes(field));
  if (rest.length) throw new UnsafeChangeError(`${resource}: ${rest.join(', ')} differ(s) and cannot be changed in place; a person must decide`);
}
