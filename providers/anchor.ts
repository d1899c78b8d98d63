// A custom resource that users created with kubectl (the cluster source), as a resource of the stack:
// what its children are `deletedWith`. When the object leaves the program (deleted, or its namespace no
// longer served by this stack), the anchor goes, and Pulumi drops the children from its state instead of
// deleting them: Kubernetes' garbage collector removes them once the custom resource is really gone
// (each has its ownerReference), and a stack that stops serving a namespace never deletes what another
// now serves. The anchor's own delete does nothing; it holds no state but the object's identity.
import * as pulumi from "@pulumi/pulumi";

export interface ObjectAnchorArgs {
  apiVersion: pulumi.Input<string>;
  kind: pulumi.Input<string>;
  namespace: pulumi.Input<string>;
  name: pulumi.Input<string>;
  /** The custom resource's uid, when known: a re-created object (same name, new uid) updates the anchor in place. */
  uid?: pulumi.Input<string | undefined>;
}

interface AnchorInputs { apiVersion: string; kind: string; namespace: string; name: string; uid?: string }

export const anchorProvider: pulumi.dynamic.ResourceProvider = {
  async create(inputs: AnchorInputs) {
    return { id: `${inputs.kind}/${inputs.namespace}/${inputs.name}`, outs: inputs };
  },
  async diff(_id: string, olds: AnchorInputs, news: AnchorInputs) {
    // Never a replacement: the anchor stands for the object's name; a re-created object (new uid) updates it.
    return { changes: JSON.stringify(olds) !== JSON.stringify(news), replaces: [], deleteBeforeReplace: false };
  },
  async update(_id: string, _olds: AnchorInputs, news: AnchorInputs) {
    return { outs: news };
  },
  async delete() {},
};

/** A custom resource's stand-in in the stack, named `<Kind>/<namespace>/<name>`. */
export class ObjectAnchor extends pulumi.dynamic.Resource {
  constructor(name: string, args: ObjectAnchorArgs, opts?: pulumi.CustomResourceOptions) {
    super(anchorProvider, name, { ...args, uid: args.uid }, opts, "crdstack", "ObjectAnchor");
  }
}
