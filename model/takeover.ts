// Taking over from the original Go controllers: what they leave on a custom resource, and how the
// fields they set on its children become the program's, so that its server-side apply removes the ones
// it no longer sets (a plain-text `value` beside its `valueFrom`, the nginx rewrite annotation, …).
// Pure functions; providers/takeover.ts does the requests.

/** The finalizer the original TrackingServer controller adds, and removes only when it runs. */
export const ORIGINAL_FINALIZER = "finalizers.aiscope.io/trackingserver";

/** The annotation in which the original EasyService controller keeps the spec it last applied. */
export const ORIGINAL_SPEC_ANNOTATION = "spec";

/** The field manager the Kubernetes provider applies every object of the program as. */
export const FIELD_MANAGER = "crdstack";

/** What the program removes from a custom resource once its children are the program's. */
export interface Handover {
  finalizers: string[];
  annotations: string[];
}

interface RawMetadata {
  finalizers?: unknown;
  annotations?: Record<string, unknown>;
}

/** The original controller's marks on a custom resource as the cluster holds it; undefined when it has none. */
export function handoverOf(kind: string, raw: unknown): Handover | undefined {
  const metadata = ((raw as { metadata?: RawMetadata } | undefined)?.metadata ?? {}) as RawMetadata;
  const finalizers = kind === "TrackingServer" && Array.isArray(metadata.finalizers) && metadata.finalizers.includes(ORIGINAL_FINALIZER) ? [ORIGINAL_FINALIZER] : [];
  const annotation = metadata.annotations?.[ORIGINAL_SPEC_ANNOTATION];
  const annotations = kind === "EasyService" && typeof annotation === "string" && isSpecJson(annotation) ? [ORIGINAL_SPEC_ANNOTATION] : [];
  return finalizers.length === 0 && annotations.length === 0 ? undefined : { finalizers, annotations };
}

/** A child the original controllers made: every one is named like its custom resource. */
export interface OriginalChild {
  apiVersion: string;
  kind: string;
  /** Only its metadata changes hands: a claim's spec cannot change. */
  metadataOnly: boolean;
}

/** The kinds of children each original controller made (aiscope's TrackingServer, webapp-operator's EasyService). */
export const ORIGINAL_CHILDREN: Record<"TrackingServer" | "EasyService", readonly OriginalChild[]> = {
  TrackingServer: [
    { apiVersion: "v1", kind: "Secret", metadataOnly: false },
    { apiVersion: "v1", kind: "PersistentVolumeClaim", metadataOnly: true },
    { apiVersion: "v1", kind: "Service", metadataOnly: false },
    { apiVersion: "networking.k8s.io/v1", kind: "Ingress", metadataOnly: false },
    { apiVersion: "apps/v1", kind: "Deployment", metadataOnly: false },
  ],
  EasyService: [
    { apiVersion: "v1", kind: "Service", metadataOnly: false },
    { apiVersion: "apps/v1", kind: "Deployment", metadataOnly: false },
  ],
};

/** The EasyService controller's annotation holds its spec as JSON (`{"size":…,"image":…}`). */
function isSpecJson(text: string): boolean {
  try {
    const value = JSON.parse(text) as unknown;
    return typeof value === "object" && value !== null && "image" in value;
  } catch {
    return false;
  }
}

/** One entry of `metadata.managedFields`. */
export interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  apiVersion?: string;
  time?: string;
  fieldsType?: string;
  fieldsV1?: Record<string, unknown>;
  subresource?: string;
}

/**
 * Whether a field manager is one of Kubernetes' own components (kube-controller-manager, kube-scheduler,
 * kubelet, …), whose writes (a Deployment's revision annotation, a claim's binding) are not drift. The
 * same list decides what drift is (model/drift.ts).
 */
export const isKubernetesComponent = (manager: string) => manager.startsWith("kube-") || manager === "kubelet";

/**
 * Whether an entry's fields pass to the program: set by an update (a controller's or kubectl's
 * create/update/patch/edit, not an apply, which its owner may repeat) of the object itself (not its
 * status), by anyone but Kubernetes' own components (the deployment controller's revision annotation).
 */
function handedOver(entry: ManagedFieldsEntry, apiVersion: string): boolean {
  // Field paths are those of the entry's apiVersion: an entry of another version is left as it is.
  return entry.operation === "Update" && (entry.subresource ?? "") === "" && entry.apiVersion === apiVersion && !isKubernetesComponent(entry.manager ?? "");
}

/** Whether the program applied the object already: it is the program's, and nothing changes hands any more. */
const appliedByProgram = (entries: readonly ManagedFieldsEntry[]) => entries.some((entry) => entry.manager === FIELD_MANAGER && entry.operation === "Apply");

/** Union of two FieldsV1 sets (nested maps of `f:`/`k:`/`v:`/`i:` keys; `.` marks a field itself). */
export function mergeFields(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [key, value] of Object.entries(b)) {
    const mine = out[key];
    out[key] = isMap(mine) && isMap(value) ? mergeFields(mine, value) : mine ?? value;
  }
  return out;
}

const isMap = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * Fields the API server defaulted, which therefore nobody owns, that the program takes as well: a
 * Deployment's rolling-update parameters, which a switch to `Recreate` must remove (the API server
 * refuses them beside it, and an apply removes only fields its manager owned).
 */
const DEFAULTED_FIELDS: Record<string, Record<string, unknown>> = {
  Deployment: { "f:spec": { "f:strategy": { "f:rollingUpdate": { ".": {}, "f:maxSurge": {}, "f:maxUnavailable": {} }, "f:type": {} } } },
};

/**
 * The managed fields after the hand-over, or undefined when nothing changes (nothing to take, or the
 * program applied the object already): the handed-over entries' fields become the program's apply
 * entry. With `metadataOnly` (a claim, whose spec is immutable) only their `metadata` does: its labels,
 * annotations and ownerReferences become the program's. With `reclaim` (drift: someone updated an
 * object the program applied) they join the program's own apply entry.
 */
export function handOverFields(entries: readonly ManagedFieldsEntry[], kind: string, apiVersion: string, now: string, metadataOnly = false, reclaim = false): ManagedFieldsEntry[] | undefined {
  const taken = entries.filter((entry) => handedOver(entry, apiVersion));
  if (taken.length === 0 || (!reclaim && appliedByProgram(entries))) return undefined;
  const own = reclaim ? entries.find((entry) => entry.manager === FIELD_MANAGER && entry.operation === "Apply" && entry.apiVersion === apiVersion) : undefined;
  let fields = own?.fieldsV1 ?? DEFAULTED_FIELDS[kind] ?? {};
  const kept: ManagedFieldsEntry[] = [];
  for (const entry of entries) {
    if (entry === own) continue;
    if (!taken.includes(entry)) {
      kept.push(entry);
      continue;
    }
    const { "f:metadata": metadata, ...rest } = entry.fieldsV1 ?? {};
    const given = metadataOnly ? (metadata === undefined ? {} : { "f:metadata": metadata }) : (entry.fieldsV1 ?? {});
    fields = mergeFields(fields, given);
    if (metadataOnly && Object.keys(rest).length > 0) kept.push({ ...entry, fieldsV1: rest });
  }
  const entry: ManagedFieldsEntry = { manager: FIELD_MANAGER, operation: "Apply", apiVersion, time: now, fieldsType: "FieldsV1", fieldsV1: fields };
  return [...kept, entry];
}
