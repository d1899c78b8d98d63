// What the program reports on each custom resource, in its `status` subresource. The CRDs declare these
// schemas, so `kubectl get -o yaml` and printer columns read them directly.
import { z } from "zod";

/** A condition as Kubernetes API conventions describe it (`metav1.Condition`). */
export const Condition = z.object({
  type: z.string().describe("Condition type, e.g. Ready"),
  status: z.enum(["True", "False", "Unknown"]),
  reason: z.string().describe("CamelCase reason for the status"),
  message: z.string().describe("Human-readable detail"),
  lastTransitionTime: z.string().describe("When the status last changed (RFC 3339)"),
  observedGeneration: z.number().int().optional(),
});
export type Condition = z.infer<typeof Condition>;

/**
 * A problem found in the spec, or with what the cluster holds: the field path, what is wrong, and, when
 * it is not the spec itself, why (e.g. `Collision`, `NotReferable`).
 */
export const SpecProblem = z.object({ path: z.string(), message: z.string(), reason: z.string().optional() });

const common = {
  observedGeneration: z.number().int().optional().describe("The metadata.generation this status describes"),
  conditions: z.array(Condition).optional(),
  problems: z.array(SpecProblem).optional().describe("Problems found in the spec or with what the cluster holds; while there are any, the children stay as the last valid spec made them"),
  lastAppliedSpec: z.record(z.string(), z.unknown()).optional().describe("The last valid spec the children were made from; secret fields read (secret)"),
};

export const TrackingServerStatus = z.object({
  ...common,
  url: z.string().optional().describe("Where the server is reached: the spec's url, else its in-cluster address"),
  volume: z.string().optional().describe("The PersistentVolumeClaim mounted at /mlflow and its StorageClass (the cluster's default unless storageClassName is set)"),
});
export type TrackingServerStatus = z.infer<typeof TrackingServerStatus>;

/** The original EasyService declared its status as the Deployment's status; these are its replica counts. */
export const EasyServiceStatus = z.object({
  ...common,
  replicas: z.number().int().optional(),
  updatedReplicas: z.number().int().optional(),
  readyReplicas: z.number().int().optional(),
  availableReplicas: z.number().int().optional(),
  unavailableReplicas: z.number().int().optional(),
});
export type EasyServiceStatus = z.infer<typeof EasyServiceStatus>;
