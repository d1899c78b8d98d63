// crdstack in the cluster: the CRDs, optionally the Pulumi Kubernetes Operator, the Stacks it runs with
// the `cluster` source, their workspace's RBAC, and the watcher that re-runs a Stack on every spec
// change. Declared by a bootstrap stack (`crdstack:operator` set), typically with one `pulumi up` from a
// laptop.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { namespace, stacks, watcher, workspaceRbac } from "../builders/operator";
import { Manifest } from "../builders/meta";
import { OperatorConfig } from "../model/operator";
import { registerManifest } from "./children";
import { CustomResourceDefinitions } from "./CustomResourceDefinitions";

export interface OperatorArgs {
  operator: OperatorConfig;
}

export class Operator extends pulumi.ComponentResource {
  public readonly crds: CustomResourceDefinitions;
  /** The Pulumi Kubernetes Operator's Helm release, when `installOperator` is set. */
  public readonly pulumiOperator: k8s.helm.v3.Release | undefined;
  public readonly namespace: k8s.core.v1.Namespace;
  /** The names of the operator's Stack objects. */
  public readonly stackNames: string[];

  constructor(name: string, args: OperatorArgs, opts?: pulumi.ComponentResourceOptions) {
    super("crdstack:index:Operator", name, {}, opts);
    const { operator } = args;
    this.crds = new CustomResourceDefinitions("crds", { parent: this });
    this.namespace = registerManifest(namespace(operator), { parent: this }) as k8s.core.v1.Namespace;
    this.pulumiOperator = operator.installOperator ? pulumiOperator(operator, this, this.namespace) : undefined;
    const register = (manifests: Manifest[], dependsOn: pulumi.Resource[]) => manifests.map((manifest) => registerManifest(manifest, { parent: this, dependsOn }));

    const rbac = register(workspaceRbac(operator), [this.namespace]);
    // A Stack needs the operator (its CRD), its workspace's rights, and the CRDs its program reads.
    const prerequisites = [...rbac, this.crds, ...(this.pulumiOperator ? [this.pulumiOperator] : [])];
    const stackManifests = stacks(operator);
    const stackResources = register(stackManifests, prerequisites);
    register(watcher(operator), [this.namespace, this.crds, ...stackResources]);
    this.stackNames = stackManifests.map((stack) => stack.metadata.name);

    this.registerOutputs({ crds: this.crds, pulumiOperator: this.pulumiOperator, namespace: this.namespace, stackNames: this.stackNames });
  }
}

/** The operator's published Helm chart, in the same namespace. */
function pulumiOperator(operator: OperatorConfig, parent: pulumi.Resource, namespace: pulumi.Resource): k8s.helm.v3.Release {
  return new k8s.helm.v3.Release("pulumi-kubernetes-operator", {
    chart: "oci://ghcr.io/pulumi/helm-charts/pulumi-kubernetes-operator",
    version: operator.operatorChartVersion,
    namespace: operator.namespace,
  }, { parent, dependsOn: [namespace] });
}
