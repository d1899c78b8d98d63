// Each object's plan against what the cluster holds (collisions, references, namespaces, drift: see
// model/reconcile.ts), with the API server's word on the NodePorts objects would newly take.
import type * as k8s from "@kubernetes/client-node";
import { nodePortCheck, refusalProblem } from "../model/nodePorts";
import { Problem } from "../model/objects";
import { Candidate, objectKey, PlanContext, planObjects } from "../model/reconcile";
import { ClusterState, dryRunAll } from "./cluster";

/**
 * Plans every object against what the cluster holds, then asks the API server, in one dry run per
 * Service, whether the NodePorts that objects would newly take are free (only it knows the Services of
 * namespaces the program cannot list), and plans again with its refusals.
 */
export async function planAgainstCluster(
  candidates: readonly Candidate[],
  namespaces: readonly string[],
  state: ClusterState | undefined,
  kubeconfig: k8s.KubeConfig | undefined,
  warn: (message: string) => void,
) {
  const context: PlanContext = { existing: state?.existing, namespaces };
  const first = planObjects(candidates, context);
  if (state === undefined || kubeconfig === undefined) return first;
  const checks = first.planned.flatMap((item, i) => {
    if (item.applied === undefined || item.fallback) return [];
    const check = nodePortCheck(item.applied, { uid: item.uid, lastAppliedSpec: candidates[i].lastAppliedSpec }, state.existing);
    return check === undefined ? [] : [{ key: objectKey(item.ref), check }];
  });
  if (checks.length === 0) return first;
  let answers: (string | undefined)[];
  try {
    answers = await dryRunAll(kubeconfig, checks.map(({ check }) => check.service));
  } catch (error) {
    // Not a refusal (the API server answered 5xx, or did not answer): the apply itself will tell.
    warn(`Cannot ask the API server whether NodePorts are free (${(error as Error).message})`);
    return first;
  }
  const refusals = new Map<string, Problem[]>();
  checks.forEach(({ key, check }, i) => {
    const message = answers[i];
    if (message !== undefined) refusals.set(key, [refusalProblem(check, message)]);
  });
  return refusals.size === 0 ? first : planObjects(candidates, { ...context, refusals });
}
