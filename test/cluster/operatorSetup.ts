// Shared set-up for the in-cluster tests and the latency bench: the published Stack CRD, service-account
// tokens, the watcher running as a process under its own service account, and a proxy that records
// what the watcher asks the API server.
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as https from "node:https";
import { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { loadAll } from "js-yaml";
import { watcher, watcherConfig, WATCHER_SOURCE } from "../../builders/operator";
import { OperatorConfig } from "../../model/operator";
import { apply, Cluster, create, eventually, KubeObject, readObject, waitEstablished } from "./cluster";

export const STACK_CRD = path.join(__dirname, "..", "fixtures", "pulumi.com_stacks.yaml");

/** Installs the Pulumi Kubernetes Operator's published Stack CRD, as it is. */
export async function installStackCrd(c: Cluster): Promise<void> {
  const crds = (loadAll(fs.readFileSync(STACK_CRD, "utf8")) as KubeObject[]).filter(Boolean);
  for (const crd of crds) if ((await readObject(c, crd)) === undefined) await create(c, crd);
  await waitEstablished(c, crds);
}

/** A token of a service account, from the TokenRequest API (what the kubelet mounts in a pod). */
export async function serviceAccountToken(c: Cluster, namespace: string, name: string): Promise<string> {
  const request = await eventually(`a token for ${namespace}/${name}`, () =>
    c.request("POST", `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`, {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenRequest",
      spec: { expirationSeconds: 3600 },
    }),
  );
  return request.status.token as string;
}

/** A folder laid out like a pod's service-account mount, for a process outside the cluster (`caFile`: of a proxy). */
export function serviceAccountDir(c: Cluster, token: string, caFile = c.caFile): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "crdstack-sa-"));
  fs.writeFileSync(path.join(dir, "token"), token);
  fs.copyFileSync(caFile, path.join(dir, "ca.crt"));
  return dir;
}

/** A request that went through a RecordingProxy. */
export interface RecordedRequest { method: string; path: string; accept: string }

export interface RecordingProxy {
  /** `https://127.0.0.1:<port>`, with its own self-signed certificate. */
  server: string;
  caFile: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

/**
 * A TLS proxy in front of the API server that records each request's method, path and Accept header
 * and passes it on as it is (the caller's own token included), streams too.
 */
export async function recordingProxy(c: Cluster): Promise<RecordingProxy> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "crdstack-proxy-"));
  execFileSync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"], { cwd: dir, stdio: "ignore" });
  const upstream = new URL(c.server);
  const ca = fs.readFileSync(c.caFile);
  const requests: RecordedRequest[] = [];
  const proxy = https.createServer({ key: fs.readFileSync(path.join(dir, "key.pem")), cert: fs.readFileSync(path.join(dir, "cert.pem")) }, (incoming, outgoing) => {
    requests.push({ method: incoming.method ?? "", path: incoming.url ?? "", accept: String(incoming.headers.accept ?? "") });
    const forward = https.request({ host: upstream.hostname, port: upstream.port, method: incoming.method, path: incoming.url, headers: { ...incoming.headers, host: upstream.host }, ca }, (answer) => {
      outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(outgoing);
      // A stream cut short upstream (the API server stopping) is cut short for the watcher too.
      answer.on("close", () => {
        if (!answer.complete) outgoing.destroy();
      });
    });
    // The API server restarting: the watcher sees a broken connection, as it would without the proxy.
    forward.on("error", () => outgoing.destroy());
    outgoing.on("close", () => forward.destroy());
    incoming.pipe(forward);
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  return {
    server: `https://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    caFile: path.join(dir, "cert.pem"),
    requests,
    async close() {
      proxy.closeAllConnections();
      await new Promise((resolve) => proxy.close(resolve));
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const operatorConfig = (raw: Record<string, unknown>) => OperatorConfig.parse({ repo: "https://github.com/example-org/crdstack.git", ...raw });

export interface RunningWatcher {
  process: ChildProcess;
  lines: string[];
  /** Resolves with the first log line (from now or earlier, after `from`) that matches. */
  waitFor(pattern: RegExp, from?: number, timeoutMs?: number): Promise<string>;
  triggers(stack: string, from?: number): string[];
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** Starts the watcher's own file with Node, as the Deployment does, under the given service account (through `via`, a proxy). */
export function startWatcher(c: Cluster, config: object, serviceAccount: string, via?: RecordingProxy): RunningWatcher {
  const server = new URL(via?.server ?? c.server);
  const child = spawn(process.execPath, [WATCHER_SOURCE], {
    env: { PATH: process.env.PATH, KUBERNETES_SERVICE_HOST: server.hostname, KUBERNETES_SERVICE_PORT: server.port, SERVICEACCOUNT_DIR: serviceAccount, WATCHER_CONFIG: JSON.stringify(config) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const take = (chunk: Buffer) => lines.push(...chunk.toString().split("\n").filter((line) => line !== ""));
  child.stdout!.on("data", take);
  child.stderr!.on("data", take);
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return {
    process: child,
    lines,
    async waitFor(pattern, from = 0, timeoutMs = 15_000) {
      try {
        return await eventually(`watcher log ${pattern}`, async () => lines.slice(from).find((line) => pattern.test(line)), timeoutMs);
      } catch (error) {
        throw new Error(`${(error as Error).message}; the watcher logged:\n${lines.slice(-15).join("\n")}`);
      }
    },
    triggers(stack, from = 0) {
      return lines.slice(from).filter((line) => line.includes(` trigger ${stack} `));
    },
    exited,
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
      fs.rmSync(serviceAccount, { recursive: true, force: true });
    },
  };
}

/** The operator namespace with its Stacks and the watcher's RBAC, and the watcher running as its account (through `via`, a proxy). */
export async function deployWatcher(c: Cluster, operator: OperatorConfig, stackObjects: KubeObject[], via?: RecordingProxy): Promise<RunningWatcher> {
  await create(c, { apiVersion: "v1", kind: "Namespace", metadata: { name: operator.namespace } });
  for (const stack of stackObjects) await create(c, stack);
  for (const manifest of watcher(operator).filter((m) => m.kind !== "Deployment")) await apply(c, manifest as KubeObject);
  const token = await serviceAccountToken(c, operator.namespace, "crdstack-watcher");
  return startWatcher(c, watcherConfig(operator), serviceAccountDir(c, token, via?.caFile), via);
}

/** The Stack's reconciliation-request annotation. */
export async function requestOf(c: Cluster, namespace: string, name: string): Promise<string | undefined> {
  const stack = await readObject(c, { apiVersion: "pulumi.com/v1", kind: "Stack", metadata: { name, namespace } });
  return stack?.metadata.annotations?.["pulumi.com/reconciliation-request"];
}
