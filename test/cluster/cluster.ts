// Access to the control plane from a test file: the one `npm test` started (named in the environment),
// or, when a file is run on its own, one started for that file.
import * as k8s from "@kubernetes/client-node";
import { execFileSync } from "node:child_process";
import * as http from "node:http";
import { after } from "node:test";
import { ApiError, requestJson } from "../../sources/cluster";
import { startControlPlane } from "./controlPlane";
import { Toolchain } from "./toolchain";

export const CONTROL_PLANE_ENV = "CRDSTACK_TEST_CONTROL_PLANE";

export interface Cluster {
  kubeconfig: string;
  binaries: string;
  server: string;
  caFile: string;
  /** The Pulumi CLI and its plugins. */
  toolchain: Toolchain;
  /** Stops the API server and starts it again on the same port and data. */
  restartApiServer(): Promise<void>;
  config: k8s.KubeConfig;
  core: k8s.CoreV1Api;
  /** Runs the control plane's own kubectl with the admin kubeconfig; returns stdout. */
  kubectl(...args: string[]): string;
  /** A raw JSON request; throws an ApiError on a status of 300 or more. */
  request(method: string, path: string, body?: unknown, contentType?: string): Promise<any>;
}

export { ApiError };

let cluster: Promise<Cluster> | undefined;

interface Shared { kubeconfig: string; binaries: string; server: string; caFile: string; toolchain: Toolchain; control?: string }

async function restartThrough(control: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const request = http.request(`${control}/restart-apiserver`, { method: "POST" }, (response) => {
      response.resume();
      response.on("end", () => (response.statusCode === 204 ? resolve() : reject(new Error(`restart: ${response.statusCode}`))));
    });
    request.on("error", reject);
    request.end();
  });
}

async function connect(): Promise<Cluster> {
  let shared = JSON.parse(process.env[CONTROL_PLANE_ENV] ?? "null") as Shared | null;
  let restartApiServer: () => Promise<void>;
  if (shared === null) {
    const controlPlane = await startControlPlane();
    after(() => controlPlane.stop());
    shared = controlPlane;
    restartApiServer = () => controlPlane.restartApiServer();
  } else {
    const control = shared.control!;
    restartApiServer = () => restartThrough(control);
  }
  const { kubeconfig, binaries, server: serverUrl, caFile, toolchain } = shared;
  const config = new k8s.KubeConfig();
  config.loadFromFile(kubeconfig);
  const kubectlPath = `${binaries}/kubectl`;
  const file = kubeconfig;
  // Plain JSON: client-node's typed models drop fields they do not know under their JSON names
  // (`default`, `x-kubernetes-*` in a CRD schema), so tests send objects as they are.
  const request = (method: string, path: string, body?: unknown, contentType?: string) => requestJson(config, path, { method, body, contentType });
  return {
    kubeconfig,
    binaries,
    server: serverUrl,
    caFile,
    toolchain,
    restartApiServer,
    config,
    core: config.makeApiClient(k8s.CoreV1Api),
    kubectl: (...args) => execFileSync(kubectlPath, ["--kubeconfig", file, ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }),
    request,
  };
}

/** A Kubernetes object as JSON. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [field: string]: any };
  [field: string]: any;
}

const CLUSTER_SCOPED = new Set(["CustomResourceDefinition", "Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"]);

/** The REST path of an object (or, without a name, of its collection). */
export function pathOf(object: { apiVersion: string; kind: string; metadata: { name?: string; namespace?: string } }, withName = true): string {
  const base = object.apiVersion.includes("/") ? `/apis/${object.apiVersion}` : `/api/${object.apiVersion}`;
  const lower = object.kind.toLowerCase();
  const plural = lower.endsWith("s") ? `${lower}es` : lower.endsWith("y") ? `${lower.slice(0, -1)}ies` : `${lower}s`;
  const namespace = CLUSTER_SCOPED.has(object.kind) ? "" : `/namespaces/${object.metadata.namespace ?? "default"}`;
  return `${base}${namespace}/${plural}${withName && object.metadata.name ? `/${object.metadata.name}` : ""}`;
}

/** The control plane of this test run, started on first use. */
export function useCluster(): Promise<Cluster> {
  cluster ??= connect();
  return cluster;
}

/** Creates a namespace for one test file and deletes it afterwards. */
export async function freshNamespace(c: Cluster, name: string): Promise<string> {
  await c.core.createNamespace({ body: { metadata: { name } } });
  return name;
}

export async function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ""}`);
}

export const FIELD_MANAGER = "crdstack-test";

export function create<T extends KubeObject>(c: Cluster, object: T): Promise<T> {
  return c.request("POST", pathOf(object, false), object);
}

/** Applies an object server-side, as the Pulumi Kubernetes provider does by default. */
export function apply<T extends KubeObject>(c: Cluster, object: T): Promise<T> {
  return c.request("PATCH", `${pathOf(object)}?fieldManager=${FIELD_MANAGER}&force=true`, object, "application/apply-patch+yaml");
}

/** Reads an object, or undefined when it does not exist. */
export async function readObject(c: Cluster, object: KubeObject): Promise<KubeObject | undefined> {
  try {
    return await c.request("GET", pathOf(object));
  } catch (error) {
    if (statusOf(error) === 404) return undefined;
    throw error;
  }
}

export async function remove(c: Cluster, object: KubeObject): Promise<void> {
  await c.request("DELETE", pathOf(object), { propagationPolicy: "Background" });
}

/** The HTTP status of a failed API call, 0 when it is not an API error. */
export function statusOf(error: unknown): number {
  return error instanceof ApiError ? error.code : 0;
}

/** Waits until the API server serves the CRDs. */
export async function waitEstablished(c: Cluster, crds: readonly KubeObject[]): Promise<void> {
  for (const crd of crds) {
    await eventually(`${crd.metadata.name} established`, async () => {
      const current = await readObject(c, crd);
      return current?.status?.conditions?.some((cond: any) => cond.type === "Established" && cond.status === "True") ? true : undefined;
    });
  }
}

/** Installs the generated CRDs and waits until the API server serves them. */
export async function installCrds(c: Cluster, crds: readonly KubeObject[]): Promise<void> {
  for (const crd of crds) await apply(c, crd);
  await waitEstablished(c, crds);
}
