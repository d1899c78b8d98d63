// Decides, per object, what the program declares: the current spec when it is valid and safe to apply,
// otherwise the last spec that was applied (kept in the object's status), so that a bad edit never
// removes or replaces what a good one made.
import { CustomObject, ObjectRef, Problem } from "./objects";
import { Handover } from "./takeover";
import { claimsOf, clashes, collectObjects, errorsOf, hold, RawObject, SpecError } from "./specs";
import { transitionProblems } from "./transitions";

/** A raw object, and the spec last applied for it (from its status), if any. */
export interface Candidate extends RawObject {
  lastAppliedSpec?: Record<string, unknown>;
  /** The uid of the custom resource in the cluster, when the raw object (from a file) has none. */
  uid?: string;
  /** The original controller's marks on the custom resource in the cluster. */
  handover?: Handover;
}

export interface Planned {
  ref: ObjectRef;
  file?: string;
  uid?: string;
  generation?: number;
  /** The original controller's marks on the custom resource: its children are handed over first. */
  handover?: Handover;
  /** Problems with the current spec (invalid, clashing, or unsafe against the last applied spec). */
  problems: Problem[];
  /** The object whose children are declared: the current one, the last applied one, or none. */
  applied?: CustomObject;
  /**
   * `applied` is the last applied spec, read back from the status, where secret fields read `(secret)`:
   * the children that hold secrets keep their current values.
   */
  fallback: boolean;
}

function metadataOf(raw: unknown): { uid?: string; generation?: number } {
  const metadata = (raw as { metadata?: Record<string, unknown> })?.metadata ?? {};
  return {
    uid: typeof metadata.uid === "string" ? metadata.uid : undefined,
    generation: typeof metadata.generation === "number" ? metadata.generation : undefined,
  };
}

/** The object as it was last applied: the same identity, the spec from the status. */
function lastApplied(ref: ObjectRef, raw: unknown, spec: Record<string, unknown> | undefined): CustomObject | undefined {
  if (spec === undefined || (ref.kind !== "TrackingServer" && ref.kind !== "EasyService")) return undefined;
  const { uid, generation } = metadataOf(raw);
  return { kind: ref.kind, metadata: { name: ref.name, namespace: ref.namespace, uid, generation }, spec } as CustomObject;
}

export function planObjects(candidates: readonly Candidate[]): { planned: Planned[]; errors: SpecError[] } {
  const collected = collectObjects(candidates);
  const lastSpecs = collected.map((entry, i) => lastApplied(entry.ref, entry.raw, candidates[i].lastAppliedSpec));
  const planned = collected.map((entry, i): Planned => {
    const { uid = candidates[i].uid, generation } = metadataOf(entry.raw);
    const previous = lastSpecs[i];
    const problems = entry.object === undefined ? entry.problems : transitionProblems(previous, entry.object);
    const base = { ref: entry.ref, file: entry.file, uid, generation, handover: candidates[i].handover, problems };
    if (entry.object !== undefined && problems.length === 0) return { ...base, applied: entry.object, fallback: false };
    return { ...base, applied: previous, fallback: previous !== undefined };
  });
  rejectTakersOfKeptNames(planned, lastSpecs);
  const errors = errorsOf(planned.map((p, i) => ({ ...collected[i], problems: p.problems })));
  return { planned, errors };
}

/**
 * What an object declared from its last applied spec holds stands in the cluster already, whatever the
 * order of the objects: its children's names, its NodePorts and its URL's host. An object that would
 * take one of them is rejected and declared from its own last applied spec, if it has one, which then
 * holds its claims too: repeated until no object moves. `collectObjects` sees current specs only.
 */
function rejectTakersOfKeptNames(planned: Planned[], previous: readonly (CustomObject | undefined)[]): void {
  for (let moved = true; moved; ) {
    moved = false;
    const held = new Map<string, ObjectRef>();
    for (const item of planned) if (item.fallback && item.applied !== undefined) hold(claimsOf(item.applied), item.ref, held);
    planned.forEach((item, i) => {
      if (item.fallback || item.applied === undefined) return;
      const problems = clashes(claimsOf(item.applied), held);
      if (problems.length === 0) return;
      item.problems = problems;
      item.applied = previous[i];
      item.fallback = previous[i] !== undefined;
      moved = true;
    });
  }
}
