// The MLflow server a TrackingServer renders, run for real: MLflow from PyPI at the default image's
// version (scripts/python-tools.sh), started from the rendered Deployment the way the kubelet would
// (kubelet.ts), reached through the rendered Ingress (ingress.ts) by the Python MLflow client.
import assert from "node:assert/strict";
import { ChildProcess, execFile, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { buildTrackingServer, DEFAULT_RESOURCES, STARTUP_BUDGET_SECONDS, TrackingServerChildren } from "../../builders/trackingServer";
import { quantityValue } from "../../model/resources";
import { DEFAULT_MLFLOW_IMAGE } from "../../model/config";
import { trackingServer } from "../helpers";
import { startIngress } from "./ingress";
import { freePort } from "../cluster/controlPlane";
import { awaitStartup, fetchWithHost, Manifest, probe, runContainer, RunningContainer } from "./kubelet";
import { PythonTools, usePythonTools } from "./pythonTools";

let tools: PythonTools;
before(() => {
  tools = usePythonTools();
});

const HOST = "mlflow.example.com";

/** The Service port an Ingress names, through its targetPort, to the container's loopback port. */
function backends(children: TrackingServerChildren, running: RunningContainer) {
  return (service: string, port: string | number) => {
    assert.equal(service, children.service.metadata.name, "the Ingress names the server's Service");
    const servicePort = (children.service as Manifest).spec.ports.find((p: Manifest) => p.name === port || p.port === port);
    assert.ok(servicePort, `the Service has a port ${port}`);
    return running.port(servicePort.targetPort);
  };
}

/** Runs the Python MLflow client (client.py) with `env`; resolves with the JSON it prints. */
function runClient(env: Record<string, string>, content: string, image = tools.mlflow): Promise<Record<string, any>> {
  const python = path.join(image, "bin", "python");
  return new Promise((resolve, reject) => {
    execFile(python, [path.join(__dirname, "client.py"), content], { env: { PATH: "/usr/bin:/bin", HOME: process.env.HOME ?? "/tmp", ...env }, timeout: 120_000 }, (error, stdout, stderr) => {
      if (error) return reject(new Error(`client.py failed: ${error.message}\n${stderr.slice(-3000)}`));
      resolve(JSON.parse(stdout.trim().split("\n").pop()!));
    });
  });
}

/** Starts the rendered server, waiting for its startup probe; returns it and the seconds that took. */
async function startServer(children: TrackingServerChildren, imageEnv: Record<string, string> = {}, image = tools.mlflow) {
  const started = Date.now();
  const running = await runContainer(children.deployment, { secrets: [children.credentials], image, imageEnv });
  const container = (children.deployment as Manifest).spec.template.spec.containers[0];
  const seconds = await awaitStartup(container, running, started).catch(async (error) => {
    await running.stop();
    throw error;
  });
  return { running, container, seconds };
}

describe(`the rendered MLflow server, run for real (MLflow from PyPI at the version of ${DEFAULT_MLFLOW_IMAGE})`, () => {
  const object = trackingServer({ url: `https://${HOST}/team`, volumeSize: "1Gi", storageClassName: "standard" }, "mlflow", "team-a");
  const children = buildTrackingServer(object, { defaultImage: DEFAULT_MLFLOW_IMAGE });
  let running: RunningContainer;
  let container: Manifest;
  let ingress: { port: number; close(): Promise<void> };

  before(async () => {
    const server = await startServer(children);
    ({ running, container } = server);
    console.log(`# first start, creating the database: ${server.seconds.toFixed(1)} s until the startup probe passed (startup budget ${STARTUP_BUDGET_SECONDS} s)`);
    // The kubelet probes once per period: it sees the success at the next period at the latest.
    assert.ok(server.seconds + container.startupProbe.periodSeconds <= STARTUP_BUDGET_SECONDS, `${server.seconds} s`);
    ingress = await startIngress([children.ingress!], backends(children, running));
  });

  after(async () => {
    await ingress?.close();
    await running?.stop();
  });

  test("the Deployment's own probes pass: startup, readiness and liveness, with their path, port and Host header", async () => {
    for (const kind of ["startupProbe", "readinessProbe", "livenessProbe"]) assert.ok(await probe(container[kind], running), kind);
    assert.ok(running.output().includes("Updating database tables") || running.output().includes("Creating initial MLflow database tables"), "the first start migrated a new database");
  });

  test("through the rendered Ingress, /team reaches the UI and /api the REST API; other paths reach nothing", async () => {
    const get = (requestPath: string, host = HOST) => fetchWithHost(`http://127.0.0.1:${ingress.port}${requestPath}`, { Host: host }, 10_000);
    const ui = await get("/team/");
    assert.equal(ui.status, 200);
    assert.match(ui.type, /text\/html/);
    assert.match(ui.body, /static-files/);
    const search = await get("/api/2.0/mlflow/experiments/search?max_results=10");
    assert.equal(search.status, 200, search.body);
    const experiments = JSON.parse(search.body).experiments;
    assert.equal(experiments[0].name, "Default");
    assert.match(experiments[0].artifact_location, /^mlflow-artifacts:/, "artifacts are served by the server");
    const ajax = await get("/team/ajax-api/2.0/mlflow/experiments/search?max_results=10");
    assert.equal(ajax.status, 200, "the UI's own API, under the prefix");
    assert.equal((await get("/elsewhere")).status, 404);
    assert.equal((await get("/teamx/")).status, 404, "the rendered Prefix path /team takes whole path elements only, as the Ingress API defines");
    assert.equal((await get("/api/2.0/mlflow/experiments/search?max_results=1", "other.example.com")).status, 404, "another host is not routed");
  });

  test("the Python MLflow client logs a run, a metric and an artifact through the Ingress and reads them back; the artifact is on the server's volume", async () => {
    const proxy = `http://127.0.0.1:${ingress.port}`;
    // MLflow's REST API is not under the URL's path: clients use the host's root.
    const result = await runClient({ MLFLOW_TRACKING_URI: `http://${HOST}`, HTTP_PROXY: proxy, http_proxy: proxy }, "written by the client\n");
    assert.deepEqual(result.params, { alpha: "0.5" });
    assert.deepEqual(result.metrics, { loss: 0.25 });
    assert.equal(result.artifact, "written by the client\n");
    assert.match(result.artifact_uri, /^mlflow-artifacts:\//, "the client uploads through the server, not to a folder of its own");
    const stored = path.join(running.mounts["/mlflow"], "artifacts", result.experiment_id, result.run_id, "artifacts", "notes.txt");
    assert.equal(fs.readFileSync(stored, "utf8"), "written by the client\n");
    assert.ok(fs.existsSync(path.join(running.mounts["/mlflow"], "mlflow.db")), "the database is on the volume");
  });

  test("the server's memory stays under the default limit", () => {
    const used = running.memory();
    const limit = quantityValue(DEFAULT_RESOURCES.limits.memory);
    console.log(`# resident memory after the client's run: ${(used / 2 ** 20).toFixed(0)} MiB (request ${DEFAULT_RESOURCES.requests.memory}, limit ${DEFAULT_RESOURCES.limits.memory})`);
    assert.ok(used < limit, `${used} bytes`);
  });
});

describe("S3 artifacts, against moto's S3 server on loopback", () => {
  let moto: ChildProcess;
  let motoUrl: string;

  before(async () => {
    const port = await freePort();
    motoUrl = `http://127.0.0.1:${port}`;
    moto = spawn(path.join(tools.moto, "bin", "moto_server"), ["-H", "127.0.0.1", "-p", String(port)], { stdio: "ignore" });
    moto.on("error", (error) => console.error(`moto_server: ${error.message}`));
    for (let i = 0; ; i++) {
      const answer = await fetch(`${motoUrl}/mlflow-artifacts`, { method: "PUT" }).catch(() => undefined);
      if (answer?.ok) break;
      if (i > 120) throw new Error("moto's S3 server did not start");
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  });

  after(() => {
    moto?.kill();
  });

  const KEYS = { aws_access_key: "AKIACRDSTACKTEST", aws_secret_key: "crdstack-test-secret" };
  const childrenFor = (fields: Record<string, unknown>) => {
    const spec = { s3_endpoint_url: motoUrl, ...KEYS, artifact_root: "s3://mlflow-artifacts/team", ...fields };
    return buildTrackingServer(trackingServer(spec, "s3", "team-a"), { defaultImage: DEFAULT_MLFLOW_IMAGE });
  };
  const stored = async (key: string) => (await (await fetch(`${motoUrl}/mlflow-artifacts?list-type=2`)).text()).includes(`<Key>${key}</Key>`);

  test("serveArtifacts: true, boto3 in the image: the client's artifact goes through the server, with the credentials Secret's keys, into the bucket", async () => {
    const children = childrenFor({ serveArtifacts: true });
    const { running } = await startServer(children, { PYTHONPATH: tools.s3Client });
    try {
      const result = await runClient({ MLFLOW_TRACKING_URI: `http://127.0.0.1:${running.port("server")}` }, "stored in S3\n");
      assert.equal(result.artifact, "stored in S3\n");
      assert.match(result.artifact_uri, /^mlflow-artifacts:\//);
      assert.ok(await stored(`team/${result.experiment_id}/${result.run_id}/artifacts/notes.txt`));
    } finally {
      await running.stop();
    }
  });

  test("serveArtifacts: true on the default image, which has no boto3: the upload fails, as the README says", async () => {
    const { running } = await startServer(childrenFor({ serveArtifacts: true }));
    try {
      await assert.rejects(runClient({ MLFLOW_TRACKING_URI: `http://127.0.0.1:${running.port("server")}`, MLFLOW_HTTP_REQUEST_MAX_RETRIES: "0" }, "lost\n"));
      assert.match(running.output(), /No module named 'boto3'/);
    } finally {
      await running.stop();
    }
  });

  test("a remote artifact_root, serveArtifacts unset: clients with boto3 and keys write to the bucket themselves, as before serving existed", async () => {
    const { running } = await startServer(childrenFor({}));
    try {
      const client = { PYTHONPATH: tools.s3Client, MLFLOW_S3_ENDPOINT_URL: motoUrl, AWS_ACCESS_KEY_ID: KEYS.aws_access_key, AWS_SECRET_ACCESS_KEY: KEYS.aws_secret_key };
      const result = await runClient({ MLFLOW_TRACKING_URI: `http://127.0.0.1:${running.port("server")}`, ...client }, "written by the client\n");
      assert.match(result.artifact_uri, /^s3:\/\/mlflow-artifacts\/team\//);
      assert.ok(await stored(`team/${result.experiment_id}/${result.run_id}/artifacts/notes.txt`));
    } finally {
      await running.stop();
    }
  });
});

describe("a current MLflow (3.17.2) from the same Deployment: the Host check, and the REST API under the path", () => {
  const object = trackingServer({ url: `https://${HOST}/team`, image: "ghcr.io/mlflow/mlflow:v3.17.2" }, "mlflow", "team-a");
  const children = buildTrackingServer(object, { defaultImage: DEFAULT_MLFLOW_IMAGE });
  let running: RunningContainer;
  let container: Manifest;
  let ingress: { port: number; close(): Promise<void> };

  before(async () => {
    // The startup probe passing is a first proof: it sends the Host header the probes carry.
    ({ running, container } = await startServer(children, {}, tools.mlflowCurrent));
    ingress = await startIngress([children.ingress!], backends(children, running));
  });

  after(async () => {
    await ingress?.close();
    await running?.stop();
  });

  const search = (host: string) => fetchWithHost(`http://127.0.0.1:${running.port("server")}/team/api/2.0/mlflow/experiments/search?max_results=1`, { Host: host }, 10_000);

  test("the readiness and liveness probes pass, Host header included", async () => {
    for (const kind of ["readinessProbe", "livenessProbe"]) assert.ok(await probe(container[kind], running), kind);
  });

  test("the Ingress host and the Service's names are admitted, with or without a port", async () => {
    for (const host of [HOST, `${HOST}:443`, "mlflow", "mlflow.team-a", "mlflow.team-a.svc:5000", "mlflow.team-a.svc.cluster.local:5000"]) {
      assert.equal((await search(host)).status, 200, host);
    }
  });

  test("any other Host is refused: another domain, another namespace's Service name, a pod IP", async () => {
    for (const host of ["evil.example.com", `${HOST}.evil.example.com`, "mlflow.team-b.svc:5000", "10.0.0.7:5000"]) {
      const answer = await search(host);
      assert.equal(answer.status, 403, `${host}: ${answer.status} ${answer.body.slice(0, 200)}`);
    }
  });

  test("from 3.12 the REST API is under the path too: a client with https://host/team as tracking URI works through the Ingress", async () => {
    const proxy = `http://127.0.0.1:${ingress.port}`;
    const result = await runClient({ MLFLOW_TRACKING_URI: `http://${HOST}/team`, HTTP_PROXY: proxy, http_proxy: proxy }, "current MLflow\n", tools.mlflowCurrent);
    assert.deepEqual(result.metrics, { loss: 0.25 });
    assert.equal(result.artifact, "current MLflow\n");
  });
});
