// A real Kubernetes cluster for the tests and for `scripts/cluster.sh`, with simulated nodes: etcd,
// kube-apiserver (RBAC, token auth), kube-controller-manager, kube-scheduler and kwok (a fake kubelet:
// see kwok-stages.yaml) on free loopback ports with a temporary data folder. This process also plays
// the parts a cloud's controllers would: a storage driver for the default StorageClass `standard` (each
// claim gets a local PersistentVolume) and an ingress controller (each Ingress gets an address).
// `stop` always removes what it started.
import { ChildProcess, spawn } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as https from "node:https";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { Toolchain, useToolchain } from "./toolchain";

export interface ControlPlane {
  /** A kubeconfig file whose user is a cluster admin (`system:masters`). */
  kubeconfig: string;
  server: string;
  /** The folder with kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd and kwok. */
  binaries: string;
  /** The Pulumi CLI and its plugins, from the same toolchain. */
  toolchain: Toolchain;
  /** The API server's (self-signed) serving certificate, as a service account's `ca.crt`. */
  caFile: string;
  /** A kubeconfig file for `server` with a bearer `token`, e.g. a service account's. */
  kubeconfigFor(token: string, name: string): string;
  /** Stops the API server and starts it again on the same port and data (for watch-resume tests). */
  restartApiServer(): Promise<void>;
  stop(): Promise<void>;
}

/** The name of the one simulated node, and the StorageClass the cluster provisions. */
export const NODE_NAME = "kwok-node-0";
export const STORAGE_CLASS = "standard";
const PROVISIONER = "crdstack.test/local";

/** A loopback port nothing listens on. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

interface Reply { status: number; body: any }

/** One JSON request to the API server as the admin; status 0 when it could not be sent. */
function call(server: string, token: string, method: string, urlPath: string, body?: unknown): Promise<Reply> {
  return new Promise((resolve) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const headers: Record<string, string> = { Authorization: `Bearer ${token}`, Accept: "application/json" };
    if (payload !== undefined) headers["Content-Type"] = "application/json";
    const request = https.request(`${server}${urlPath}`, { method, headers, rejectUnauthorized: false, timeout: 5000 }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("end", () => {
        const text = Buffer.concat(chunks).toString();
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // not JSON (e.g. /readyz): keep the text
        }
        resolve({ status: response.statusCode ?? 0, body: parsed });
      });
    });
    request.on("error", () => resolve({ status: 0, body: undefined }));
    request.on("timeout", () => request.destroy());
    request.end(payload);
  });
}

async function waitUntil(what: string, check: () => Promise<boolean>, logs: () => string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what} not ready after ${timeoutMs / 1000}s; last output:\n${logs()}`);
}

function kubeconfigYaml(server: string, token: string): string {
  return `apiVersion: v1
kind: Config
clusters:
  - name: test
    cluster: { server: "${server}", insecure-skip-tls-verify: true }
users:
  - name: test
    user: { token: "${token}" }
contexts:
  - name: test
    context: { cluster: test, user: test, namespace: default }
current-context: test
`;
}

/** The address the stand-in ingress controller gives every Ingress. */
export const INGRESS_ADDRESS = "127.0.0.1";

/**
 * Until `stop`: gives every pending claim of the `standard` class a local volume bound to it, as a
 * storage driver's provisioner would (the persistent-volume controller completes the binding), and
 * every Ingress an address, as an ingress controller would.
 */
function standIns(server: string, token: string, dir: string): { stop(): Promise<void> } {
  let stopped = false;
  const pass = async () => {
    const claims = await call(server, token, "GET", "/api/v1/persistentvolumeclaims");
    for (const claim of claims.body?.items ?? []) {
      if (claim.spec.volumeName || claim.spec.storageClassName !== STORAGE_CLASS || claim.metadata.deletionTimestamp) continue;
      const name = `pvc-${claim.metadata.uid}`;
      const hostPath = path.join(dir, "volumes", name);
      fs.mkdirSync(hostPath, { recursive: true });
      await call(server, token, "POST", "/api/v1/persistentvolumes", {
        apiVersion: "v1",
        kind: "PersistentVolume",
        metadata: { name, annotations: { "pv.kubernetes.io/provisioned-by": PROVISIONER } },
        spec: {
          capacity: { storage: claim.spec.resources.requests.storage },
          accessModes: claim.spec.accessModes,
          storageClassName: STORAGE_CLASS,
          persistentVolumeReclaimPolicy: "Delete",
          hostPath: { path: hostPath },
          claimRef: { apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: claim.metadata.namespace, name: claim.metadata.name, uid: claim.metadata.uid },
        },
      });
    }
    // A released volume would be deleted by the driver: do it here.
    const volumes = await call(server, token, "GET", "/api/v1/persistentvolumes");
    for (const volume of volumes.body?.items ?? []) {
      if (volume.status?.phase === "Released" && volume.spec.storageClassName === STORAGE_CLASS) {
        await call(server, token, "DELETE", `/api/v1/persistentvolumes/${volume.metadata.name}`);
      }
    }
    const ingresses = await call(server, token, "GET", "/apis/networking.k8s.io/v1/ingresses");
    for (const ingress of ingresses.body?.items ?? []) {
      if ((ingress.status?.loadBalancer?.ingress ?? []).length > 0 || ingress.metadata.deletionTimestamp) continue;
      const { namespace, name } = ingress.metadata;
      const status = { loadBalancer: { ingress: [{ ip: INGRESS_ADDRESS }] } };
      await call(server, token, "PUT", `/apis/networking.k8s.io/v1/namespaces/${namespace}/ingresses/${name}/status`, { ...ingress, status });
    }
  };
  // A failed pass (the API server restarting, an object gone meanwhile) is retried by the next one.
  const loop = async () => {
    while (!stopped) {
      await pass().catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  };
  const running = loop();
  return { stop: () => ((stopped = true), running) };
}

export async function startControlPlane(): Promise<ControlPlane> {
  const toolchain = useToolchain();
  const binaries = toolchain.kubeBin;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "crdstack-control-plane-"));
  const processes = new Map<string, ChildProcess>();
  const output = new Map<string, string[]>();
  const logsOf = (name: string) => (output.get(name) ?? []).join("").split("\n").slice(-15).join("\n");

  const start = (name: string, binary: string, args: string[]) => {
    const child = spawn(path.join(binaries, binary), args, { stdio: ["ignore", "pipe", "pipe"] });
    const lines: string[] = [];
    output.set(name, lines);
    child.on("error", (error) => lines.push(`${binary}: ${error.message}\n`));
    const keep = (chunk: Buffer) => {
      lines.push(chunk.toString());
      if (lines.length > 200) lines.splice(0, lines.length - 200);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    processes.set(name, child);
    return child;
  };
  const kill = async (name: string) => {
    const child = processes.get(name);
    processes.delete(name);
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  };
  // Never leave processes behind, even when the test process dies on an error.
  const killAllNow = () => processes.forEach((child) => child.exitCode === null && child.signalCode === null && child.kill("SIGKILL"));
  process.once("exit", killAllNow);

  const [etcdPort, peerPort, apiPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const server = `https://127.0.0.1:${apiPort}`;
  const adminToken = randomBytes(16).toString("hex");
  const tokens = path.join(dir, "tokens.csv");
  fs.writeFileSync(tokens, `${adminToken},admin,admin,"system:masters"\n`);
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const saKey = path.join(dir, "sa.key");
  const saPub = path.join(dir, "sa.pub");
  fs.writeFileSync(saKey, privateKey.export({ type: "pkcs1", format: "pem" }));
  fs.writeFileSync(saPub, publicKey.export({ type: "spki", format: "pem" }));
  const kubeconfig = path.join(dir, "admin.kubeconfig");
  fs.writeFileSync(kubeconfig, kubeconfigYaml(server, adminToken));
  const admin = (method: string, urlPath: string, body?: unknown) => call(server, adminToken, method, urlPath, body);
  let controllers: { stop(): Promise<void> } | undefined;

  try {
    start("etcd", "etcd", [
      `--data-dir=${path.join(dir, "etcd")}`,
      `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
      `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
      `--initial-cluster=default=http://127.0.0.1:${peerPort}`,
      "--unsafe-no-fsync=true",
    ]);
    const apiServerArgs = [
      `--etcd-servers=http://127.0.0.1:${etcdPort}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      `--secure-port=${apiPort}`,
      `--cert-dir=${path.join(dir, "certs")}`,
      "--authorization-mode=RBAC",
      `--token-auth-file=${tokens}`,
      "--service-cluster-ip-range=10.96.0.0/16",
      `--service-account-key-file=${saPub}`,
      `--service-account-signing-key-file=${saKey}`,
      "--service-account-issuer=https://kubernetes.default.svc",
      "--allow-privileged=true",
    ];
    const startApiServer = async () => {
      start("kube-apiserver", "kube-apiserver", apiServerArgs);
      await waitUntil("kube-apiserver", async () => (await admin("GET", "/readyz")).status === 200, () => logsOf("kube-apiserver"));
    };
    await startApiServer();
    const clientArgs = [`--kubeconfig=${kubeconfig}`, `--authentication-kubeconfig=${kubeconfig}`, `--authorization-kubeconfig=${kubeconfig}`, "--leader-elect=false", "--secure-port=0"];
    start("kube-controller-manager", "kube-controller-manager", [
      ...clientArgs,
      "--controllers=garbagecollector,deployment,replicaset,serviceaccount,serviceaccount-token,namespace,pvc-protection,pv-protection,persistentvolume-binder,endpoint,endpointslice,endpointslicemirroring",
      `--service-account-private-key-file=${saKey}`,
      `--root-ca-file=${path.join(dir, "certs", "apiserver.crt")}`,
    ]);
    start("kube-scheduler", "kube-scheduler", clientArgs);
    const stages = path.join(__dirname, "kwok-stages.yaml");
    start("kwok", "kwok", [
      `--kubeconfig=${kubeconfig}`,
      `--config=${stages}`,
      "--manage-all-nodes=false",
      "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
      "--cidr=10.244.0.0/16",
      "--node-ip=127.0.0.1",
    ]);
    // The service-account controller creating `default` in `default` shows the controllers are running.
    await waitUntil(
      "kube-controller-manager",
      async () => (await admin("GET", "/api/v1/namespaces/default/serviceaccounts/default")).status === 200,
      () => logsOf("kube-controller-manager"),
    );
    await admin("POST", "/api/v1/nodes", {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: NODE_NAME, annotations: { "kwok.x-k8s.io/node": "fake" }, labels: { "kubernetes.io/hostname": NODE_NAME, type: "kwok" } },
    });
    await waitUntil(
      "kwok's node",
      async () => (await admin("GET", `/api/v1/nodes/${NODE_NAME}`)).body?.status?.conditions?.some((c: any) => c.type === "Ready" && c.status === "True") === true,
      () => logsOf("kwok"),
    );
    // A new node is tainted not-ready at admission; the node-lifecycle controller (not run here: kwok's
    // node sends no heartbeats) would lift the taint once the node is Ready. Lift it as that controller would.
    const node = (await admin("GET", `/api/v1/nodes/${NODE_NAME}`)).body;
    await admin("PUT", `/api/v1/nodes/${NODE_NAME}`, { ...node, spec: { ...node.spec, taints: [] } });
    await admin("POST", "/apis/storage.k8s.io/v1/storageclasses", {
      apiVersion: "storage.k8s.io/v1",
      kind: "StorageClass",
      metadata: { name: STORAGE_CLASS, annotations: { "storageclass.kubernetes.io/is-default-class": "true" } },
      provisioner: PROVISIONER,
      volumeBindingMode: "Immediate",
      reclaimPolicy: "Delete",
      allowVolumeExpansion: true,
    });
    controllers = standIns(server, adminToken, dir);

    return {
      kubeconfig,
      server,
      binaries,
      toolchain,
      caFile: path.join(dir, "certs", "apiserver.crt"),
      kubeconfigFor(token: string, name: string) {
        const file = path.join(dir, `${name.replace(/[^a-z0-9-]/gi, "_")}.kubeconfig`);
        fs.writeFileSync(file, kubeconfigYaml(server, token));
        return file;
      },
      async restartApiServer() {
        await kill("kube-apiserver");
        await startApiServer();
      },
      async stop() {
        await controllers?.stop();
        for (const name of ["kwok", "kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd"]) await kill(name);
        process.removeListener("exit", killAllNow);
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await controllers?.stop();
    killAllNow();
    fs.rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
