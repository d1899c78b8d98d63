// What the cluster holds besides the custom resources, as far as the program decides anything from it:
// the metadata of the objects of the kinds its children have, and of the Secrets and ConfigMaps that a
// spec may refer to. Never a Secret's values: the lists are metadata only (sources/cluster.ts).

/** The kinds the program lists by metadata, with the API path of their collection. */
export const LISTED_KINDS = [
  { kind: "Secret", apiVersion: "v1", plural: "secrets" },
  { kind: "ConfigMap", apiVersion: "v1", plural: "configmaps" },
  { kind: "Service", apiVersion: "v1", plural: "services" },
  { kind: "PersistentVolumeClaim", apiVersion: "v1", plural: "persistentvolumeclaims" },
  { kind: "Deployment", apiVersion: "apps/v1", plural: "deployments" },
  { kind: "Ingress", apiVersion: "networking.k8s.io/v1", plural: "ingresses" },
] as const;
export type ListedKind = (typeof LISTED_KINDS)[number]["kind"];

/** An ownerReference as the API server returns it. https://kubernetes.io/docs/concepts/overview/working-with-objects/owner-references/ */
export interface ExistingOwner {
  apiVersion?: string;
  kind?: string;
  name?: string;
  uid?: string;
  controller?: boolean;
}

/** What an entry of `metadata.managedFields` says of who changed the object, and when (its fields left out). */
export interface ExistingManager {
  manager?: string;
  /** `Apply` (server-side apply) or `Update` (create, update, patch, edit). */
  operation?: string;
  /** RFC 3339, one-second resolution. */
  time?: string;
  /** `status` for a write of the status subresource; unset for the object itself. */
  subresource?: string;
}

/** One object of a listed kind, by its metadata. */
export interface ExistingObject {
  kind: ListedKind;
  namespace: string;
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  ownerReferences: ExistingOwner[];
  managedFields: ExistingManager[];
  /** A Secret's `type` (e.g. `kubernetes.io/tls`); unset for the other kinds. */
  type?: string;
}

/** The listed objects by `existingKey`; absent when the cluster could not be read (no checks are made). */
export type Existing = ReadonlyMap<string, ExistingObject>;

/** `<Kind> <namespace>/<name>`: the key of an object in `Existing`, and how messages name it. */
export const existingKey = (kind: string, namespace: string, name: string) => `${kind} ${namespace}/${name}`;

/** The object's controller ownerReference, if it has one. */
export const controllerOf = (object: ExistingObject) => object.ownerReferences.find((owner) => owner.controller === true);

/** The metadata the program keeps of a listed item (any other field is dropped). */
export function existingObject(kind: ListedKind, metadata: Record<string, any>, type?: string): ExistingObject {
  const entries = Array.isArray(metadata.managedFields) ? (metadata.managedFields as Record<string, unknown>[]) : [];
  const text = (value: unknown) => (typeof value === "string" ? value : undefined);
  return {
    kind,
    namespace: String(metadata.namespace ?? ""),
    name: String(metadata.name ?? ""),
    labels: { ...(metadata.labels ?? {}) },
    annotations: { ...(metadata.annotations ?? {}) },
    ownerReferences: Array.isArray(metadata.ownerReferences) ? (metadata.ownerReferences as ExistingOwner[]).map(({ apiVersion, kind, name, uid, controller }) => ({ apiVersion, kind, name, uid, controller })) : [],
    managedFields: entries.map((entry) => ({ manager: text(entry.manager), operation: text(entry.operation), time: text(entry.time), subresource: text(entry.subresource) })),
    ...(type === undefined ? {} : { type }),
  };
}

/** An index of listed objects. */
export function indexExisting(objects: readonly ExistingObject[]): Map<string, ExistingObject> {
  return new Map(objects.map((object) => [existingKey(object.kind, object.namespace, object.name), object]));
}
