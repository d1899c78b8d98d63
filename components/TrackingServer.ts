// One TrackingServer: an MLflow server with its credentials, Service and Deployment, plus a volume, a
// TLS Secret and an Ingress when their fields are set.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { buildTrackingServer, MLFLOW_PORT, TrackingServerOptions } from "../builders/trackingServer";
import { SECRET_FIELDS, TrackingServerObject } from "../model/objects";
import { CustomResourceSource, owned, ownerOf, registerCustomResource, resourceName, secretArgs } from "./children";

export interface TrackingServerArgs {
  /** The parsed, valid object. */
  object: TrackingServerObject;
  options: TrackingServerOptions;
  source: CustomResourceSource;
}

export class TrackingServer extends pulumi.ComponentResource {
  /** The custom resource, when the program creates it (files source). */
  public readonly customResource: k8s.apiextensions.CustomResource | undefined;
  public readonly credentials: k8s.core.v1.Secret;
  /** Present when `cert` and `key` are set. */
  public readonly tlsSecret: k8s.core.v1.Secret | undefined;
  /** Present when `volumeSize` and `storageClassName` are set. */
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
    const children = buildTrackingServer(object, options);
    const parent = { parent: this };

    this.customResource = registerCustomResource(object, SECRET_FIELDS.TrackingServer, source, this);
    const owner = ownerOf(object, source, this.customResource);
    this.credentials = new k8s.core.v1.Secret(resourceName(children.credentials), secretArgs(children.credentials, owner), parent);
    this.tlsSecret = children.tlsSecret && new k8s.core.v1.Secret(resourceName(children.tlsSecret), secretArgs(children.tlsSecret, owner), parent);
    // The claim holds the server's database: never replaced in place, and protected by the caller's options.
    this.volumeClaim = children.volumeClaim && new k8s.core.v1.PersistentVolumeClaim(resourceName(children.volumeClaim), owned<k8s.core.v1.PersistentVolumeClaimArgs>(children.volumeClaim, owner), parent);
    this.service = new k8s.core.v1.Service(resourceName(children.service), owned<k8s.core.v1.ServiceArgs>(children.service, owner), parent);
    this.ingress = children.ingress && new k8s.networking.v1.Ingress(resourceName(children.ingress), owned<k8s.networking.v1.IngressArgs>(children.ingress, owner), { parent: this, dependsOn: this.tlsSecret ? [this.tlsSecret] : [] });
    this.deployment = new k8s.apps.v1.Deployment(resourceName(children.deployment), owned<k8s.apps.v1.DeploymentArgs>(children.deployment, owner), {
      parent: this,
      dependsOn: [this.credentials, ...(this.volumeClaim ? [this.volumeClaim] : [])],
    });
    const { name: objectName, namespace } = object.metadata;
    this.url = object.spec.url ?? `http://${objectName}.${namespace}.svc:${MLFLOW_PORT}`;

    this.registerOutputs({
      customResource: this.customResource,
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
