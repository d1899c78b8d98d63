// Everything the program creates for a set of valid objects, in dependency order: the CRDs, then for
// each object its custom resource (files source) and its children in the order the component registers
// them. `render` prints this list; the test comparing it with the program under mocks keeps them equal.
import { crdManifests } from "../model/crd";
import { CustomObject, Kind, KINDS, MASK, maskSpec } from "../model/objects";
import { buildEasyService } from "./easyService";
import { customResourceManifest, Manifest } from "./meta";
import { buildTrackingServer, TrackingServerOptions } from "./trackingServer";

export interface PlanOptions {
  installCrds: boolean;
  /** The files source creates the custom resources; the cluster source finds them there. */
  createCustomResources: boolean;
  trackingServer: TrackingServerOptions;
}

/** An object's children, optional ones left out, in registration order. */
export function childrenOf(object: CustomObject, options: TrackingServerOptions): Manifest[] {
  const children = object.kind === "TrackingServer" ? buildTrackingServer(object, options) : buildEasyService(object);
  return Object.values(children).filter((child): child is Manifest => child !== undefined);
}

export function planManifests(objects: readonly CustomObject[], options: PlanOptions): Manifest[] {
  const manifests = options.installCrds ? crdManifests() : [];
  for (const object of objects) {
    if (options.createCustomResources) manifests.push(customResourceManifest(object));
    manifests.push(...childrenOf(object, options.trackingServer));
  }
  return manifests;
}

/** The manifests with Secret values and secret spec fields replaced by `(secret)`, for review. */
export function maskSecrets(manifests: readonly Manifest[]): Manifest[] {
  return manifests.map((manifest) => {
    if (manifest.kind === "Secret") {
      const data = (manifest.stringData ?? {}) as Record<string, string>;
      return { ...manifest, stringData: Object.fromEntries(Object.keys(data).map((key) => [key, MASK])) };
    }
    if (!(manifest.kind in KINDS)) return manifest;
    return { ...manifest, spec: maskSpec(manifest.kind as Kind, manifest.spec as object) };
  });
}
