// The whole program for a set of valid objects: the CRDs (when this stack installs them) and one
// component per object, in the order `planManifests` lists them.
import * as pulumi from "@pulumi/pulumi";
import { TrackingServerOptions } from "../builders/trackingServer";
import { CustomObject } from "../model/objects";
import { CustomResourceSource } from "./children";
import { CustomResourceDefinitions } from "./CustomResourceDefinitions";
import { EasyService } from "./EasyService";
import { TrackingServer } from "./TrackingServer";

export interface PlatformOptions {
  installCrds: boolean;
  /** The files source creates the custom resources; the cluster source finds them there. */
  createCustomResources: boolean;
  trackingServer: TrackingServerOptions;
}

export interface Platform {
  crds: CustomResourceDefinitions | undefined;
  /** By component name, `<namespace>/<name>`. */
  trackingServers: Record<string, TrackingServer>;
  /** By component name, `<namespace>/<name>`. */
  easyServices: Record<string, EasyService>;
}

/** The component name of an object: `<namespace>/<name>`, unique per kind. */
export function componentName(object: CustomObject): string {
  return `${object.metadata.namespace}/${object.metadata.name}`;
}

export function declarePlatform(objects: readonly CustomObject[], options: PlatformOptions): Platform {
  const crds = options.installCrds ? new CustomResourceDefinitions("crds") : undefined;
  const crdDependencies: pulumi.Resource[] = crds ? [crds] : [];
  const platform: Platform = { crds, trackingServers: {}, easyServices: {} };
  for (const object of objects) {
    const source: CustomResourceSource = options.createCustomResources
      ? { create: true, dependsOn: crdDependencies }
      : { create: false, uid: object.metadata.uid };
    const name = componentName(object);
    if (object.kind === "TrackingServer") {
      platform.trackingServers[name] = new TrackingServer(name, { object, options: options.trackingServer, source });
    } else {
      platform.easyServices[name] = new EasyService(name, { object, source });
    }
  }
  return platform;
}
