// One TrackingServer: an MLflow server with its credentials, Service and Deployment, plus a volume, a
// TLS Secret and an Ingress when their fields are set.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { buildTrackingServer, MLFLOW_PORT, TrackingServerOptions } from "../builders/trackingServer";
import { Manifest } from "../builders/meta";
import { TrackingServerObject } from "../model/objects";
import { Takeover } from "../providers/takeover";
import { anchorOf, CustomResourceSource, marked, recreateIfGone, declareRelease, declareTakeover, Owner, owned, ownerAfter, ownerOf, registerCustomResource, resourceName, secretArgs } from "./children";

export interface TrackingServerArgs {
  /** The object to declare: valid, or the last applied spec (see `fallback`). */
  object: TrackingServerObject;
  options: TrackingServerOptions;
  source: CustomResourceSource;
  /** `object` is the last applied spec, whose secret fields read `(secret)`: Secrets keep their values. */
  fallback?: boolean;
  /** Names of Secrets gone from the cluster whose values are not known (fallback): not declared. */
  lostSecrets?: readonly string[];
}

/**
 * The claim that holds the server's database. With `retain`, Pulumi leaves it in the cluster when it
 * leaves the program, and it has no ownerReference, so deleting the TrackingServer keeps it too.
 */
function volumeClaim(manifest: Manifest, retain: boolean, owner: Owner | undefined, opts: pulumi.CustomResourceOptions) {
  const args = owned<k8s.core.v1.PersistentVolumeClaimArgs>(manifest, owner, !retain);
  return new k8s.core.v1.PersistentVolumeClaim(resourceName(manifest), args, { ...opts, retainOnDelete: retain });
}

export class TrackingServer extends pulumi.ComponentResource {
  /** The custom resource, when the program creates it (files source). */
  public readonly customResource: k8s.apiextensions.CustomResource | undefined;
  /** What the children are `deletedWith`: the custom resource, or its anchor (see components/children.ts). */
  public readonly anchor: pulumi.Resource;
  /** Present while the original controller's marks are on the custom resource (see components/children.ts). */
  public readonly takeover: { handover: Takeover; release: Takeover } | undefined;
  /** Absent only while the object is declared from its last applied spec and the Secret is gone (its values are not known). */
  public readonly credentials: k8s.core.v1.Secret | undefined;
  /** Present when `cert` and `key` are set. */
  public readonly tlsSecret: k8s.core.v1.Secret | undefined;
  /** Present when `volumeSize` is set. */
  public readonly volumeClaim: k8s.core.v1.PersistentVolumeClaim | undefined;
  public readonly service: k8s.core.v1.Service;
  /** Present when `url` is set. */
  public readonly ingress: k8s.networking.v1.Ingress | undefined;
  public readonly deployment: k8s.apps.v1.Deployment;
  /** The spec's `url`, else the in-cluster address of the Service. */
  public readonly url: string;

  constructor(name: string, args: TrackingServerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("crdstack:index:TrackingServer", name, {}, opts);
    const { object, options, source } = args;
    const fallback = args.fallback === true;
    const children = buildTrackingServer(object, options);
    const takeover = declareTakeover(object, source, this);
    this.customResource = registerCustomResource(object, source, fallback, this, takeover);
    this.anchor = anchorOf(object, source, this.customResource, this);
    // Each child: marked with what this run puts back (model/markers.ts), and applied after the take-over
    // or drift hand-over and the children it reads.
    const mark = (manifest: Manifest) => marked(manifest, source);
    const after = (manifest: Manifest, ...resources: (pulumi.Resource | undefined)[]): pulumi.CustomResourceOptions => ({
      ...recreateIfGone(manifest),
      parent: this,
      dependsOn: [takeover, ...resources].filter((resource): resource is pulumi.Resource => resource !== undefined),
      deletedWith: this.anchor,
    });

    const owner = ownerAfter(ownerOf(object, source, this.customResource), takeover);
    // Declared from the last applied spec, whose secret fields read `(secret)`, the Secrets keep what they
    // hold: the provider's check turns `stringData` into `data`, so both are left as they are.
    const secret = (child: Manifest | undefined) => {
      if (child === undefined || args.lostSecrets?.includes(child.metadata.name)) return undefined;
      const manifest = mark(child);
      return new k8s.core.v1.Secret(resourceName(manifest), secretArgs(manifest, owner), { ...after(manifest), ignoreChanges: fallback ? ["stringData", "data"] : [] });
    };
    this.credentials = secret(children.credentials);
    this.tlsSecret = secret(children.tlsSecret);
    const claim = children.volumeClaim && mark(children.volumeClaim);
    this.volumeClaim = claim && volumeClaim(claim, object.spec.retainVolume === true, owner, after(claim));
    const service = mark(children.service);
    this.service = new k8s.core.v1.Service(resourceName(service), owned<k8s.core.v1.ServiceArgs>(service, owner), after(service));
    const ingress = children.ingress && mark(children.ingress);
    this.ingress = ingress && new k8s.networking.v1.Ingress(resourceName(ingress), owned<k8s.networking.v1.IngressArgs>(ingress, owner), after(ingress, this.tlsSecret));
    const deployment = mark(children.deployment);
    this.deployment = new k8s.apps.v1.Deployment(resourceName(deployment), owned<k8s.apps.v1.DeploymentArgs>(deployment, owner), after(deployment, this.credentials, this.volumeClaim));
    const { name: objectName, namespace } = object.metadata;
    this.url = object.spec.url ?? `http://${objectName}.${namespace}.svc:${MLFLOW_PORT}`;

    const applied = [this.credentials, this.tlsSecret, this.volumeClaim, this.service, this.ingress, this.deployment].filter((r): r is NonNullable<typeof r> => r !== undefined);
    // A take-over's marks leave the custom resource once the children are applied; a drift's hand-over has none.
    this.takeover = takeover && source.handover !== undefined ? { handover: takeover, release: declareRelease(object, source, applied, this)! } : undefined;

    this.registerOutputs({
      takeover: this.takeover,
      customResource: this.customResource,
      anchor: this.anchor,
      credentials: this.credentials,
      tlsSecret: this.tlsSecret,
      volumeClaim: this.volumeClaim,
      service: this.service,
      ingress: this.ingress,
      deployment: this.deployment,
      url: this.url,
    });
  }
}
