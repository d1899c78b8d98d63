// crdstack: TrackingServer and EasyService custom resources → their Kubernetes objects.
// config → specs → components → outputs; see README.md.
import type * as k8s from "@kubernetes/client-node";
import * as pulumi from "@pulumi/pulumi";
import { Operator } from "./components/Operator";
import { declarePlatform, Platform } from "./components/platform";
import { readStackConfig } from "./components/stackConfig";
import { StackConfig } from "./model/config";
import { Candidate, objectKey } from "./model/reconcile";
import { formatError, SpecError } from "./model/specs";
import { SpecProblems } from "./providers/problems";
import { clusterCandidates, clusterConfig, ClusterState, fileCandidates, readCluster } from "./sources/cluster";
import { planAgainstCluster } from "./sources/plan";

/** What the cluster holds: required by the `cluster` source, used by the `files` source when reachable. */
async function readState(config: StackConfig, kubeconfig: k8s.KubeConfig | undefined): Promise<ClusterState | undefined> {
  if (config.source === "cluster") {
    if (kubeconfig === undefined) throw new Error("crdstack:source is \"cluster\" but there is no kubeconfig (KUBECONFIG, ~/.kube/config) and no service account");
    return readCluster(kubeconfig, config.namespaces);
  }
  if (kubeconfig === undefined) return undefined;
  try {
    return await readCluster(kubeconfig, config.namespaces, true);
  } catch (error) {
    pulumi.log.warn(`Cannot read the cluster (${(error as Error).message}); specs are not checked against what was last applied, nor against the objects the cluster holds (collisions, references)`);
    return undefined;
  }
}

/**
 * From files, an object missing from a run has its children deleted. A missing path, an empty folder and
 * files with no objects stop the run before anything is declared (sources/files.ts), and so does any
 * document that could not be read: which objects it held is unknown, and they would lose their
 * children. (An object that reads but is invalid keeps its last applied spec.) To remove every object,
 * `pulumi destroy`.
 */
function readCandidates(config: StackConfig, state: ClusterState | undefined): { candidates: Candidate[]; errors: SpecError[] } {
  if (config.source === "cluster") return { candidates: clusterCandidates(state!), errors: [] };
  const read = fileCandidates([config.specs], state);
  if (read.errors.length > 0) {
    const why = read.candidates.length === 0 ? "no object could be read, and a run without objects would delete every object's children" : "a document that cannot be read may hold objects whose children the run would delete";
    throw new Error(`crdstack:specs ${config.specs}: ${why}:\n${read.errors.map(formatError).join("\n")}`);
  }
  return read;
}

/**
 * From files, problems fail the run once everything else is applied (see providers/problems.ts). A
 * preview only logs them: `pulumi up` previews before it applies, and must get to apply the others.
 */
function failOnProblems(platform: Platform, problems: string[]): void {
  const components = [...Object.values(platform.trackingServers), ...Object.values(platform.easyServices)];
  new SpecProblems("problems", { problems }, { dependsOn: platform.status ? [platform.status] : components });
}

export = async () => {
  const config = readStackConfig();
  if (config.operator !== undefined) {
    // A bootstrap stack: it installs crdstack in the cluster, whose Stacks then reconcile the specs.
    const operator = new Operator("crdstack", { operator: config.operator });
    return { operatorNamespace: config.operator.namespace, stacks: operator.stackNames };
  }
  const kubeconfig = clusterConfig();
  const state = await readState(config, kubeconfig);
  for (const namespace of state?.forbidden ?? []) {
    // From files, the program would apply what the files hold there blind (every child would look gone).
    if (config.source === "files") throw new Error(`crdstack:namespaces: no right to read namespace ${namespace} in the cluster; the files source applies only where it can read`);
    pulumi.log.warn(`Namespace ${namespace}: no right to read it (deleted, or no longer served: run the bootstrap stack); its objects are left as they are`);
  }
  const read = readCandidates(config, state);
  // From files, the program created the custom resources: a last applied spec stays declared (see model/reconcile.ts).
  const scope = { namespaces: config.namespaces, keepFailingFallback: config.source === "files" };
  const { planned, errors } = await planAgainstCluster(read.candidates, scope, state, kubeconfig, pulumi.log.warn,
    { defaultImage: config.defaultMlflowImage, ingressClassName: config.ingressClassName });
  const problems = [...read.errors, ...errors].map(formatError);

  // An invalid object keeps the children of its last applied spec and gets its problems in its status.
  // From files, the problems also fail the run (after the valid objects are applied): whoever ran it
  // should fix the file. In the cluster, a user's bad object must not fail everyone's reconciliation.
  for (const line of problems) (config.source === "files" ? pulumi.log.error : pulumi.log.warn)(line);
  // Changed by hand since the last run: this run puts it back (model/markers.ts: re-created, or applied again with force).
  for (const item of planned) for (const change of item.drift ?? []) pulumi.log.info(`${objectKey(item.ref)}: drift put back: ${change}`);

  const platform = declarePlatform(planned, {
    installCrds: config.installCrds,
    createCustomResources: config.source === "files",
    trackingServer: { defaultImage: config.defaultMlflowImage, ingressClassName: config.ingressClassName },
    tlsSecrets: state?.tlsSecrets,
    reportStatus: state !== undefined,
    existing: state?.existing,
  });

  if (config.source === "files") failOnProblems(platform, problems);

  return {
    /** Each TrackingServer's URL, by `<namespace>/<name>`. */
    trackingServers: Object.fromEntries(Object.entries(platform.trackingServers).map(([name, server]) => [name, server.url])),
    /** Each EasyService's Deployment name, by `<namespace>/<name>`. */
    easyServices: Object.fromEntries(Object.entries(platform.easyServices).map(([name, service]) => [name, service.deployment.metadata.name])),
    /** Problems found in the specs, one line each. */
    problems,
  };
};
