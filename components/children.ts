// What the components do the same way: register the custom resource itself (files source), tie every
// child to it with an ownerReference, keep secret values secret in Pulumi state, and register a plain
// manifest as its typed resource.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { customResourceManifest, Manifest, ownerReference, OwnerReference } from "../builders/meta";
import { OWNER_UID_ANNOTATION } from "../model/collisions";
import { apiVersionOf, CustomObject, SECRET_FIELDS } from "../model/objects";
import { Markers, RECREATED_ANNOTATION } from "../model/markers";
import { FIELD_MANAGER, Handover, ORIGINAL_CHILDREN } from "../model/takeover";
import { ObjectAnchor } from "../providers/anchor";
import { Takeover, TakeoverObject } from "../providers/takeover";

/** Where the component's custom resource lives, which decides whether it registers it. */
export type CustomResourceSource =
  /**
   * The program creates the custom resource from a file (after the CRDs in `dependsOn`); `uid` is its
   * uid when the cluster already has it.
   */
  | {
    create: true;
    dependsOn: pulumi.Input<pulumi.Resource>[];
    uid: string | undefined;
    handover?: Handover;
    reclaim?: readonly Reclaim[];
    markers?: Markers;
    /** This run's marker when the cluster was read and the custom resource is not there. */
    recreated?: string;
  }
  /** The custom resource already exists in the cluster (a user created it); `uid` is its uid. */
  | { create: false; uid: string | undefined; handover?: Handover; reclaim?: readonly Reclaim[]; markers?: Markers };

/** A child someone updated by hand since the program last applied it (`Planned.reclaim`, model/reconcile.ts). */
export interface Reclaim { kind: string; name: string }

/** The Pulumi resource name of a namespaced object: `<namespace>/<name>`. */
export function resourceName(manifest: Manifest): string {
  return `${manifest.metadata.namespace}/${manifest.metadata.name}`;
}

/** Marks the named top-level fields of `values` as Pulumi secrets. */
export function withSecrets<T extends object>(values: T, fields: readonly string[]): T {
  const out = { ...values } as Record<string, unknown>;
  for (const field of fields) {
    if (out[field] !== undefined) out[field] = pulumi.secret(out[field]);
  }
  return out as T;
}

/**
 * Registers the custom resource when the source asks for it; secret spec fields stay secret. With
 * `keepSpec` (the object is declared from its last applied spec) the spec in the cluster is left as it is.
 * Deleting it deletes its children first (foreground propagation: the provider's delete returns once
 * they are gone), so a run that removes an object leaves none of its children behind (see `anchorOf`).
 */
export function registerCustomResource(
  object: CustomObject,
  source: CustomResourceSource,
  keepSpec: boolean,
  parent: pulumi.Resource,
  takeover: Takeover | undefined,
): k8s.apiextensions.CustomResource | undefined {
  if (!source.create) return undefined;
  const manifest = owned<Manifest>(customResourceManifest(object), undefined);
  // Gone from a cluster that was read (deleted by hand): made again, like a child (model/markers.ts).
  const gone: Record<string, string> = source.recreated === undefined ? {} : { [RECREATED_ANNOTATION]: source.recreated };
  const metadata = { ...manifest.metadata, annotations: { ...manifest.metadata.annotations, [DELETION_PROPAGATION]: "foreground", ...gone } };
  return new k8s.apiextensions.CustomResource(
    resourceName(manifest),
    { ...manifest, metadata, spec: withSecrets(object.spec, SECRET_FIELDS[object.kind]) },
    { ...recreateIfGone({ ...manifest, metadata }), parent, dependsOn: [...source.dependsOn, ...(takeover === undefined ? [] : [takeover])], ignoreChanges: keepSpec ? ["spec"] : [] },
  );
}

/** The provider's annotation that sets the propagation policy of its delete. */
export const DELETION_PROPAGATION = "pulumi.com/deletionPropagationPolicy";

/**
 * What every child of the object is `deletedWith`: the custom resource the files source registers, or an
 * `ObjectAnchor` for one a user created (cluster source). When the object leaves the program, Pulumi
 * deletes the anchor and drops the children from its state without deleting them: Kubernetes' garbage
 * collector removes them through their ownerReference when the custom resource is really gone (the files
 * source deletes it; a user deleted it), and nothing is deleted when only the stack stopped serving the
 * object's namespace. A child that leaves while its object stays is deleted by Pulumi as usual.
 */
export function anchorOf(object: CustomObject, source: CustomResourceSource, customResource: k8s.apiextensions.CustomResource | undefined, parent: pulumi.Resource): pulumi.Resource {
  if (customResource !== undefined) return customResource;
  const { name, namespace } = object.metadata;
  return new ObjectAnchor(takeoverName(object.kind, namespace, name), { apiVersion: apiVersionOf(object.kind), kind: object.kind, namespace, name, uid: source.uid }, { parent });
}

/**
 * When the original controller reconciled the object (its marks are on it), the fields it set on the
 * children it made are handed to the program before it applies them (not those of the custom resource:
 * its marks would go with them, before the children are applied): see model/takeover.ts. Only children whose controller
 * ownerReference names this very custom resource change hands.
 */
export function declareTakeover(object: CustomObject, source: CustomResourceSource, parent?: pulumi.Resource): Takeover | undefined {
  const { handover, uid } = source;
  if (uid === undefined) return undefined;
  const { name, namespace } = object.metadata;
  if (handover === undefined) return declareReclaim(object, uid, source.reclaim ?? [], parent);
  const objects: TakeoverObject[] = ORIGINAL_CHILDREN[object.kind].map(({ apiVersion, kind, metadataOnly }) => ({ apiVersion, kind, namespace, name, owner: uid, metadataOnly }));
  return new Takeover(takeoverName(object.kind, namespace, name), { objects }, { parent });
}

/** Every kind of child, with its apiVersion (the TrackingServer's children include the EasyService's kinds). */
const CHILD_KINDS = new Map(ORIGINAL_CHILDREN.TrackingServer.map((child) => [child.kind, child]));

/**
 * Drift the program puts back: a child someone updated by hand (`kubectl edit`, `kubectl patch`) has the
 * fields they set handed to the program first, as in a take-over, so that its forced apply both restores
 * what it sets and removes what they added (a second port, an extra variable), instead of keeping their
 * additions beside its own (which can make the object invalid: two unnamed Service ports).
 */
function declareReclaim(object: CustomObject, uid: string, reclaim: readonly Reclaim[], parent?: pulumi.Resource): Takeover | undefined {
  const { name, namespace } = object.metadata;
  const objects = reclaim.flatMap(({ kind, name: child }): TakeoverObject[] => {
    const known = CHILD_KINDS.get(kind);
    return known === undefined ? [] : [{ apiVersion: known.apiVersion, kind, namespace, name: child, owner: uid, metadataOnly: known.metadataOnly, reclaim: true }];
  });
  if (objects.length === 0) return undefined;
  return new Takeover(`${takeoverName(object.kind, namespace, name)}/drift`, { objects }, { parent });
}

/**
 * Once the children are applied, the marks leave the custom resource: the finalizer nothing would
 * remove any more, the annotation nothing reads. (Released earlier, a failed apply would leave no mark
 * to take over from on the next run.)
 */
export function declareRelease(object: CustomObject, source: CustomResourceSource, after: pulumi.Resource[], parent?: pulumi.Resource): Takeover | undefined {
  const { handover, uid } = source;
  if (handover === undefined || uid === undefined) return undefined;
  const { name, namespace } = object.metadata;
  const release = { apiVersion: apiVersionOf(object.kind), kind: object.kind, namespace, name, uid, ...handover };
  return new Takeover(`${takeoverName(object.kind, namespace, name)}/release`, { objects: [], release }, { parent, dependsOn: after });
}

/** A take-over's resource name, `<Kind>/<namespace>/<name>`: unique across both kinds. */
const takeoverName = (kind: string, namespace: string, name: string) => `${kind}/${namespace}/${name}`;

/** The ownerReference of the children, once known. */
export type Owner = pulumi.Output<OwnerReference>;

/**
 * The ownerReference for the children, once the custom resource exists. A preview of a custom resource
 * that this run creates has no uid to refer to (the API server's dry run refuses an empty one), so its
 * children are previewed without the reference; the update adds it.
 */
export function ownerOf(
  object: CustomObject,
  source: CustomResourceSource,
  customResource: k8s.apiextensions.CustomResource | undefined,
): Owner | undefined {
  if (customResource !== undefined && !pulumi.runtime.isDryRun()) return customResource.metadata.uid.apply((uid) => ownerReference(object, uid));
  return source.uid === undefined ? undefined : pulumi.output(ownerReference(object, source.uid));
}

/**
 * The ownerReference once the take-over is done. A preview then does not dry-run the children against
 * objects that still hold the other controller's fields (a plain `value` beside the program's
 * `valueFrom` would be refused): the provider previews a resource with an unknown input as it is.
 */
export function ownerAfter(owner: Owner | undefined, takeover: Takeover | undefined): Owner | undefined {
  if (owner === undefined || takeover === undefined) return owner;
  // A preview knows the take-over's outputs already (the engine previews a create with its inputs).
  if (pulumi.runtime.isDryRun()) return pulumi.output(pulumi.unknown) as unknown as Owner;
  return pulumi.all([takeover.handedOver, owner]).apply(([, reference]) => reference);
}

/**
 * A resource's arguments: the builder's manifest with the ownerReference added (unless `reference` is
 * false: a retained claim outlives its object) and the owner's uid in OWNER_UID_ANNOTATION, which tells
 * the object's own children from others of the same name (model/collisions.ts). The builders return
 * plain manifests (so `render` needs no Pulumi engine); `A` names the resource's argument type, which the
 * manifest has the shape of, as the test comparing the program with `render` checks.
 */
export function owned<A>(manifest: Manifest, owner: Owner | undefined, reference = true): A {
  const withOwner = owner === undefined || !reference ? manifest.metadata : { ...manifest.metadata, ownerReferences: [owner] };
  const ownerUid = owner === undefined ? {} : { [OWNER_UID_ANNOTATION]: owner.apply((o) => o.uid) };
  const annotations = { ...withOwner.annotations, ...ownerUid, [PATCH_FIELD_MANAGER]: FIELD_MANAGER, [PATCH_FORCE]: "true", [SKIP_AWAIT]: "true" };
  return { ...manifest, metadata: { ...withOwner, annotations } } as A;
}

/** The child with the markers of what this run puts back (model/markers.ts), when the cluster was read. */
export function marked(manifest: Manifest, source: CustomResourceSource): Manifest {
  const markers = source.markers?.get(`${manifest.kind} ${manifest.metadata.name}`);
  if (markers === undefined || Object.keys(markers).length === 0) return manifest;
  return { ...manifest, metadata: { ...manifest.metadata, annotations: { ...manifest.metadata.annotations, ...markers } } };
}

/**
 * The options of a child that is gone from the cluster (its `crdstack.io/recreated` marker is this run's):
 * Pulumi replaces it, deleting what it holds (nothing is left to delete) before it creates it again.
 * Others have none: a marker changed by hand on a live child is an in-place update, never a replacement.
 */
export function recreateIfGone(manifest: Manifest): pulumi.CustomResourceOptions {
  return manifest.metadata.annotations?.[RECREATED_ANNOTATION] === RUN_MARKER ? { replaceOnChanges: [`metadata.annotations["${RECREATED_ANNOTATION}"]`], deleteBeforeReplace: true } : {};
}

/** This run's value of the `crdstack.io/recreated` marker: any value that differs from the last one will do. */
export const RUN_MARKER = new Date().toISOString();

/**
 * The provider's annotation that names the field manager it applies as. One fixed name (instead of a
 * random one per resource) is what lets a take-over hand it the fields of the controller it replaces.
 */
export const PATCH_FIELD_MANAGER = "pulumi.com/patchFieldManager";

/**
 * The provider's annotation that makes its apply take a field another manager set (a `kubectl edit`,
 * the provider's own random manager of an earlier version of the program) instead of failing the run
 * with a conflict: what the spec says wins, as with the controllers the program replaces.
 */
export const PATCH_FORCE = "pulumi.com/patchForce";

/**
 * The provider's annotation that makes it record the object its apply returned instead of awaiting
 * readiness: on every object the program applies. A Deployment whose pods never get ready would hold
 * the run (and every other tenant of the stack) for the provider's ten-minute await; readiness is the
 * status's business (providers/readiness.ts). The Service and Ingress awaits could also record the
 * object from before the update. (Deletions are still awaited.)
 */
export const SKIP_AWAIT = "pulumi.com/skipAwait";

/** A Secret's arguments (built with `stringData`), with every value marked secret. */
export function secretArgs(manifest: Manifest, owner: Owner | undefined): k8s.core.v1.SecretArgs {
  return { ...owned<k8s.core.v1.SecretArgs>(manifest, owner), stringData: pulumi.secret(manifest.stringData as Record<string, string>) };
}

type ManifestResource = new (name: string, args: any, opts?: pulumi.CustomResourceOptions) => pulumi.CustomResource;

/** The resource class of each kind the program registers from a plain manifest. */
const RESOURCE_CLASSES: Record<string, ManifestResource> = {
  Namespace: k8s.core.v1.Namespace,
  ServiceAccount: k8s.core.v1.ServiceAccount,
  ConfigMap: k8s.core.v1.ConfigMap,
  Secret: k8s.core.v1.Secret,
  Service: k8s.core.v1.Service,
  PersistentVolumeClaim: k8s.core.v1.PersistentVolumeClaim,
  Deployment: k8s.apps.v1.Deployment,
  Ingress: k8s.networking.v1.Ingress,
  ClusterRole: k8s.rbac.v1.ClusterRole,
  ClusterRoleBinding: k8s.rbac.v1.ClusterRoleBinding,
  Role: k8s.rbac.v1.Role,
  RoleBinding: k8s.rbac.v1.RoleBinding,
  CustomResourceDefinition: k8s.apiextensions.v1.CustomResourceDefinition,
  ValidatingAdmissionPolicy: k8s.admissionregistration.v1.ValidatingAdmissionPolicy,
  ValidatingAdmissionPolicyBinding: k8s.admissionregistration.v1.ValidatingAdmissionPolicyBinding,
};

/** Registers a manifest as its typed resource (or as a CustomResource), named `<namespace>/<name>` or `<name>`. */
export function registerManifest(manifest: Manifest, opts: pulumi.CustomResourceOptions): pulumi.CustomResource {
  const name = manifest.metadata.namespace === undefined ? manifest.metadata.name : resourceName(manifest);
  const Class = RESOURCE_CLASSES[manifest.kind] ?? (k8s.apiextensions.CustomResource as unknown as ManifestResource);
  return new Class(name, manifest, opts);
}
