// What the program writes into each custom resource's status, as a pure function of what it found: the
// problems with the object, the object whose children it declared, what a run put back by hand-edited
// children (drift), and, read from the API server when the status is written, the Deployment's readiness
// (providers/readiness.ts).
import { CustomObject, Kind, KINDS, maskSpec, Problem } from "../model/objects";
import { LiveReadiness, PendingCondition, StatusBody, StatusEntry, withReadiness } from "./conditions";
import { MLFLOW_PORT } from "./trackingServer";

export * from "./conditions";



/** What the program found for one object. */
export interface ObjectReport {
  kind: Kind;
  namespace: string;
  name: string;
  uid?: string;
  generation?: number;
  /** Problems with the current spec or the cluster; empty when it is applied. */
  problems: Problem[];
  /** The object whose children are declared: the current one, the last valid one, or none. */
  applied: CustomObject | undefined;
  /** What this run puts back that was changed or deleted by hand (e.g. `Deployment ns/x was deleted`). */
  drift?: readonly string[];
}

/** The reason of the Ready condition of an object with problems: its first problem's, else `InvalidSpec`. */
export function problemReason(problems: readonly Problem[]): string {
  return problems[0]?.reason ?? "InvalidSpec";
}

function notReady(report: ObjectReport): PendingCondition {
  // Nothing declared: a never valid object has no children; one whose last applied spec failed its own
  // checks (model/reconcile.ts) keeps them in the cluster as they are.
  const refusedFallback = report.problems.some((problem) => problem.path.startsWith("status.lastAppliedSpec"));
  const keeping = report.applied !== undefined
    ? "the children stay as the last valid spec made them"
    : refusedFallback ? "the children stay in the cluster as they are, no longer updated, until it is fixed" : "nothing is deployed until it is fixed";
  const first = report.problems[0];
  const message = `${report.problems.length} problem(s), first ${first.path}: ${first.message}; ${keeping}`;
  return { type: "Ready", status: "False", reason: problemReason(report.problems), message, observedGeneration: report.generation };
}

/** The Ready condition until the writer has read the Deployment. */
function reconciling(report: ObjectReport): PendingCondition {
  return { type: "Ready", status: "Unknown", reason: "Reconciling", message: "Read from the Deployment when the status is written", observedGeneration: report.generation };
}

function driftCorrected(report: ObjectReport): PendingCondition | undefined {
  if (report.drift === undefined || report.drift.length === 0) return undefined;
  return { type: "DriftCorrected", status: "True", reason: "DriftCorrected", message: `Put back: ${report.drift.join("; ")}`, observedGeneration: report.generation };
}

/**
 * One object's status. An object applied without problems has its readiness read from the cluster when
 * the status is written (`live`); `readiness`, when given, is that reading already, and final.
 */
export function statusEntry(report: ObjectReport, readiness?: LiveReadiness): StatusEntry {
  const { group, version, plural } = KINDS[report.kind];
  const live = report.problems.length === 0 && report.applied !== undefined ? { deployment: report.name, copyCounts: report.kind === "EasyService" } : undefined;
  const ready = report.problems.length > 0 ? notReady(report) : reconciling(report);
  const drift = driftCorrected(report);
  const status: StatusBody = { conditions: drift === undefined ? [ready] : [ready, drift], problems: report.problems };
  if (report.generation !== undefined) status.observedGeneration = report.generation;
  if (report.applied !== undefined) status.lastAppliedSpec = maskSpec(report.applied.kind, report.applied.spec);
  if (report.applied?.kind === "TrackingServer") {
    status.url = report.applied.spec.url ?? `http://${report.name}.${report.namespace}.svc:${MLFLOW_PORT}`;
    const { volumeSize, storageClassName } = report.applied.spec;
    if (volumeSize !== undefined) {
      const storageClass = storageClassName === undefined ? "the cluster's default StorageClass" : `StorageClass ${storageClassName}`;
      status.volume = `PersistentVolumeClaim ${report.name} (${volumeSize}, ${storageClass})`;
    }
  }
  const entry: StatusEntry = { target: { group, version, plural, kind: report.kind, namespace: report.namespace, name: report.name, uid: report.uid }, status };
  if (live === undefined) return entry;
  // A reading given up front is final: the writer does not read the Deployment again.
  return readiness === undefined ? { ...entry, live } : { ...withReadiness({ ...entry, live }, readiness), live: undefined };
}

