// The whole program for a set of planned objects: the CRDs (when this stack installs them), one
// component per object that has something to declare, in the order `planManifests` lists them, and the
// status report that tells each object what was done with it.
import * as pulumi from "@pulumi/pulumi";
import { ObjectReport, statusEntry } from "../builders/status";
import { TrackingServerOptions } from "../builders/trackingServer";
import { CustomObject, Kind } from "../model/objects";
import { Planned } from "../model/reconcile";
import { StatusEntries, StatusReport } from "../providers/status";
import { Existing } from "../model/existing";
import { Markers, markersOf, RECREATED_ANNOTATION } from "../model/markers";
import { CustomResourceSource, declareRelease, declareTakeover, RUN_MARKER } from "./children";
import { CustomResourceDefinitions } from "./CustomResourceDefinitions";
import { EasyService } from "./EasyService";
import { TrackingServer } from "./TrackingServer";

export interface PlatformOptions {
  installCrds: boolean;
  /** The files source creates the custom resources; the cluster source finds them there. */
  createCustomResources: boolean;
  trackingServer: Omit<TrackingServerOptions, "existingTlsSecret">;
  /** `<namespace>/<name>` of the TLS Secrets found in the cluster that the program does not manage. */
  tlsSecrets?: ReadonlySet<string>;
  /** Write each object's status (needs the custom resources to exist in a cluster). @default true */
  reportStatus?: boolean;
  /** What the cluster holds (metadata), when it was read: which children are gone or edited by hand. */
  existing?: Existing;
}

export interface Platform {
  crds: CustomResourceDefinitions | undefined;
  /** By component name, `<namespace>/<name>`. */
  trackingServers: Record<string, TrackingServer>;
  /** By component name, `<namespace>/<name>`. */
  easyServices: Record<string, EasyService>;
  status: StatusReport | undefined;
}

/** The component name of an object: `<namespace>/<name>`, unique per kind. */
export function componentName(object: { metadata: { namespace: string; name: string } }): string {
  return `${object.metadata.namespace}/${object.metadata.name}`;
}

function declareComponent(platform: Platform, item: Planned, object: CustomObject, options: PlatformOptions): TrackingServer | EasyService {
  const crds = platform.crds ? [platform.crds] : [];
  const { uid, handover, reclaim } = item;
  const markers = markersOf(object, options.existing, reclaim ?? [], RUN_MARKER);
  // From files with the cluster read, a custom resource that is not there is made again (deleted by hand).
  const recreated = options.existing !== undefined && uid === undefined ? RUN_MARKER : item.recreated;
  const source: CustomResourceSource = options.createCustomResources ? { create: true, dependsOn: crds, uid, handover, reclaim, markers, recreated } : { create: false, uid, handover, reclaim, markers };
  const name = componentName(object);
  if (object.kind === "EasyService") {
    return (platform.easyServices[name] = new EasyService(name, { object, source, fallback: item.fallback }));
  }
  const existingTlsSecret = options.tlsSecrets?.has(name) ?? false;
  const trackingServerOptions = { ...options.trackingServer, existingTlsSecret };
  const lostSecrets = item.fallback ? goneSecrets(item, markers) : [];
  return (platform.trackingServers[name] = new TrackingServer(name, { object, options: trackingServerOptions, source, fallback: item.fallback, lostSecrets }));
}

/**
 * The Secrets of an object declared from its last applied spec that are gone from the cluster: their
 * values are not known (the status keeps secret fields masked), so they are not made again, and the
 * object gets a problem saying so (its pods cannot start until the spec is fixed, which makes them).
 */
function goneSecrets(item: Planned, markers: Markers | undefined): string[] {
  const gone = [...(markers ?? new Map())].filter(([key, marker]) => key.startsWith("Secret ") && marker[RECREATED_ANNOTATION] === RUN_MARKER).map(([key]) => key.slice("Secret ".length));
  for (const secret of gone) {
    item.problems.push({ path: "metadata.name", reason: "SecretLost", message: `the Secret ${secret} is gone and its values are not known while the spec has problems: fix the spec to make it again` });
  }
  return gone;
}

/**
 * One object's status entry, once its custom resource has a uid. Its readiness is read from the cluster
 * when the entry is written (providers/status.ts), not from the components: the entry depends on nothing
 * the children report, and a status that changed in the cluster is written again without a spec change.
 */
function statusOf(item: Planned, component: TrackingServer | EasyService | undefined): pulumi.Output<StatusEntries> {
  const custom = component?.customResource;
  const identity = custom === undefined
    ? pulumi.output({ uid: item.uid, generation: item.generation })
    : pulumi.all([custom.metadata.uid, custom.metadata.generation]).apply(([uid, generation]) => ({ uid, generation }));
  return identity.apply(({ uid, generation }) => {
    const report: ObjectReport = { kind: item.ref.kind as Kind, namespace: item.ref.namespace, name: item.ref.name, uid, generation, problems: item.problems, applied: item.applied, drift: item.drift };
    return { [`${item.ref.kind}/${item.ref.namespace}/${item.ref.name}`]: statusEntry(report) };
  });
}

/**
 * An object with nothing to declare (invalid, never applied) still has the original's children handed
 * over (so that the first apply, once it is fixed, removes what the original set) and loses its marks,
 * so that deleting it does not hang; its children run on as the original made them.
 */
function releaseMarks(item: Planned): void {
  const { ref, uid, handover } = item;
  if (handover === undefined || uid === undefined || (ref.kind !== "TrackingServer" && ref.kind !== "EasyService")) return;
  const object = { kind: ref.kind, metadata: { name: ref.name, namespace: ref.namespace } } as CustomObject;
  const source = { create: false as const, uid, handover };
  declareRelease(object, source, [declareTakeover(object, source)!]);
}

export function declarePlatform(planned: readonly Planned[], options: PlatformOptions): Platform {
  const platform: Platform = {
    crds: options.installCrds ? new CustomResourceDefinitions("crds") : undefined,
    trackingServers: {},
    easyServices: {},
    status: undefined,
  };
  const statuses: pulumi.Output<StatusEntries>[] = [];
  for (const item of planned) {
    // A custom resource being deleted (cluster source) declares nothing: its children, `deletedWith` its
    // anchor, leave the stack's state untouched, and the garbage collector removes them with it. (Declared,
    // a child already collected would be made again, in a namespace that may be terminating.)
    const gone = item.deleting && !options.createCustomResources;
    const component = item.applied === undefined || gone ? undefined : declareComponent(platform, item, item.applied, options);
    if (component === undefined) releaseMarks(item);
    // An object the files source never created has no custom resource to report on; one being deleted
    // keeps the status it has (its children stay as they are until the garbage collector removes them).
    const exists = !options.createCustomResources || component !== undefined;
    if (exists && !item.deleting && (item.ref.kind === "TrackingServer" || item.ref.kind === "EasyService")) statuses.push(statusOf(item, component));
  }
  if (options.reportStatus !== false) {
    const entries = pulumi.all(statuses).apply((parts) => Object.assign({}, ...parts) as StatusEntries);
    // Written once the children are applied, so that the first reading finds their Deployments.
    const components = [...Object.values(platform.trackingServers), ...Object.values(platform.easyServices)];
    platform.status = new StatusReport("status", { entries }, { dependsOn: components });
  }
  return platform;
}
