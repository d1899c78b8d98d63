// What the program writes into each custom resource's status, as a pure function of what it found: the
// problems in the spec, the object whose children it declared, and the Deployment's replica counts.
import { CustomObject, Kind, KINDS, maskSpec, Problem } from "../model/objects";
import { MLFLOW_PORT } from "./trackingServer";

/** The replica counts of a Deployment's status. */
export interface ReplicaCounts {
  replicas?: number;
  updatedReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  unavailableReplicas?: number;
}

/** The replica counts the status copies from the Deployment. */
export const REPLICA_COUNTS = ["replicas", "updatedReplicas", "readyReplicas", "availableReplicas", "unavailableReplicas"] as const;

/** A condition before the writer stamps `lastTransitionTime` (kept while the status does not change). */
export interface PendingCondition { type: "Ready"; status: "True" | "False" | "Unknown"; reason: string; message: string; observedGeneration?: number }

export interface StatusBody extends ReplicaCounts {
  observedGeneration?: number;
  conditions: PendingCondition[];
  problems: Problem[];
  lastAppliedSpec?: Record<string, unknown>;
  url?: string;
  volume?: string;
}

/** Where a status goes: the custom resource's coordinates. `uid` pins the write to this very object. */
export interface StatusTarget {
  group: string;
  version: string;
  plural: string;
  kind: Kind;
  namespace: string;
  name: string;
  uid?: string;
}

export interface StatusEntry { target: StatusTarget; status: StatusBody }

/** What the program found for one object. */
export interface ObjectReport {
  kind: Kind;
  namespace: string;
  name: string;
  uid?: string;
  generation?: number;
  /** Problems with the current spec; empty when it is applied. */
  problems: Problem[];
  /** The object whose children are declared: the current one, the last valid one, or none. */
  applied: CustomObject | undefined;
}

function readiness(report: ObjectReport, counts: ReplicaCounts | undefined): PendingCondition {
  const observedGeneration = report.generation;
  if (report.problems.length > 0) {
    const keeping = report.applied === undefined ? "nothing is deployed until it is fixed" : "the children stay as the last valid spec made them";
    return { type: "Ready", status: "False", reason: "InvalidSpec", message: `${report.problems.length} problem(s) in the spec; ${keeping}`, observedGeneration };
  }
  const wanted = report.applied?.spec.size ?? 0;
  if (counts === undefined || counts.replicas === undefined) {
    return { type: "Ready", status: "Unknown", reason: "Reconciling", message: "The Deployment has not reported its replicas yet", observedGeneration };
  }
  const ready = counts.readyReplicas ?? 0;
  return ready >= wanted
    ? { type: "Ready", status: "True", reason: "Available", message: `${ready}/${wanted} replicas ready`, observedGeneration }
    : { type: "Ready", status: "False", reason: "Progressing", message: `${ready}/${wanted} replicas ready`, observedGeneration };
}

export function statusEntry(report: ObjectReport, counts: ReplicaCounts | undefined): StatusEntry {
  const { group, version, plural } = KINDS[report.kind];
  const status: StatusBody = { conditions: [readiness(report, counts)], problems: report.problems };
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
  if (report.kind === "EasyService" && counts !== undefined) {
    for (const key of REPLICA_COUNTS) {
      if (counts[key] !== undefined) status[key] = counts[key];
    }
  }
  return { target: { group, version, plural, kind: report.kind, namespace: report.namespace, name: report.name, uid: report.uid }, status };
}
