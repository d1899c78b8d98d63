// The children's pods under Pod Security admission, against a real API server: each rendered Deployment's
// pod template is created as a Pod with a server-side dry run (`?dryRun=All`: admitted or refused, nothing
// stored) in namespaces that enforce the restricted and the baseline standard.
// https://kubernetes.io/docs/concepts/security/pod-security-admission/
import assert from "node:assert/strict";
import { before, describe, test } from "node:test";
import { buildEasyService } from "../../builders/easyService";
import { watcher } from "../../builders/operator";
import { Manifest } from "../../builders/meta";
import { buildTrackingServer } from "../../builders/trackingServer";
import { DEFAULT_MLFLOW_IMAGE } from "../../model/config";
import { OperatorConfig } from "../../model/operator";
import { easyService, trackingServer } from "../helpers";
import { ApiError, apply, Cluster, eventually, KubeObject, readObject, statusOf, useCluster } from "./cluster";

let c: Cluster;
const RESTRICTED = "pod-security-restricted";
const BASELINE = "pod-security-baseline";

before(async () => {
  c = await useCluster();
  for (const [name, level] of [[RESTRICTED, "restricted"], [BASELINE, "baseline"]]) {
    await c.request("POST", "/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name, labels: { "pod-security.kubernetes.io/enforce": level } } });
    // A Pod without serviceAccountName gets the namespace's `default`, which admission requires to exist.
    await eventually(`the default service account of ${name}`, async () => (await readObject(c, { apiVersion: "v1", kind: "ServiceAccount", metadata: { name: "default", namespace: name } })) && true);
  }
});

/**
 * Creates a Pod from a Deployment's pod template in `namespace`, with a dry run: the pod as admission left
 * it, or the API server's refusal message, which names each check the pod fails.
 */
async function dryRun(namespace: string, deployment: Manifest): Promise<{ pod: any } | { refused: string }> {
  const template = (deployment.spec as any).template;
  const pod = { apiVersion: "v1", kind: "Pod", metadata: { name: deployment.metadata.name, namespace, labels: template.metadata.labels }, spec: template.spec };
  try {
    const admitted = await c.request("POST", `/api/v1/namespaces/${namespace}/pods?dryRun=All`, pod);
    assert.equal(admitted.metadata.name, deployment.metadata.name);
    return { pod: admitted };
  } catch (error) {
    if (statusOf(error) !== 403) throw error;
    return { refused: JSON.parse((error as ApiError).body).message as string };
  }
}

/** Undefined when the pod is admitted, else the API server's message. */
async function refusal(namespace: string, deployment: Manifest): Promise<string | undefined> {
  const result = await dryRun(namespace, deployment);
  return "refused" in result ? result.refused : undefined;
}

/** The Deployment as it was rendered before the security settings: none at the pod or its containers. */
function withoutSecurity(deployment: Manifest): Manifest {
  const copy = structuredClone(deployment) as any;
  delete copy.spec.template.spec.securityContext;
  for (const container of copy.spec.template.spec.containers) delete container.securityContext;
  return copy;
}

/** The restricted standard's checks a refusal names (the API server's wording). */
const CHECKS = {
  allowPrivilegeEscalation: "allowPrivilegeEscalation != false",
  capabilities: "unrestricted capabilities",
  runAsNonRoot: "runAsNonRoot != true",
  seccompProfile: "seccompProfile",
};
const named = (message: string | undefined) => Object.entries(CHECKS).filter(([, words]) => message?.includes(words)).map(([check]) => check);

describe("TrackingServer pods under the restricted Pod Security Standard", () => {
  const options = { defaultImage: DEFAULT_MLFLOW_IMAGE };
  const servers = {
    "defaults (emptyDir at /mlflow)": trackingServer({}, "mlflow"),
    "with a volume, a URL and S3 keys": trackingServer({ volumeSize: "1Gi", url: "https://mlflow.example.com/team", aws_access_key: "id", aws_secret_key: "key" }, "mlflow-full"),
  };

  for (const [what, object] of Object.entries(servers)) {
    test(`${what}: admitted where restricted is enforced`, async () => {
      assert.equal(await refusal(RESTRICTED, buildTrackingServer(object, options).deployment), undefined);
    });
  }

  test("the same pod without its security settings, as rendered before, is refused for all four checks", async () => {
    const message = await refusal(RESTRICTED, withoutSecurity(buildTrackingServer(servers["defaults (emptyDir at /mlflow)"], options).deployment));
    assert.match(message ?? "admitted", /violates PodSecurity "restricted:/);
    assert.deepEqual(named(message), ["allowPrivilegeEscalation", "capabilities", "runAsNonRoot", "seccompProfile"], message);
  });

  test("each setting is needed: without any one of them the pod is refused for that one alone", async () => {
    const deployment = buildTrackingServer(servers["defaults (emptyDir at /mlflow)"], options).deployment;
    const removals: Record<keyof typeof CHECKS, (pod: any) => void> = {
      allowPrivilegeEscalation: (pod) => delete pod.containers[0].securityContext.allowPrivilegeEscalation,
      capabilities: (pod) => delete pod.containers[0].securityContext.capabilities,
      runAsNonRoot: (pod) => delete pod.securityContext.runAsNonRoot,
      seccompProfile: (pod) => delete pod.securityContext.seccompProfile,
    };
    for (const [check, remove] of Object.entries(removals)) {
      const copy = structuredClone(deployment) as any;
      remove(copy.spec.template.spec);
      assert.deepEqual(named(await refusal(RESTRICTED, copy)), [check]);
    }
  });
});

describe("EasyService pods under Pod Security admission", () => {
  const sample = { size: 2, image: "nginx:1.7.9", ports: [{ port: 80, targetPort: 80, nodePort: 31002 }] };

  test("with runAsUser: admitted where restricted is enforced; the same spec without it, or rendered before, is refused", async () => {
    assert.equal(await refusal(RESTRICTED, buildEasyService(easyService({ ...sample, image: "nginxinc/nginx-unprivileged:1.27", runAsUser: 101 }, "web-nonroot")).deployment), undefined);
    assert.deepEqual(named(await refusal(RESTRICTED, buildEasyService(easyService(sample, "web")).deployment)), ["capabilities", "runAsNonRoot"]);
    assert.deepEqual(named(await refusal(RESTRICTED, withoutSecurity(buildEasyService(easyService(sample, "web")).deployment))), Object.keys(CHECKS));
  });

  test("without runAsUser (the image's user, often root): admitted where baseline is enforced, and refused by restricted only for the user and the capabilities", async () => {
    const deployment = buildEasyService(easyService(sample, "easyservice-sample")).deployment;
    assert.equal(await refusal(BASELINE, deployment), undefined);
    assert.deepEqual(named(await refusal(RESTRICTED, deployment)), ["capabilities", "runAsNonRoot"]);
  });

  test("the baseline namespace enforces: a capability beyond the runtime's defaults is refused there", async () => {
    const copy = structuredClone(buildEasyService(easyService(sample, "web-admin")).deployment) as any;
    copy.spec.template.spec.containers[0].securityContext.capabilities.add = ["NET_ADMIN"];
    assert.match((await refusal(BASELINE, copy)) ?? "admitted", /violates PodSecurity "baseline:.*non-default capabilities/);
  });
});

describe("Deployments in a namespace that enforces restricted, for real", () => {
  /** Applies the Deployment in `namespace`; resolves with its pods, or with the refusal its ReplicaSet reports. */
  async function rollOut(deployment: Manifest, namespace: string): Promise<{ pods: number } | { refused: string }> {
    const object = { ...structuredClone(deployment), metadata: { ...deployment.metadata, namespace } } as KubeObject;
    await apply(c, object);
    const selector = Object.entries((deployment.spec as any).selector.matchLabels).map(([key, value]) => `${key}=${value}`).join(",");
    return eventually(`pods of ${deployment.metadata.name}, or a refusal`, async () => {
      const pods = await c.request("GET", `/api/v1/namespaces/${namespace}/pods?labelSelector=${encodeURIComponent(selector)}`);
      if (pods.items.length > 0) return { pods: pods.items.length };
      const sets = await c.request("GET", `/apis/apps/v1/namespaces/${namespace}/replicasets?labelSelector=${encodeURIComponent(selector)}`);
      const failure = sets.items.flatMap((set: any) => set.status?.conditions ?? []).find((cond: any) => cond.type === "ReplicaFailure" && cond.status === "True");
      return failure === undefined ? undefined : { refused: failure.message as string };
    });
  }

  test("the ReplicaSet creates a TrackingServer's pod and an EasyService's with runAsUser; without it, the EasyService's is refused", async () => {
    assert.deepEqual(await rollOut(buildTrackingServer(trackingServer({}, "mlflow-live"), { defaultImage: DEFAULT_MLFLOW_IMAGE }).deployment, RESTRICTED), { pods: 1 });
    assert.deepEqual(await rollOut(buildEasyService(easyService({ size: 1, image: "nginxinc/nginx-unprivileged:1.27", runAsUser: 101 }, "web-live")).deployment, RESTRICTED), { pods: 1 });
    const refused = await rollOut(buildEasyService(easyService({ size: 1, image: "nginx:1.7.9" }, "web-root")).deployment, RESTRICTED);
    assert.match("refused" in refused ? refused.refused : "pods were created", /violates PodSecurity "restricted:.*runAsNonRoot != true/);
  });
});

describe("the watcher's pod under the restricted Pod Security Standard", () => {
  test("admitted where restricted is enforced; refused without its security settings", async () => {
    const operator = OperatorConfig.parse({ repo: "https://github.com/example-org/crdstack.git", namespaces: ["team-a"] });
    const deployment = structuredClone(watcher(operator).find((manifest) => manifest.kind === "Deployment")!) as any;
    // Its service account lives in the operator's namespace, not in the test's.
    delete deployment.spec.template.spec.serviceAccountName;
    assert.equal(await refusal(RESTRICTED, deployment), undefined);
    assert.deepEqual(named(await refusal(RESTRICTED, withoutSecurity(deployment))), Object.keys(CHECKS));
  });
});


describe("the children's pods get no service-account token", () => {
  // The ServiceAccount admission plugin gives a pod that does not opt out a projected volume
  // `kube-api-access-<random>` with the token of its service account (here the namespace's `default`),
  // mounted in each container at this path.
  // https://kubernetes.io/docs/reference/access-authn-authz/service-accounts-admin/#serviceaccount-admission-controller
  const TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount";
  const kinds = {
    TrackingServer: () => buildTrackingServer(trackingServer({}, "mlflow-token"), { defaultImage: DEFAULT_MLFLOW_IMAGE }).deployment,
    EasyService: () => buildEasyService(easyService({ size: 1, image: "nginx:1.7.9", ports: [{ port: 80 }] }, "web-token")).deployment,
  };

  /** The pod's token volumes and the containers' mounts of the token path, as `volume` and `container:path`. */
  async function tokens(deployment: Manifest) {
    // Both kinds' pods are admitted where baseline is enforced (see above).
    const result = await dryRun(BASELINE, deployment);
    assert.ok("pod" in result, "refused" in result ? result.refused : "");
    const { pod } = result;
    assert.equal(pod.spec.serviceAccountName, "default");
    const volumes = (pod.spec.volumes ?? [])
      .filter((volume: any) => volume.projected?.sources?.some((source: any) => source.serviceAccountToken !== undefined))
      .map((volume: any) => volume.name as string);
    const mounts = pod.spec.containers.flatMap((container: any) =>
      (container.volumeMounts ?? []).filter((mount: any) => mount.mountPath === TOKEN_PATH).map((mount: any) => `${container.name}:${mount.name}`));
    return { volumes, mounts };
  }

  for (const [kind, render] of Object.entries(kinds)) {
    test(`${kind}: the pod comes back from admission without a token volume; rendered as before, it gets one`, async () => {
      assert.deepEqual(await tokens(render()), { volumes: [], mounts: [] });
      const before = structuredClone(render()) as any;
      delete before.spec.template.spec.automountServiceAccountToken;
      const { volumes, mounts } = await tokens(before);
      assert.equal(volumes.length, 1, JSON.stringify(volumes));
      assert.match(volumes[0], /^kube-api-access-[a-z0-9]+$/);
      assert.deepEqual(mounts, [`${before.spec.template.spec.containers[0].name}:${volumes[0]}`]);
    });
  }
});
