// crdstack in the cluster: the CRDs, optionally the Pulumi Kubernetes Operator, the Stacks it runs with
// the `cluster` source, their workspace's RBAC in the served namespaces, and the watcher that re-runs a
// Stack on every spec change or drift. Declared by a bootstrap stack (`crdstack:operator` set), typically
// with one `pulumi up` from a laptop.
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { namespace, servedNamespaces, stackNames, stacks, watcher, workspaceRbac } from "../builders/operator";
import { Manifest } from "../builders/meta";
import { OperatorConfig } from "../model/operator";
import { resolveNamespaces } from "../sources/namespaces";
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
  /** The namespaces the Stacks serve: those listed, or those `namespaceSelector` selects at this run. */
  public readonly servedNamespaces: pulumi.Output<string[]>;

  constructor(name: string, args: OperatorArgs, opts?: pulumi.ComponentResourceOptions) {
    super("crdstack:index:Operator", name, {}, opts);
    const { operator } = args;
    this.crds = new CustomResourceDefinitions("crds", { parent: this });
    this.namespace = registerManifest(namespace(operator), { parent: this }) as k8s.core.v1.Namespace;
    this.pulumiOperator = operator.installOperator ? pulumiOperator(operator, this, this.namespace) : undefined;
    // Stack names do not depend on which namespaces a selector finds.
    this.stackNames = stackNames(operator);
    // A selector is resolved by listing namespaces, which is asynchronous: the companions are declared
    // once the list is in (a plain value, known in previews too, never an Output). This output waits for
    // them, so the run does not end before they are registered.
    const declared = operator.namespaceSelector === undefined ? Promise.resolve(this.declare(operator)) : resolveNamespaces(operator).then((resolved) => this.declare(resolved));
    this.servedNamespaces = pulumi.output(declared.catch((error: Error) => Promise.reject(new pulumi.ResourceError(error.message, this))));

    this.registerOutputs({ crds: this.crds, pulumiOperator: this.pulumiOperator, namespace: this.namespace, stackNames: this.stackNames, servedNamespaces: this.servedNamespaces });
  }

  /** Registers the workspace's RBAC, the Stacks and the watcher for `operator` with its namespaces known; returns them. */
  private declare(operator: OperatorConfig): string[] {
    const register = (manifests: Manifest[], dependsOn: pulumi.Resource[]) => manifests.map((manifest) => registerManifest(manifest, { parent: this, dependsOn }));
    const rbac = register(workspaceRbac(operator), [this.namespace]);
    // A Stack needs the operator (its CRD), its workspace's rights, and the CRDs its program reads.
    const prerequisites = [...rbac, this.crds, ...(this.pulumiOperator ? [this.pulumiOperator] : [])];
    const stackResources = register(stacks(operator), prerequisites);
    register(watcher(operator), [this.namespace, this.crds, ...stackResources]);
    return servedNamespaces(operator);
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
