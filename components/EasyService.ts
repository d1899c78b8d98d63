// One EasyService: a Deployment, and a NodePort Service when it has ports.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { Manifest } from "../builders/meta";
import { buildEasyService } from "../builders/easyService";
import { EasyServiceObject } from "../model/objects";
import { Takeover } from "../providers/takeover";
import { anchorOf, CustomResourceSource, marked, recreateIfGone, declareRelease, declareTakeover, owned, ownerAfter, ownerOf, registerCustomResource, resourceName } from "./children";

export interface EasyServiceArgs {
  /** The object to declare: valid, or the last applied spec (see `fallback`). */
  object: EasyServiceObject;
  source: CustomResourceSource;
  /** `object` is the last applied spec: the custom resource's spec in the cluster is left as it is. */
  fallback?: boolean;
}

export class EasyService extends pulumi.ComponentResource {
  /** The custom resource, when the program creates it (files source). */
  public readonly customResource: k8s.apiextensions.CustomResource | undefined;
  /** What the children are `deletedWith`: the custom resource, or its anchor (see components/children.ts). */
  public readonly anchor: pulumi.Resource;
  /** Present while the original controller's marks are on the custom resource (see components/children.ts). */
  public readonly takeover: { handover: Takeover; release: Takeover } | undefined;
  public readonly deployment: k8s.apps.v1.Deployment;
  /** Present when the spec has `ports`. */
  public readonly service: k8s.core.v1.Service | undefined;

  constructor(name: string, args: EasyServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super("crdstack:index:EasyService", name, {}, opts);
    const { object, source, fallback } = args;
    const children = buildEasyService(object);
    const takeover = declareTakeover(object, source, this);
    this.customResource = registerCustomResource(object, source, fallback === true, this, takeover);
    this.anchor = anchorOf(object, source, this.customResource, this);
    // Each child: marked with what this run puts back (model/markers.ts), applied after any hand-over.
    const options = (manifest: Manifest): pulumi.CustomResourceOptions => ({ ...recreateIfGone(manifest), parent: this, dependsOn: takeover ? [takeover] : [], deletedWith: this.anchor });

    const owner = ownerAfter(ownerOf(object, source, this.customResource), takeover);
    const deployment = marked(children.deployment, source);
    this.deployment = new k8s.apps.v1.Deployment(resourceName(deployment), owned<k8s.apps.v1.DeploymentArgs>(deployment, owner), options(deployment));
    const service = children.service && marked(children.service, source);
    this.service = service && new k8s.core.v1.Service(resourceName(service), owned<k8s.core.v1.ServiceArgs>(service, owner), options(service));

    const applied = this.service ? [this.deployment, this.service] : [this.deployment];
    // A take-over's marks leave the custom resource once the children are applied; a drift's hand-over has none.
    this.takeover = takeover && source.handover !== undefined ? { handover: takeover, release: declareRelease(object, source, applied, this)! } : undefined;

    this.registerOutputs({ takeover: this.takeover, customResource: this.customResource, anchor: this.anchor, deployment: this.deployment, service: this.service });
  }
}
