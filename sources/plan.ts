// Each object's plan against what the cluster holds (collisions, references, namespaces, drift: see
// model/reconcile.ts), with the API server's word on the children that would change (model/dryRun.ts).
import type * as k8s from "@kubernetes/client-node";
import { Manifest } from "../builders/meta";
import { TrackingServerOptions } from "../builders/trackingServer";
import { DEFAULT_MLFLOW_IMAGE } from "../model/config";
import { changingChildren, refusalProblem } from "../model/dryRun";
import { CustomObject, Problem } from "../model/objects";
import { Candidate, objectKey, PlanContext, Planned, planObjects } from "../model/reconcile";
import { ClusterState, dryRunAll } from "./cluster";

/** How children are built (`crdstack:defaultMlflowImage`, `crdstack:ingressClassName`); the Ingress's TLS comes from the cluster. @default the default image, the cluster's default IngressClass */
export type ChildOptions = Omit<TrackingServerOptions, "existingTlsSecret">;

/** The object as last applied: its identity, the spec from its status; undefined when it has none. */
function lastAppliedOf(item: Planned, candidate: Candidate): CustomObject | undefined {
  if (candidate.lastAppliedSpec === undefined || item.applied === undefined) return undefined;
  return { ...item.applied, spec: candidate.lastAppliedSpec } as CustomObject;
}

/**
 * The children to dry-run; all of them when the last applied spec (a status anyone with rights on the
 * status may write) does not build.
 */
function changing(object: CustomObject, lastApplied: CustomObject | undefined, existing: ClusterState["existing"], options: TrackingServerOptions): Manifest[] {
  try {
    return changingChildren(object, lastApplied, existing, options);
  } catch {
    return changingChildren(object, undefined, existing, options);
  }
}

/**
 * Plans every object against what the cluster holds, then server-side dry-runs, a few at a time, every
 * child that an object declared from its current spec would create or change (an object declared from
 * its last applied spec changes nothing). A refusal (4xx) becomes a problem of its object, and the
 * objects are planned again with the refusals. A dry run that gets no answer (5xx, none) is warned
 * about: the apply will tell.
 */
export async function planAgainstCluster(
  candidates: readonly Candidate[],
  scope: Pick<PlanContext, "namespaces" | "keepFailingFallback">,
  state: ClusterState | undefined,
  kubeconfig: k8s.KubeConfig | undefined,
  warn: (message: string) => void,
  options: ChildOptions = { defaultImage: DEFAULT_MLFLOW_IMAGE },
) {
  const context: PlanContext = { ...scope, existing: state?.existing };
  const first = planObjects(candidates, context);
  if (state === undefined || kubeconfig === undefined) return first;
  const checks: { key: string; object: CustomObject; child: Manifest }[] = [];
  first.planned.forEach((item, i) => {
    // An object being taken over, or with children edited by hand, has fields of other managers handed to
    // the program before it applies (components/children.ts): a dry run now would see them still beside
    // the program's (e.g. `rollingUpdate` beside `Recreate`, a second unnamed port) and refuse.
    if (item.applied === undefined || item.fallback || item.deleting || item.handover !== undefined) return;
    const reclaimed = new Set((item.reclaim ?? []).map(({ kind, name }) => `${kind} ${name}`));
    const { namespace, name } = item.applied.metadata;
    const childOptions = { ...options, existingTlsSecret: state.tlsSecrets.has(`${namespace}/${name}`) };
    for (const child of changing(item.applied, lastAppliedOf(item, candidates[i]), state.existing, childOptions)) {
      if (!reclaimed.has(`${child.kind} ${child.metadata.name}`)) checks.push({ key: objectKey(item.ref), object: item.applied, child });
    }
  });
  if (checks.length === 0) return first;
  const answers = await dryRunAll(kubeconfig, checks.map(({ child }) => child));
  const refusals = new Map<string, Problem[]>();
  checks.forEach(({ key, object, child }, i) => {
    const { refused, failed } = answers[i];
    const where = `${child.kind} ${child.metadata.namespace}/${child.metadata.name}`;
    if (failed !== undefined) warn(`${key}: cannot ask the API server whether it accepts the ${where} (${failed}); the apply will tell`);
    if (refused !== undefined) refusals.set(key, [...(refusals.get(key) ?? []), refusalProblem(object, child, refused)]);
  });
  return refusals.size === 0 ? first : planObjects(candidates, { ...context, refusals });
}
