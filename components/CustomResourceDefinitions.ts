// The TrackingServer and EasyService CRDs, from the same zod schemas that validate specs. Pulumi never
// deletes them (`retainOnDelete`): deleting a CRD deletes every custom resource of its kind in the
// cluster, and with them all their children, including those no stack of this program manages.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { crdManifest, crdName } from "../model/crd";
import { owned } from "./children";

export class CustomResourceDefinitions extends pulumi.ComponentResource {
  public readonly trackingServer: k8s.apiextensions.v1.CustomResourceDefinition;
  public readonly easyService: k8s.apiextensions.v1.CustomResourceDefinition;

  constructor(name: string, opts?: pulumi.ComponentResourceOptions) {
    super("crdstack:index:CustomResourceDefinitions", name, {}, opts);
    const define = (kind: "TrackingServer" | "EasyService") =>
      new k8s.apiextensions.v1.CustomResourceDefinition(crdName(kind), owned<k8s.apiextensions.v1.CustomResourceDefinitionArgs>(crdManifest(kind), undefined), { parent: this, retainOnDelete: true });
    this.trackingServer = define("TrackingServer");
    this.easyService = define("EasyService");
    this.registerOutputs({ trackingServer: this.trackingServer, easyService: this.easyService });
  }
}
