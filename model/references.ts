// References a tenant controls: a spec may name a Secret or ConfigMap of its namespace only when that
// object allows it with the label `crdstack.io/referable: "true"`. Creating a TrackingServer or an
// EasyService would otherwise let anyone who may create one read any Secret of the namespace through the
// pods it makes, even without the right to read Secrets.
import { childrenOf } from "../builders/plan";
import { MANAGED_BY } from "../builders/meta";
import { CustomObject, Problem } from "./objects";
import { Existing, existingKey } from "./existing";

/** The label a Secret or ConfigMap carries, with the value `"true"`, to be named by a spec. */
export const REFERABLE_LABEL = "crdstack.io/referable";

export const NOT_REFERABLE = "NotReferable";
export const NOT_FOUND = "NotFound";

/** One object a spec names. */
export interface Reference {
  kind: "Secret" | "ConfigMap";
  name: string;
  /** The field that names it. */
  path: string;
  /**
   * The spec marks the reference `optional: true`. A missing object is a problem all the same: the check
   * is made when the spec is applied, and pods would read an object of that name made later, label or not.
   */
  optional: boolean;
  /** The object is used only if it exists when the program runs (the TLS Secret of an Ingress), so a missing one is no problem. */
  ifExists?: boolean;
  /** What the object is for, in messages. */
  use: string;
}

/**
 * What `object` names: the Secrets and ConfigMaps of an EasyService's `envs[].valueFrom`, a
 * TrackingServer's `s3CredentialsSecret`, and the TLS Secret `<name>` its Ingress uses when one exists.
 */
export function referencesOf(object: CustomObject): Reference[] {
  if (object.kind === "TrackingServer") {
    const { s3CredentialsSecret, url, cert } = object.spec;
    const references: Reference[] = [];
    if (s3CredentialsSecret !== undefined) references.push({ kind: "Secret", name: s3CredentialsSecret, path: "spec.s3CredentialsSecret", optional: false, use: "the S3 keys" });
    if (url !== undefined && cert === undefined) references.push({ kind: "Secret", name: object.metadata.name, path: "spec.url", optional: false, ifExists: true, use: "the Ingress's TLS certificate" });
    return references;
  }
  return (object.spec.envs ?? []).flatMap((env, i): Reference[] => {
    const from = env.valueFrom;
    const path = `spec.envs[${i}].valueFrom`;
    if (from?.secretKeyRef !== undefined) return [{ kind: "Secret", name: from.secretKeyRef.name, path: `${path}.secretKeyRef.name`, optional: from.secretKeyRef.optional === true, use: `the variable ${env.name}` }];
    if (from?.configMapKeyRef !== undefined) return [{ kind: "ConfigMap", name: from.configMapKeyRef.name, path: `${path}.configMapKeyRef.name`, optional: from.configMapKeyRef.optional === true, use: `the variable ${env.name}` }];
    return [];
  });
}

/** The problems of `object`'s references against what the namespace holds; the object's own Secrets are exempt. */
export function referenceProblems(object: CustomObject, existing: Existing): Problem[] {
  const { namespace } = object.metadata;
  const own = new Set(childrenOf(object, { defaultImage: "-" }).filter((child) => child.kind === "Secret").map((child) => child.metadata.name));
  return referencesOf(object).flatMap((reference): Problem[] => {
    const { kind, name, path } = reference;
    if (kind === "Secret" && own.has(name)) return [];
    const where = existingKey(kind, namespace, name);
    const found = existing.get(where);
    // The Ingress uses a TLS Secret made elsewhere (e.g. by cert-manager); crdstack's own come and go with cert and key.
    if (reference.ifExists && (found?.type !== "kubernetes.io/tls" || found.labels["app.kubernetes.io/managed-by"] === MANAGED_BY)) return [];
    if (found === undefined) {
      const optional = reference.optional ? ` (optional: true does not exempt it: pods would read a ${kind} of that name made later, whether it allows specs to name it or not)` : "";
      return [{ path, message: `${where} does not exist: create it with the label ${REFERABLE_LABEL}: "true" for ${reference.use}, or name another one${optional}`, reason: NOT_FOUND }];
    }
    if (found.labels[REFERABLE_LABEL] === "true") return [];
    const command = `kubectl label ${kind.toLowerCase()} ${name} -n ${namespace} ${REFERABLE_LABEL}=true`;
    return [{
      path,
      message: `${where} does not allow specs to name it (${reference.use}): it needs the label ${REFERABLE_LABEL}: "true", which whoever owns it may add (${command})`,
      reason: NOT_REFERABLE,
    }];
  });
}
