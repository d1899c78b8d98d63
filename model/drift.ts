// Drift: what was changed by hand since the program last applied an object's children, read from the
// children's metadata. The run puts it back (a marker on the child makes Pulumi re-create or apply it again, with
// force); the object's status says what was put back.
import { childrenOf } from "../builders/plan";
import { CustomObject } from "./objects";
import { Existing, ExistingManager, existingKey, ExistingObject } from "./existing";
import { FIELD_MANAGER, isKubernetesComponent } from "./takeover";


/** A write of the object itself (not its status) by someone other than the program and Kubernetes. */
const byHand = (entry: ExistingManager) =>
  entry.operation === "Update" && (entry.subresource ?? "") === "" && entry.manager !== undefined && entry.manager !== FIELD_MANAGER && !isKubernetesComponent(entry.manager);

/** `<Kind> <name>` of an object's children; none when its spec does not build (a last applied spec of another version). */
function childKeys(object: CustomObject): string[] {
  try {
    return childrenOf(object, { defaultImage: "-" }).map((child) => existingKey(child.kind, object.metadata.namespace, child.metadata.name));
  } catch {
    return [];
  }
}

/** The updates of an object by hand (see `byHand`) since the program last applied it; none when it never did. */
export function handEdits(found: ExistingObject): ExistingManager[] {
  const applies = found.managedFields.filter((entry) => entry.manager === FIELD_MANAGER && entry.operation === "Apply").map((entry) => entry.time ?? "");
  if (applies.length === 0) return [];
  const lastApply = applies.sort().pop()!;
  return found.managedFields.filter((entry) => byHand(entry) && (entry.time ?? "") > lastApply);
}

/** One child changed by hand: deleted, or updated by these managers after the program's last apply. */
export interface Drift {
  kind: string;
  namespace: string;
  name: string;
  /** `<Kind> <namespace>/<name>`. */
  where: string;
  deleted: boolean;
  managers: string[];
}

/**
 * What changed by hand among the children of `last` (the spec last applied, from the status) that `next`
 * (this run's spec) makes too (one that goes away anyway is no drift): a child missing from the cluster,
 * or one that a manager other than the program updated after the program's last apply.
 */
export function driftedChildren(last: CustomObject, existing: Existing, next: CustomObject = last): Drift[] {
  const kept = new Set(childKeys(next));
  return childKeys(last).filter((where) => kept.has(where)).flatMap((where): Drift[] => {
    const [kind, place] = where.split(" ");
    const [namespace, name] = place.split("/");
    const found = existing.get(where);
    if (found === undefined) return [{ kind, namespace, name, where, deleted: true, managers: [] }];
    const managers = [...new Set(handEdits(found).map((entry) => entry.manager!))];
    return managers.length === 0 ? [] : [{ kind, namespace, name, where, deleted: false, managers }];
  });
}

/** A drift as the status and the log say it: `Deployment ns/x was deleted`, `Deployment ns/x: changed by kubectl-edit`. */
export const describeDrift = (drift: Drift) => (drift.deleted ? `${drift.where} was deleted` : `${drift.where}: changed by ${drift.managers.join(", ")}`);

/** `driftedChildren`, as the status and the log say it. */
export function driftOf(last: CustomObject, existing: Existing, next: CustomObject = last): string[] {
  return driftedChildren(last, existing, next).map(describeDrift);
}
