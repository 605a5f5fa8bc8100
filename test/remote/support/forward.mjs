// A TCP forwarder run inside a test's network namespace (`ip netns exec NS node forward.mjs
// LISTEN_ADDR TARGET_ADDR PORT...`): each PORT on LISTEN_ADDR goes to TARGET_ADDR's same port. The
// namespace's 127.0.0.1 is its own: this is how Slurm commands run by an sshd in the namespace
// reach slurmctld and slurmdbd of the host (they listen on all addresses), slurm.conf unchanged.
import { connect, createServer } from "node:net";

const [listenAddr, target, ...ports] = process.argv.slice(2);
for (const port of ports.map(Number)) {
  createServer((a) => {
    const b = connect(port, target);
    a.pipe(b).pipe(a);
    a.on("error", () => b.destroy());
    b.on("error", () => a.destroy());
  }).listen(port, listenAddr, () => process.stdout.write(`listening ${port}\n`));
}
