// A real Kubernetes control plane for the tests, the way envtest runs one: etcd, kube-apiserver (RBAC,
// token auth) and kube-controller-manager (garbage collector, deployments, replica sets, service
// accounts, namespaces, PVC protection) on free loopback ports with a temporary data folder. `stop`
// always removes what it started.
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as https from "node:https";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..", "..");

export interface ControlPlane {
  /** A kubeconfig file whose user is a cluster admin (`system:masters`). */
  kubeconfig: string;
  server: string;
  /** The folder with kube-apiserver, kube-controller-manager, etcd and kubectl. */
  binaries: string;
  /** The API server's (self-signed) serving certificate, as a service account's `ca.crt`. */
  caFile: string;
  /** A kubeconfig file for `server` with a bearer `token`, e.g. a service account's. */
  kubeconfigFor(token: string, name: string): string;
  /** Stops the API server and starts it again on the same port and data (for watch-resume tests). */
  restartApiServer(): Promise<void>;
  stop(): Promise<void>;
}

/** The binaries, found or built by scripts/kube-binaries.sh (KUBEBUILDER_ASSETS, the cache, or a build). */
export function findBinaries(): string {
  try {
    return execFileSync("bash", [path.join(ROOT, "scripts", "kube-binaries.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
  } catch {
    throw new Error(
      "No Kubernetes control-plane binaries: run `bash scripts/kube-binaries.sh` (Debian builds them), " +
        "or set KUBEBUILDER_ASSETS to a folder with kube-apiserver, kube-controller-manager, etcd and kubectl (see README).",
    );
  }
}

function freePort(): Promise<number> {
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

function get(url: string, token: string): Promise<number> {
  return new Promise((resolve) => {
    const request = https.get(url, { headers: { Authorization: `Bearer ${token}` }, rejectUnauthorized: false, timeout: 2000 }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.on("error", () => resolve(0));
    request.on("timeout", () => request.destroy());
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

export async function startControlPlane(): Promise<ControlPlane> {
  const binaries = findBinaries();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "crdstack-control-plane-"));
  const processes = new Map<string, ChildProcess>();
  const output = new Map<string, string[]>();
  const logsOf = (name: string) => (output.get(name) ?? []).join("").split("\n").slice(-15).join("\n");

  const start = (name: string, binary: string, args: string[]) => {
    const child = spawn(path.join(binaries, binary), args, { stdio: ["ignore", "pipe", "pipe"] });
    const lines: string[] = [];
    output.set(name, lines);
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
    if (child === undefined || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  };
  // Never leave processes behind, even when the test process dies on an error.
  const killAllNow = () => processes.forEach((child) => child.exitCode === null && child.kill("SIGKILL"));
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
      "--insecure-port=0",
      `--cert-dir=${path.join(dir, "certs")}`,
      "--authorization-mode=RBAC",
      `--token-auth-file=${tokens}`,
      "--service-cluster-ip-range=10.0.0.0/24",
      `--service-account-key-file=${saPub}`,
      `--service-account-signing-key-file=${saKey}`,
      "--service-account-issuer=https://kubernetes.default.svc",
      "--allow-privileged=true",
    ];
    const startApiServer = async () => {
      start("kube-apiserver", "kube-apiserver", apiServerArgs);
      await waitUntil("kube-apiserver", async () => (await get(`${server}/readyz`, adminToken)) === 200, () => logsOf("kube-apiserver"));
    };
    await startApiServer();
    start("kube-controller-manager", "kube-controller-manager", [
      `--kubeconfig=${kubeconfig}`,
      `--authentication-kubeconfig=${kubeconfig}`,
      `--authorization-kubeconfig=${kubeconfig}`,
      "--controllers=garbagecollector,deployment,replicaset,serviceaccount,serviceaccount-token,namespace,pvc-protection",
      `--service-account-private-key-file=${saKey}`,
      `--root-ca-file=${path.join(dir, "certs", "apiserver.crt")}`,
      "--leader-elect=false",
      "--port=0",
      "--secure-port=0",
    ]);
    // The service-account controller creating `default` in `default` shows the controllers are running.
    await waitUntil(
      "kube-controller-manager",
      async () => (await get(`${server}/api/v1/namespaces/default/serviceaccounts/default`, adminToken)) === 200,
      () => logsOf("kube-controller-manager"),
    );

    return {
      kubeconfig,
      server,
      binaries,
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
        for (const name of ["kube-controller-manager", "kube-apiserver", "etcd"]) await kill(name);
        process.removeListener("exit", killAllNow);
        fs.rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    killAllNow();
    fs.rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}
