// Decides, per object, what the program declares: the current spec when it is valid and safe to apply,
// otherwise the last spec that was applied (kept in the object's status), so that a bad edit never
// removes or replaces what a good one made.
import { collisionProblems } from "./collisions";
import { describeDrift, driftedChildren } from "./drift";
import { Existing } from "./existing";
import { CustomObject, ObjectRef, Problem } from "./objects";
import { referenceProblems } from "./references";
import { Handover } from "./takeover";
import { claimsOf, clashes, collectObjects, errorsOf, hold, RawObject, SpecError } from "./specs";
import { transitionProblems } from "./transitions";

export const OUTSIDE_NAMESPACES = "OutsideNamespaces";

/** A raw object, and the spec last applied for it (from its status), if any. */
export interface Candidate extends RawObject {
  lastAppliedSpec?: Record<string, unknown>;
  /** The uid of the custom resource in the cluster, when the raw object (from a file) has none. */
  uid?: string;
  /** The original controller's marks on the custom resource in the cluster. */
  handover?: Handover;
  /** The custom resource in the cluster is being deleted (`metadata.deletionTimestamp` is set). */
  deleting?: boolean;
}

/** What the run knows besides the objects themselves. */
export interface PlanContext {
  /** What the cluster holds; undefined when it could not be read, and then nothing is checked against it. */
  existing?: Existing;
  /** `crdstack:namespaces`: an object in any other namespace is left alone. @default all */
  namespaces?: readonly string[];
  /** Problems the API server found with what an object would declare (dry runs), by `objectKey`. */
  refusals?: ReadonlyMap<string, readonly Problem[]>;
}

/** `<Kind> <namespace>/<name>`: an object's key across both kinds. */
export const objectKey = (ref: ObjectRef) => `${ref.kind} ${ref.namespace}/${ref.name}`;

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
  /**
   * The custom resource is being deleted: it is declared from its last applied spec, so nothing changes
   * while Kubernetes' garbage collector removes its children.
   */
  deleting: boolean;
  /** What was changed by hand in the children since the last run, which this run puts back (see model/drift.ts). */
  drift?: string[];
  /**
   * The children that someone updated by hand: the fields they set are handed to the program before it
   * applies (as in a take-over), so that its apply also removes what they added.
   */
  reclaim?: { kind: string; name: string }[];
}

function metadataOf(raw: unknown): { uid?: string; generation?: number; deleting: boolean } {
  const metadata = (raw as { metadata?: Record<string, unknown> })?.metadata ?? {};
  return {
    uid: typeof metadata.uid === "string" ? metadata.uid : undefined,
    generation: typeof metadata.generation === "number" ? metadata.generation : undefined,
    deleting: typeof metadata.deletionTimestamp === "string",
  };
}

/** The object as it was last applied: the same identity, the spec from the status. */
function lastApplied(ref: ObjectRef, raw: unknown, spec: Record<string, unknown> | undefined): CustomObject | undefined {
  if (spec === undefined || (ref.kind !== "TrackingServer" && ref.kind !== "EasyService")) return undefined;
  const { uid, generation } = metadataOf(raw);
  return { kind: ref.kind, metadata: { name: ref.name, namespace: ref.namespace, uid, generation }, spec } as CustomObject;
}

/**
 * The problems of a valid current spec with what the cluster holds, in order: a child that exists and is
 * not the object's own, a reference the named object does not allow, then what the API server refused.
 */
function clusterProblems(object: CustomObject, candidate: Candidate, uid: string | undefined, context: PlanContext): Problem[] {
  if (context.existing !== undefined) {
    const collisions = collisionProblems(object, { uid, lastAppliedSpec: candidate.lastAppliedSpec }, context.existing);
    if (collisions.length > 0) return collisions;
    const references = referenceProblems(object, context.existing);
    if (references.length > 0) return references;
  }
  return [...(context.refusals?.get(objectKey({ kind: object.kind, namespace: object.metadata.namespace, name: object.metadata.name })) ?? [])];
}

/**
 * What to declare for each object: its current spec when it is valid, safe against its last applied one,
 * and takes nothing in the cluster that is not its own; otherwise its last applied spec (or nothing).
 * An object outside the stack's namespaces declares nothing; one being deleted, its last applied spec.
 */
export function planObjects(candidates: readonly Candidate[], context: PlanContext = {}): { planned: Planned[]; errors: SpecError[] } {
  const collected = collectObjects(candidates);
  const lastSpecs = collected.map((entry, i) => lastApplied(entry.ref, entry.raw, candidates[i].lastAppliedSpec));
  const namespaces = context.namespaces ?? [];
  const planned = collected.map((entry, i): Planned => {
    const read = metadataOf(entry.raw);
    const { uid = candidates[i].uid, generation } = read;
    const deleting = candidates[i].deleting ?? read.deleting;
    const previous = lastSpecs[i];
    const base = { ref: entry.ref, file: entry.file, uid, generation, handover: candidates[i].handover, deleting };
    if (namespaces.length > 0 && !namespaces.includes(entry.ref.namespace)) {
      const message = `${JSON.stringify(entry.ref.namespace)} is not one of this stack's namespaces (crdstack:namespaces: ${namespaces.join(", ")}): nothing is declared for the object`;
      return { ...base, problems: [{ path: "metadata.namespace", message, reason: OUTSIDE_NAMESPACES }], applied: undefined, fallback: false };
    }
    if (deleting) return { ...base, problems: entry.problems, applied: previous, fallback: previous !== undefined };
    let problems = entry.object === undefined ? entry.problems : transitionProblems(previous, entry.object);
    if (entry.object !== undefined && problems.length === 0) problems = clusterProblems(entry.object, candidates[i], uid, context);
    if (entry.object !== undefined && problems.length === 0) return { ...base, problems, applied: entry.object, fallback: false };
    return { ...base, problems, applied: previous, fallback: previous !== undefined };
  });
  rejectTakersOfKeptNames(planned, lastSpecs);
  planned.forEach((item, i) => {
    if (item.deleting) return;
    const previous = lastSpecs[i];
    if (previous === undefined || item.applied === undefined || context.existing === undefined) return;
    const drifts = driftedChildren(previous, context.existing, item.applied);
    item.drift = drifts.map(describeDrift);
    item.reclaim = drifts.filter((drift) => !drift.deleted).map(({ kind, name }) => ({ kind, name }));
  });
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
