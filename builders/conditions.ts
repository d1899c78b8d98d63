// The shapes of a status and the Ready condition read from the cluster, apart from builders/status.ts:
// the status writer (a dynamic provider, serialized with what it uses) needs them without the schemas
// that module pulls in, so this module imports types only.
import type { Kind, Problem } from "../model/objects";

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

/** The condition types the program writes. */
export type ConditionType = "Ready" | "DriftCorrected";

/** A condition before the writer stamps `lastTransitionTime` (kept while the status does not change). */
export interface PendingCondition { type: ConditionType; status: "True" | "False" | "Unknown"; reason: string; message: string; observedGeneration?: number }

/**
 * Conditions a status keeps from the one before when the new one does not have them: `DriftCorrected`
 * says what the last run that found drift put back, until a run finds drift again.
 */
export const KEPT_CONDITIONS: readonly ConditionType[] = ["DriftCorrected"];

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

/**
 * What the writer reads from the API server before it writes: the Deployment of that name in the
 * object's namespace. Its readiness replaces the entry's `Ready` condition; an EasyService also gets its
 * replica counts (the original controller's status was the Deployment's).
 */
export interface LiveSource { deployment: string; copyCounts: boolean }

export interface StatusEntry { target: StatusTarget; status: StatusBody; live?: LiveSource }

/** What the API server said about an object's Deployment (and one of its pods), reduced to the status. */
export interface LiveReadiness { ready: PendingCondition; counts?: ReplicaCounts }

/** The entry's status with the Ready condition (and, for an EasyService, the replica counts) read from the cluster. */
export function withReadiness(entry: StatusEntry, readiness: LiveReadiness): StatusEntry {
  const observedGeneration = entry.status.observedGeneration;
  const ready = { ...readiness.ready, ...(observedGeneration === undefined ? {} : { observedGeneration }) };
  const status: StatusBody = { ...entry.status, conditions: entry.status.conditions.map((condition) => (condition.type === "Ready" ? ready : condition)) };
  if (entry.live?.copyCounts && readiness.counts !== undefined) {
    for (const key of REPLICA_COUNTS) {
      if (readiness.counts[key] !== undefined) status[key] = readiness.counts[key];
    }
  }
  return { ...entry, status };
}
