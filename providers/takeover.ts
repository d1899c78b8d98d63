// A Pulumi dynamic provider that hands objects over to the program before it applies them (see
// model/takeover.ts): the fields another controller or kubectl set become the program's field manager's,
// and the original controller's marks leave the custom resource. It runs in `pulumi up` only; a preview
// changes nothing.
//
// Dynamic providers are serialized with the program: the methods `require` what they use inside.
import * as pulumi from "@pulumi/pulumi";
import type { KubernetesObject, KubernetesObjectApi } from "@kubernetes/client-node";
import type { Manifest } from "../builders/meta";
import { Handover, handOverFields, ManagedFieldsEntry } from "../model/takeover";

/** An object to hand over. */
export interface TakeoverObject {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
  /** The uid its controller ownerReference must name (the custom resource's); unset: whoever made it. */
  owner?: string;
  /** Only its metadata changes hands (a claim, whose spec is immutable). */
  metadataOnly?: boolean;
  /** The program applied it already and someone updated it since (drift): their fields join the program's. */
  reclaim?: boolean;
  /**
   * Replaces the object as a whole when nobody applied it yet (a CRD that kubectl installed): the API
   * server keeps its uid and, for a CRD, its stored objects.
   */
  replacement?: Manifest;
}

/** The custom resource that loses the original controller's marks, once its children are handed over. */
export interface TakeoverRelease extends Handover {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  uid?: string;
}

interface ProviderInputs {
  objects: TakeoverObject[];
  release?: TakeoverRelease;
}

interface ProviderOutputs extends ProviderInputs {
  /** `<Kind> <namespace>/<name>` of each object whose fields changed hands. */
  handedOver: string[];
  /** Whether the marks left the custom resource; false when the program may not patch it (403). */
  released: boolean;
}

const httpCode = (error: unknown) => (error as { code?: number }).code;

const objectName = (o: { kind: string; namespace?: string; name: string }) => `${o.kind} ${o.namespace ?? ""}/${o.name}`;

type Live = KubernetesObject & { metadata: { managedFields?: ManagedFieldsEntry[]; ownerReferences?: { uid: string; controller?: boolean }[]; finalizers?: string[]; resourceVersion?: string; uid?: string } };

/** Reads an object; undefined when it does not exist. */
async function read(api: KubernetesObjectApi, o: { apiVersion: string; kind: string; namespace?: string; name: string }): Promise<Live | undefined> {
  try {
    return (await api.read({ apiVersion: o.apiVersion, kind: o.kind, metadata: { name: o.name, namespace: o.namespace } })) as Live;
  } catch (error) {
    if (httpCode(error) === 404) return undefined;
    throw error;
  }
}

/** A JSON merge patch pinned to the resourceVersion it was computed from, retried on a conflict. */
async function patchAt(api: KubernetesObjectApi, o: TakeoverObject | TakeoverRelease, change: (live: Live) => Record<string, unknown> | undefined): Promise<boolean> {
  const { PatchStrategy } = require("@kubernetes/client-node") as typeof import("@kubernetes/client-node");
  for (let attempt = 1; ; attempt++) {
    const live = await read(api, o);
    if (live === undefined) return false;
    const metadata = change(live);
    if (metadata === undefined) return false;
    const body = { apiVersion: o.apiVersion, kind: o.kind, metadata: { name: o.name, namespace: o.namespace, resourceVersion: live.metadata.resourceVersion, ...metadata } };
    try {
      await api.patch(body, undefined, undefined, undefined, undefined, PatchStrategy.MergePatch);
      return true;
    } catch (error) {
      if (httpCode(error) === 404) return false;
      if (httpCode(error) === 409 && attempt < 5) continue;
      throw error;
    }
  }
}

/** Replaces an object that exists and that nobody applied server-side; returns whether it did. */
async function replaceUnapplied(api: KubernetesObjectApi, o: TakeoverObject, replacement: NonNullable<TakeoverObject["replacement"]>): Promise<boolean> {
  for (let attempt = 1; ; attempt++) {
    const live = await read(api, o);
    // Applied server-side by anyone (the provider, Helm, Argo CD): not replaced, its manager may apply it again.
    if (live === undefined || (live.metadata.managedFields ?? []).some((entry) => entry.operation === "Apply")) return false;
    try {
      await api.replace({ ...replacement, metadata: { ...replacement.metadata, resourceVersion: live.metadata.resourceVersion } });
      return true;
    } catch (error) {
      if (httpCode(error) === 409 && attempt < 5) continue;
      throw error;
    }
  }
}

/** Hands every object over, then releases the custom resource. */
async function takeOver(api: KubernetesObjectApi, inputs: ProviderInputs, now = new Date().toISOString()): Promise<{ handedOver: string[]; released: boolean }> {
  const handedOver: string[] = [];
  for (const o of inputs.objects) {
    if (o.replacement !== undefined) {
      if (await replaceUnapplied(api, o, o.replacement)) handedOver.push(objectName(o));
      continue;
    }
    const changed = await patchAt(api, o, (live) => {
      const owned = o.owner === undefined || (live.metadata.ownerReferences ?? []).some((ref) => ref.controller === true && ref.uid === o.owner);
      const managedFields = owned ? handOverFields(live.metadata.managedFields ?? [], o.kind, o.apiVersion, now, o.metadataOnly === true, o.reclaim === true) : undefined;
      return managedFields === undefined ? undefined : { managedFields };
    });
    if (changed) handedOver.push(objectName(o));
  }
  const release = inputs.release;
  if (release === undefined) return { handedOver, released: false };
  try {
    await patchAt(api, release, (live) => {
      if (release.uid !== undefined && live.metadata.uid !== release.uid) return undefined;
      const finalizers = live.metadata.finalizers ?? [];
      const keep = finalizers.filter((f) => !release.finalizers.includes(f));
      const annotations = Object.fromEntries(release.annotations.filter((a) => live.metadata.annotations?.[a] !== undefined).map((a) => [a, null]));
      if (keep.length === finalizers.length && Object.keys(annotations).length === 0) return undefined;
      return { ...(keep.length === finalizers.length ? {} : { finalizers: keep }), ...(Object.keys(annotations).length === 0 ? {} : { annotations }) };
    });
  } catch (error) {
    // In the cluster without `crdstack:operator.takeover`, the workspace may not: a tenant's object that
    // carries a mark must not fail everyone's run. The marks stay; the next run tries again.
    if (httpCode(error) === 403) return { handedOver, released: false };
    throw error;
  }
  return { handedOver, released: true };
}

/** The API client from the kubeconfig (KUBECONFIG, ~/.kube/config) or the pod's service account. */
function defaultApi(): KubernetesObjectApi {
  const k8s = require("@kubernetes/client-node") as typeof import("@kubernetes/client-node");
  const config = new k8s.KubeConfig();
  config.loadFromDefault();
  return k8s.KubernetesObjectApi.makeApiClient(config);
}

const takeoverProvider: pulumi.dynamic.ResourceProvider = {
  // A custom resource's take-over is declared only while its marks are on it, and each run does it
  // again (a mark may have come back: the original controller re-adds its finalizer while it runs);
  // done, it changes nothing. The CRDs' (no marks) runs when its objects change.
  async diff(_id: string, olds: ProviderOutputs, news: ProviderInputs) {
    const changes = news.release !== undefined || JSON.stringify(olds.objects) !== JSON.stringify(news.objects);
    return { changes, replaces: [], deleteBeforeReplace: false };
  },

  async create(inputs: ProviderInputs) {
    return { id: "takeover", outs: { ...inputs, ...(await takeOver(defaultApi(), inputs)) } satisfies ProviderOutputs };
  },

  async update(_id: string, _olds: ProviderOutputs, news: ProviderInputs) {
    return { outs: { ...news, ...(await takeOver(defaultApi(), news)) } satisfies ProviderOutputs };
  },

  // What changed hands stays the program's.
  async delete() {},
};

export interface TakeoverArgs {
  objects: pulumi.Input<TakeoverObject[]>;
  release?: pulumi.Input<TakeoverRelease>;
}

/** Hands objects made elsewhere over to the program before it applies them. */
export class Takeover extends pulumi.dynamic.Resource {
  public readonly handedOver!: pulumi.Output<string[]>;

  constructor(name: string, args: TakeoverArgs, opts?: pulumi.CustomResourceOptions) {
    super(takeoverProvider, name, { objects: args.objects, release: args.release, handedOver: undefined, released: undefined }, opts, "crdstack", "Takeover");
  }
}
