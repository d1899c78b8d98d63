// `scripts/cluster.sh up` runs this in the background: the tests' cluster (test/cluster/controlPlane.ts)
// for a person to use by hand, until SIGTERM. It writes the kubeconfig's path to the file named by its
// argument once the cluster is ready, and removes that file when it stops.
import * as fs from "node:fs";
import { startControlPlane } from "../test/cluster/controlPlane";

async function main(readyFile: string): Promise<void> {
  const cluster = await startControlPlane();
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    fs.rmSync(readyFile, { force: true });
    cluster.stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  fs.writeFileSync(readyFile, `${cluster.kubeconfig}\n${cluster.binaries}\n`);
  console.log(`cluster ready at ${cluster.server}`);
}

main(process.argv[2]).catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
