// The TrackingServer and EasyService CRDs, from the same zod schemas that validate specs. Pulumi never
// deletes them (`retainOnDelete`): deleting a CRD deletes every custom resource of its kind in the
// cluster, and with them all their children, including those no stack of this program manages.
// CRDs installed before (by the original controllers' `make install`, or kubectl) are adopted: replaced
// in place by these first (providers/takeover.ts), so nothing of the old schema is left; same uid, same
// stored objects.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { crdManifest, crdName } from "../model/crd";
import { Takeover } from "../providers/takeover";
import { PATCH_FORCE } from "./children";

export class CustomResourceDefinitions extends pulumi.ComponentResource {
  public readonly trackingServer: k8s.apiextensions.v1.CustomResourceDefinition;
  public readonly easyService: k8s.apiextensions.v1.CustomResourceDefinition;

  constructor(name: string, opts?: pulumi.ComponentResourceOptions) {
    super("crdstack:index:CustomResourceDefinitions", name, {}, opts);
    const kinds = ["TrackingServer", "EasyService"] as const;
    const objects = kinds.map((kind) => ({ apiVersion: "apiextensions.k8s.io/v1", kind: "CustomResourceDefinition", name: crdName(kind), replacement: crdManifest(kind) }));
    const takeover = new Takeover("crds", { objects }, { parent: this });
    // The provider's own field manager, not `crdstack`: it updates CRDs with a plain update rather than an
    // apply, after which dropping its earlier manager would take the CRD's names and group with it. Forced,
    // so that the fields the replacement set (owned by its update) go to the provider's apply.
    const define = (kind: (typeof kinds)[number]) => {
      const manifest = crdManifest(kind);
      const args = { ...manifest, metadata: { ...manifest.metadata, annotations: { [PATCH_FORCE]: "true" } } } as unknown as k8s.apiextensions.v1.CustomResourceDefinitionArgs;
      return new k8s.apiextensions.v1.CustomResourceDefinition(crdName(kind), args, { parent: this, retainOnDelete: true, dependsOn: [takeover] });
    };
    this.trackingServer = define("TrackingServer");
    this.easyService = define("EasyService");
    this.registerOutputs({ trackingServer: this.trackingServer, easyService: this.easyService });
  }
}
