// Collisions with what the cluster holds: a child the object would declare that exists already must be
// the object's own, or the program would overwrite (and later delete) an object it does not own. Such an
// object gets a problem on the field that makes that child and is declared from its last applied spec,
// like an invalid object; nothing is adopted or overwritten.
import { childrenOf } from "../builders/plan";
import { Manifest, MANAGED_BY } from "../builders/meta";
import { CustomObject, Problem } from "./objects";
import { controllerOf, Existing, ExistingObject, existingKey } from "./existing";

/** The annotation that names the custom resource a child belongs to (the retained claim has no ownerReference). */
export const OWNER_UID_ANNOTATION = "crdstack.io/owner-uid";

/** The annotation by which a user hands an object that no controller owns (e.g. a retained claim) to the object that would make it. */
export const ADOPT_ANNOTATION = "crdstack.io/adopt";

export const COLLISION = "Collision";

/** What the program knows of the custom resource whose children are checked. */
export interface Owner {
  /** Its uid in the cluster; undefined before the files source created it (first run). */
  uid?: string;
  /** The spec last applied for it, from its status. */
  lastAppliedSpec?: Record<string, unknown>;
}

const MANAGED_BY_LABEL = "app.kubernetes.io/managed-by";

/** A claim that crdstack retained (`retainVolume`): no controller, crdstack's label. */
const isRetainedClaim = (child: ExistingObject) => child.kind === "PersistentVolumeClaim" && controllerOf(child) === undefined && child.labels[MANAGED_BY_LABEL] === MANAGED_BY;

/**
 * Whether an existing object is the custom resource's own child: its controller is the custom resource
 * (the program's children, and the original Go controllers' ones being taken over). Otherwise, only when
 * no controller owns it (annotations are anyone's to write; a controller ownerReference names who holds
 * the object): it carries the custom resource's uid in `crdstack.io/owner-uid`; or it is a claim crdstack
 * retained for this very object (its last applied spec has a volume); or a user annotated it
 * `crdstack.io/adopt: "true"`.
 */
export function isOwnChild(child: ExistingObject, owner: Owner): boolean {
  const controller = controllerOf(child);
  if (controller !== undefined) return owner.uid !== undefined && controller.uid === owner.uid;
  if (owner.uid !== undefined && child.annotations[OWNER_UID_ANNOTATION] === owner.uid) return true;
  if (isRetainedClaim(child) && owner.lastAppliedSpec?.volumeSize !== undefined) return true;
  return child.annotations[ADOPT_ANNOTATION] === "true";
}

/** The spec field that makes a child: the one to change to do without it. */
export function fieldOf(object: CustomObject, child: Manifest): string {
  if (object.kind !== "TrackingServer") return "metadata.name";
  if (child.kind === "PersistentVolumeClaim") return "spec.volumeSize";
  if (child.kind === "Ingress") return "spec.url";
  if (child.kind === "Secret" && child.type === "kubernetes.io/tls") return "spec.cert";
  return "metadata.name";
}

/** Who holds an existing object, as far as its metadata says. */
function holderOf(child: ExistingObject): string {
  const controller = controllerOf(child);
  if (controller !== undefined) return `it belongs to ${controller.kind ?? "an object"} ${JSON.stringify(controller.name ?? "")} (uid ${controller.uid ?? "unknown"})`;
  const manager = child.labels[MANAGED_BY_LABEL];
  return manager === undefined ? "it was made outside crdstack" : `it is managed by ${JSON.stringify(manager)}`;
}

function collision(object: CustomObject, child: Manifest, existing: ExistingObject): Problem {
  const where = existingKey(existing.kind, existing.namespace, existing.name);
  const path = fieldOf(object, child);
  if (isRetainedClaim(existing)) {
    const message = `${where} was retained from an earlier object of this name, so it is not this ${object.kind}'s: to reuse its data, annotate it (kubectl annotate pvc ${existing.name} -n ${existing.namespace} ${ADOPT_ANNOTATION}=true); to start with an empty volume, delete it`;
    return { path, message, reason: COLLISION };
  }
  const adopt = controllerOf(existing) === undefined ? `, or annotate it ${ADOPT_ANNOTATION}=true to hand it over to this ${object.kind}` : "";
  const message = `${where} exists and is not this ${object.kind}'s (${holderOf(existing)}): choose another name or field value, delete that object${adopt}`;
  return { path, message, reason: COLLISION };
}

/** The children `object` would declare that exist in the cluster and are not its own, as problems. */
export function collisionProblems(object: CustomObject, owner: Owner, existing: Existing): Problem[] {
  const { namespace } = object.metadata;
  return childrenOf(object, { defaultImage: "-" }).flatMap((child) => {
    const found = existing.get(existingKey(child.kind, namespace, child.metadata.name));
    return found === undefined || isOwnChild(found, owner) ? [] : [collision(object, child, found)];
  });
}
