// Metadata every child shares: its name and namespace, the standard app.kubernetes.io labels, and the
// custom resource itself as a manifest.
import { apiVersionOf, CustomObject } from "../model/objects";

/** A Kubernetes object as the API server takes it. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: ObjectMetadata;
  [field: string]: unknown;
}

export interface ObjectMetadata {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: OwnerReference[];
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller: boolean;
  blockOwnerDeletion: boolean;
}

export const MANAGED_BY = "crdstack";

/** Labels of every child: `app.kubernetes.io/{name,instance,managed-by}` (Kubernetes recommended labels). */
export function childLabels(object: CustomObject, appName: string): Record<string, string> {
  return {
    "app.kubernetes.io/name": appName,
    "app.kubernetes.io/instance": object.metadata.name,
    "app.kubernetes.io/managed-by": MANAGED_BY,
  };
}

export function childMetadata(object: CustomObject, name: string, labels: Record<string, string>): ObjectMetadata {
  return { name, namespace: object.metadata.namespace, labels };
}

/** The custom resource as the `files` source creates it: the user's metadata and the parsed spec. */
export function customResourceManifest(object: CustomObject): Manifest {
  const { name, namespace, labels, annotations } = object.metadata;
  const metadata: ObjectMetadata = { name, namespace };
  if (labels !== undefined) metadata.labels = labels;
  if (annotations !== undefined) metadata.annotations = annotations;
  return { apiVersion: apiVersionOf(object.kind), kind: object.kind, metadata, spec: object.spec };
}

/** The ownerReference that ties a child to its custom resource, so garbage collection agrees with Pulumi. */
export function ownerReference(object: CustomObject, uid: string): OwnerReference {
  return { apiVersion: apiVersionOf(object.kind), kind: object.kind, name: object.metadata.name, uid, controller: true, blockOwnerDeletion: true };
}

/**
 * What the restricted Pod Security Standard asks of every container, whatever its user: no privilege
 * escalation (no setuid binaries) and no capabilities.
 * https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
 */
export const RESTRICTED_CONTAINER = { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } };

/** The system calls a child pod may make: the container runtime's default filter, as the restricted standard asks. */
export const RUNTIME_DEFAULT_SECCOMP = { seccompProfile: { type: "RuntimeDefault" } };
