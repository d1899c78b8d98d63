// Decides, per object, what the program declares: the current spec when it is valid and safe to apply,
// otherwise the last spec that was applied (kept in the object's status), so that a bad edit never
// removes or replaces what a good one made. The status is not to be trusted (whoever may write it may
// write anything): the last applied spec is parsed and checked against the cluster like a current one,
// and one that fails declares nothing (model/lastApplied.ts).
import { collisionProblems } from "./collisions";
import { describeDrift, driftedChildren } from "./drift";
import { Existing } from "./existing";
import { INVALID_LAST_APPLIED_SPEC, LAST_APPLIED_PATH, LastApplied, parseLastApplied } from "./lastApplied";
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
  /** The custom resource's `crdstack.io/recreated` marker in the cluster (files source; see model/markers.ts). */
  recreated?: string;
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
  /**
   * The last applied spec is declared even when it fails the checks against the cluster: the files
   * source, whose program created the custom resource (declaring nothing would delete it, and its
   * children with it) and whose specs come from the repository, not from a tenant's status.
   * @default false
   */
  keepFailingFallback?: boolean;
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
  /** The custom resource's `crdstack.io/recreated` marker in the cluster (files source; see model/markers.ts). */
  recreated?: string;
  /**
   * Problems with the current spec (invalid, clashing, or unsafe against the last applied spec), then, when
   * the object cannot fall back on its last applied spec, why (it does not parse, or fails the checks against the cluster).
   */
  problems: Problem[];
  /**
   * The object whose children are declared: the current one, the last applied one, or none (then its
   * children that exist stay in the cluster as they are: see components/children.ts `anchorOf`).
   */
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

/**
 * The problems of a spec with what the cluster holds, in order: a child that exists and is not the
 * object's own, then a reference the named object does not allow.
 */
function existingProblems(object: CustomObject, candidate: Candidate, uid: string | undefined, existing: Existing | undefined): Problem[] {
  if (existing === undefined) return [];
  const collisions = collisionProblems(object, { uid, lastAppliedSpec: candidate.lastAppliedSpec }, existing);
  return collisions.length > 0 ? collisions : referenceProblems(object, existing);
}

/** The problems of a valid current spec with the cluster: those above, then what the API server refused. */
function clusterProblems(object: CustomObject, candidate: Candidate, uid: string | undefined, context: PlanContext): Problem[] {
  const found = existingProblems(object, candidate, uid, context.existing);
  if (found.length > 0) return found;
  return [...(context.refusals?.get(objectKey({ kind: object.kind, namespace: object.metadata.namespace, name: object.metadata.name })) ?? [])];
}

/** A problem of the last applied spec, on its own field (`status.lastAppliedSpec.x` for `spec.x`). */
function ofLastApplied(problem: Problem): Problem {
  const path = problem.path.startsWith("spec.") ? `${LAST_APPLIED_PATH}.${problem.path.slice("spec.".length)}` : problem.path;
  const message = `${problem.message}; the last applied spec has this problem too, so nothing is declared for the object: its children stay in the cluster as they are, no longer updated, until the spec is fixed`;
  return { path, message, reason: problem.reason ?? INVALID_LAST_APPLIED_SPEC };
}

/**
 * What an object falls back on when its current spec cannot be applied: its last applied spec, when it
 * parses and passes the same checks against the cluster as a current spec (not the API server's dry runs,
 * which are asked of changed children only); otherwise nothing, with the problems saying why.
 */
function fallbackOf(last: LastApplied, candidate: Candidate, uid: string | undefined, context: PlanContext): LastApplied {
  if (last.object === undefined) return last;
  const problems = existingProblems(last.object, candidate, uid, context.existing);
  if (problems.length === 0) return last;
  if (context.keepFailingFallback) return { ...last, problems: [...last.problems, ...problems.map((problem) => ({ ...problem, path: ofLastApplied(problem).path }))] };
  return { problems: problems.map(ofLastApplied) };
}

/**
 * What to declare for each object: its current spec when it is valid, safe against its last applied one,
 * and takes nothing in the cluster that is not its own; otherwise its last applied spec, when that parses
 * and passes the same checks against the cluster (or nothing). An object outside the stack's namespaces
 * declares nothing; one being deleted, its last applied spec, checked the same way.
 */
export function planObjects(candidates: readonly Candidate[], context: PlanContext = {}): { planned: Planned[]; errors: SpecError[] } {
  const collected = collectObjects(candidates);
  const namespaces = context.namespaces ?? [];
  const reads = collected.map((entry, i) => {
    const read = metadataOf(entry.raw);
    return { ...read, uid: read.uid ?? candidates[i].uid };
  });
  const lastSpecs = collected.map((entry, i) => {
    const parsed = parseLastApplied(entry.ref, metadataOf(entry.raw), candidates[i].lastAppliedSpec);
    const spec = candidates[i].lastAppliedSpec;
    // From files, a last applied spec that no longer parses (a schema of a later version) is declared as
    // it is, as before: declaring nothing would delete the custom resource the program made, and its children.
    if (parsed.object !== undefined || spec === undefined || !context.keepFailingFallback || (entry.ref.kind !== "TrackingServer" && entry.ref.kind !== "EasyService")) return parsed;
    const { uid, generation } = metadataOf(entry.raw);
    const object = { kind: entry.ref.kind, metadata: { name: entry.ref.name, namespace: entry.ref.namespace, uid, generation }, spec } as CustomObject;
    return { object, problems: parsed.problems };
  });
  const fallbacks = lastSpecs.map((last, i) => fallbackOf(last, candidates[i], reads[i].uid, context));
  const planned = collected.map((entry, i): Planned => {
    const { uid, generation } = reads[i];
    const deleting = candidates[i].deleting ?? reads[i].deleting;
    const previous = lastSpecs[i].object;
    const base = { ref: entry.ref, file: entry.file, uid, generation, handover: candidates[i].handover, deleting, recreated: candidates[i].recreated };
    if (namespaces.length > 0 && !namespaces.includes(entry.ref.namespace)) {
      const message = `${JSON.stringify(entry.ref.namespace)} is not one of this stack's namespaces (crdstack:namespaces: ${namespaces.join(", ")}): nothing is declared for the object`;
      return { ...base, problems: [{ path: "metadata.namespace", message, reason: OUTSIDE_NAMESPACES }], applied: undefined, fallback: false };
    }
    const fallBack = (problems: Problem[]): Planned => ({ ...base, problems: [...problems, ...fallbacks[i].problems], applied: fallbacks[i].object, fallback: fallbacks[i].object !== undefined });
    if (deleting) return fallBack(entry.problems);
    let problems = entry.object === undefined ? entry.problems : transitionProblems(previous, entry.object);
    if (entry.object !== undefined && problems.length === 0) problems = clusterProblems(entry.object, candidates[i], uid, context);
    if (entry.object !== undefined && problems.length === 0) return { ...base, problems, applied: entry.object, fallback: false };
    return fallBack(problems);
  });
  rejectTakersOfKeptNames(planned, fallbacks);
  planned.forEach((item, i) => {
    if (item.deleting) return;
    const previous = lastSpecs[i].object;
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
function rejectTakersOfKeptNames(planned: Planned[], fallbacks: readonly LastApplied[]): void {
  for (let moved = true; moved; ) {
    moved = false;
    const held = new Map<string, ObjectRef>();
    for (const item of planned) if (item.fallback && item.applied !== undefined) hold(claimsOf(item.applied), item.ref, held);
    planned.forEach((item, i) => {
      if (item.fallback || item.applied === undefined) return;
      const problems = clashes(claimsOf(item.applied), held);
      if (problems.length === 0) return;
      item.problems = [...problems, ...fallbacks[i].problems];
      item.applied = fallbacks[i].object;
      item.fallback = fallbacks[i].object !== undefined;
      moved = true;
    });
  }
}
