// One TrackingServer: an MLflow server with its credentials, Service and Deployment, plus a volume, a
// TLS Secret and an Ingress when their fields are set.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { buildTrackingServer, MLFLOW_PORT, TrackingServerOptions } from "../builders/trackingServer";
import { Manifest } from "../builders/meta";
import { TrackingServerObject } from "../model/objects";
import { Takeover } from "../providers/takeover";
import { anchorOf, CustomResourceSource, marked, RECREATE_WHEN_GONE, declareRelease, declareTakeover, Owner, owned, ownerAfter, ownerOf, registerCustomResource, resourceName, secretArgs } from "./children";

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
    const after = (...resources: (pulumi.Resource | undefined)[]) => ({
      ...RECREATE_WHEN_GONE,
      parent: this,
      dependsOn: [takeover, ...resources].filter((resource): resource is pulumi.Resource => resource !== undefined),
      deletedWith: this.anchor,
    });
    const mark = (manifest: Manifest) => marked(manifest, source);
    // Declared from the last applied spec, whose secret fields read `(secret)`, the Secrets keep what they
    // hold: the provider's check turns `stringData` into `data`, so both are left as they are.
    const secretOptions = { ...after(), ignoreChanges: fallback ? ["stringData", "data"] : [] };

    const owner = ownerAfter(ownerOf(object, source, this.customResource), takeover);
    const secret = (manifest: Manifest | undefined) =>
      manifest === undefined || args.lostSecrets?.includes(manifest.metadata.name) ? undefined : new k8s.core.v1.Secret(resourceName(manifest), secretArgs(mark(manifest), owner), secretOptions);
    this.credentials = secret(children.credentials);
    this.tlsSecret = secret(children.tlsSecret);
    this.volumeClaim = children.volumeClaim && volumeClaim(mark(children.volumeClaim), object.spec.retainVolume === true, owner, after());
    this.service = new k8s.core.v1.Service(resourceName(children.service), owned<k8s.core.v1.ServiceArgs>(mark(children.service), owner), after());
    this.ingress = children.ingress && new k8s.networking.v1.Ingress(resourceName(children.ingress), owned<k8s.networking.v1.IngressArgs>(mark(children.ingress), owner), after(this.tlsSecret));
    this.deployment = new k8s.apps.v1.Deployment(resourceName(children.deployment), owned<k8s.apps.v1.DeploymentArgs>(mark(children.deployment), owner), after(this.credentials, this.volumeClaim));
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
