// How a run puts back what was changed by hand without refreshing Pulumi's state first. Pulumi keeps what
// the program last applied; a child deleted or edited by hand since does not show in its diff, and a
// child it holds that is gone (deleted by hand, or collected with a custom resource deleted and created
// again) would fail its update ("not found"). A refresh of the whole stack would fix both, but it reads
// every object in the state, and one in a namespace the stack no longer serves (its RoleBinding gone)
// fails the whole run with 403. So the program reads the children's metadata itself (sources/cluster.ts)
// and marks the two cases on the child with an annotation whose value changes only then:
//
// - `crdstack.io/recreated`: a value of this run when the child is missing from the cluster; the child
//   is then registered with `replaceOnChanges` on it (and `deleteBeforeReplace`), so Pulumi deletes what
//   it holds (already gone: nothing to do) and creates the child again.
// - `crdstack.io/reapplied`: the time of the latest hand edit when the child was edited since the
//   program's last apply (model/drift.ts); the changed input makes Pulumi apply the child again, with
//   force, after the edit's fields were handed to the program (components/children.ts declareReclaim).
//
// Otherwise each keeps the value the live child carries, so a run with nothing to put back changes nothing.
import { childrenOf } from "../builders/plan";
import { Existing, existingKey, ExistingObject } from "./existing";
import { CustomObject } from "./objects";
import { handEdits } from "./drift";

export const RECREATED_ANNOTATION = "crdstack.io/recreated";
export const REAPPLIED_ANNOTATION = "crdstack.io/reapplied";

/** The annotations of one child; unset ones are left out. */
export type ChildMarkers = Partial<Record<typeof RECREATED_ANNOTATION | typeof REAPPLIED_ANNOTATION, string>>;

/** The markers of an object's children, by `<Kind> <name>`. */
export type Markers = ReadonlyMap<string, ChildMarkers>;

/** The latest time someone other than the program and Kubernetes updated the object (not its status) after the program's last apply. */
export function lastHandEdit(found: ExistingObject): string | undefined {
  const times = handEdits(found).map((entry) => entry.time ?? "").sort();
  return times.pop();
}

/**
 * The markers of the children `object` declares, from what the cluster holds (`existing`; undefined when
 * it could not be read: no markers). `reclaim` names the children whose hand edits this run takes back;
 * `now` is the new value of `recreated` (any value that differs from the last one does).
 */
export function markersOf(object: CustomObject, existing: Existing | undefined, reclaim: readonly { kind: string; name: string }[], now: string): Markers | undefined {
  if (existing === undefined) return undefined;
  const taken = new Set(reclaim.map(({ kind, name }) => `${kind} ${name}`));
  const markers = new Map<string, ChildMarkers>();
  for (const child of childrenOf(object, { defaultImage: "-" })) {
    const key = `${child.kind} ${child.metadata.name}`;
    const found = existing.get(existingKey(child.kind, object.metadata.namespace, child.metadata.name));
    if (found === undefined) {
      markers.set(key, { [RECREATED_ANNOTATION]: now });
      continue;
    }
    // A child that is there keeps the markers it carries (only one gone from the cluster is replaced:
    // components/children.ts `recreateIfGone`; a marker changed by hand is put back in place).
    const kept: ChildMarkers = {};
    if (found.annotations[RECREATED_ANNOTATION] !== undefined) kept[RECREATED_ANNOTATION] = found.annotations[RECREATED_ANNOTATION];
    const reapplied = (taken.has(key) ? lastHandEdit(found) : undefined) ?? found.annotations[REAPPLIED_ANNOTATION];
    if (reapplied !== undefined) kept[REAPPLIED_ANNOTATION] = reapplied;
    markers.set(key, kept);
  }
  return markers;
}
