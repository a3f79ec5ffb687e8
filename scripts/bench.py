#!/usr/bin/env python3
"""Deploy and destroy the same star labs with nslab, with `ip` one command per step (the seeds'
way), with `ip -batch`, and with bench/floor.c (raw rtnetlink from C, one request at a time: what
the kernel itself costs); print medians, ratios and how time grows with N.

A star of N leaves: a hub namespace (a router) and N leaf namespaces, one veth each, an IPv4
address on both ends, loopback and every link up, forwarding on in the hub, a default route
in each leaf. The same work for all four methods, checked by a ping from the last leaf to the
first before each lab is destroyed.

Destroy times include the kernel's own cleanup: the clock stops when the kernel's netns worker
has been idle for 50 ms (that idle time not counted).

Run as root: scripts/bench.sh [--sizes 10,100,1000] [--runs 3] [--hand-runs 1] [--out FILE]
"""
import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time

NSLAB = os.environ.get("NSLAB", ".build/release/nslab")
PREFIX = f"nb{os.getpid() % 100000}-"


def run(args, **kwargs):
    return subprocess.run(args, check=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def netns_cleanup_running():
    """True while a kernel worker runs the netns workqueue (its name then reads '…+netns')."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/comm") as f:
                if "+netns" in f.read():
                    return True
        except OSError:
            pass
    return False


CLEANUP_TIMEOUTS = []
FAILURES = []


def wait_for_kernel_cleanup(timeout=30):
    """Until the kernel has torn the namespaces down: its netns worker idle for 50 ms in a row.
    (The net_namespace slab count is no guide: the kernel defers freeing the structures to a
    later cleanup run.)"""
    deadline = time.monotonic() + timeout
    idle_since = None
    while time.monotonic() < deadline:
        if netns_cleanup_running():
            idle_since = None
        elif idle_since is None:
            idle_since = time.monotonic()
        elif time.monotonic() - idle_since >= 0.05:
            return time.monotonic() - 0.05
        time.sleep(0.002)
    CLEANUP_TIMEOUTS.append(1)
    return time.monotonic()


def leaf(i):
    return f"{PREFIX}leaf{i}"


HUB = None


def addresses(i):
    """Leaf i (from 1) gets the /30 at 10.0.0.0 + 4(i-1): hub .1, leaf .2, as nslab generate does."""
    base = (10 << 24) + 4 * (i - 1)
    dot = lambda v: ".".join(str((v >> s) & 255) for s in (24, 16, 8, 0))
    return dot(base + 1), dot(base + 2)


def hand_commands(n):
    """The seeds' way: one `ip` per step, veths created in the host and moved."""
    cmds = [["ip", "netns", "add", HUB], ["ip", "-n", HUB, "link", "set", "lo", "up"],
            ["ip", "netns", "exec", HUB, "sysctl", "-qw", "net.ipv4.ip_forward=1"]]
    for i in range(1, n + 1):
        hub_if, leaf_if = f"{PREFIX}h{i}", f"{PREFIX}l{i}"
        hub_addr, leaf_addr = addresses(i)
        cmds += [
            ["ip", "netns", "add", leaf(i)],
            ["ip", "-n", leaf(i), "link", "set", "lo", "up"],
            ["ip", "link", "add", hub_if, "type", "veth", "peer", "name", leaf_if],
            ["ip", "link", "set", hub_if, "netns", HUB],
            ["ip", "link", "set", leaf_if, "netns", leaf(i)],
            ["ip", "-n", HUB, "address", "add", f"{hub_addr}/30", "dev", hub_if],
            ["ip", "-n", leaf(i), "address", "add", f"{leaf_addr}/30", "dev", leaf_if],
            ["ip", "-n", HUB, "link", "set", hub_if, "up"],
            ["ip", "-n", leaf(i), "link", "set", leaf_if, "up"],
            ["ip", "-n", leaf(i), "route", "add", "default", "via", hub_addr],
        ]
    return cmds


def deploy_hand(n):
    for cmd in hand_commands(n):
        run(cmd)


def destroy_hand(n):
    for name in [HUB] + [leaf(i) for i in range(1, n + 1)]:
        run(["ip", "netns", "delete", name])


def deploy_batch(n, workdir):
    """`ip -batch`: one batch in the host namespace (namespaces, veths created in place), then one
    `ip -n NODE -batch` per namespace for what must be done inside it (batch lines cannot name a
    namespace)."""
    host = [f"netns add {HUB}"] + [f"netns add {leaf(i)}" for i in range(1, n + 1)]
    host += [f"link add {PREFIX}h{i} netns {HUB} type veth peer name {PREFIX}l{i} netns {leaf(i)}"
             for i in range(1, n + 1)]
    inside = {HUB: ["link set lo up"]}
    for i in range(1, n + 1):
        hub_addr, leaf_addr = addresses(i)
        inside[HUB] += [f"address add {hub_addr}/30 dev {PREFIX}h{i}", f"link set {PREFIX}h{i} up"]
        inside[leaf(i)] = ["link set lo up", f"address add {leaf_addr}/30 dev {PREFIX}l{i}",
                           f"link set {PREFIX}l{i} up", f"route add default via {hub_addr}"]
    path = os.path.join(workdir, "host.batch")
    with open(path, "w") as f:
        f.write("\n".join(host) + "\n")
    run(["ip", "-batch", path])
    run(["ip", "netns", "exec", HUB, "sysctl", "-qw", "net.ipv4.ip_forward=1"])
    for name, lines in inside.items():
        run(["ip", "-n", name, "-batch", "-"], input="\n".join(lines) + "\n")


def destroy_batch(n, workdir):
    path = os.path.join(workdir, "del.batch")
    with open(path, "w") as f:
        f.write("\n".join(f"netns delete {x}" for x in [HUB] + [leaf(i) for i in range(1, n + 1)]) + "\n")
    run(["ip", "-batch", path])


FLOOR = None


def build_floor(workdir):
    """bench/floor.c, compiled with the system's C compiler or the Swift toolchain's clang."""
    global FLOOR
    compiler = next((c for c in ("cc", "clang", "gcc") if subprocess.run(["sh", "-c", f"command -v {c}"],
                                                                         stdout=subprocess.DEVNULL).returncode == 0), None)
    if compiler is None:
        raise SystemExit("no C compiler (cc, clang or gcc) to build bench/floor.c; leave out the method: --methods nslab,ip-batch,ip")
    FLOOR = os.path.join(workdir, "floor")
    run([compiler, "-O2", "-o", FLOOR, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "bench", "floor.c")])


def nslab_file(n, workdir):
    path = os.path.join(workdir, f"star{n}.yaml")
    run([NSLAB, "generate", "star", "--leaves", str(n), "--name", f"{PREFIX}star{n}",
         "--prefix", PREFIX, "-o", path, "--force"])
    return path


def measured(args):
    """Runs one nslab command; returns (its peak memory in MiB, its peak open files). Memory from
    the kernel's rusage of that child (wait4: maximum resident set); open files by counting
    /proc/PID/fd every 5 ms while it runs (a peak shorter than that can be missed)."""
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak_files = 0
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid == process.pid:
            break
        try:
            peak_files = max(peak_files, len(os.listdir(f"/proc/{process.pid}/fd")))
        except OSError:
            pass
        time.sleep(0.005)
    stderr = process.stderr.read().decode(errors="replace")
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{' '.join(args)} failed ({code}):\n{stderr}")
    return usage.ru_maxrss / 1024, peak_files


# Per (command, N): [(seconds, peak MiB, peak open files)] of nslab's own commands.
NSLAB_COMMANDS = {}


def nslab_command(what, n, args):
    start = time.monotonic()
    memory, files = measured(args)
    NSLAB_COMMANDS.setdefault((what, n), []).append((time.monotonic() - start, memory, files))


def deploy_nslab(path, n):
    nslab_command("deploy", n, [NSLAB, "deploy", "-q", path])


def other_nslab_commands(path, n, sample):
    """verify (every pair up to 1,000 nodes, else `--sample` destinations per node), then
    converge with nothing to change (deploy of the same file)."""
    verify = [NSLAB, "verify", f"{PREFIX}star{n}"]
    if n > 1000:
        verify += ["--sample", str(sample), "--seed", "1"]
    nslab_command("verify", n, verify)
    nslab_command("converge", n, [NSLAB, "deploy", "-q", path])


def destroy_nslab(n, workdir):
    nslab_command("destroy", n, [NSLAB, "destroy", f"{PREFIX}star{n}"])


def check(n):
    # The nslab lab names its hub 'hub'; the others use HUB. Either way the last leaf pings the hub.
    hub_addr, _ = addresses(1)
    result = subprocess.run(["ip", "netns", "exec", leaf(n), "ping", "-c", "1", "-W", "2", hub_addr],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        raise SystemExit(f"lab of {n} leaves does not work:\n{result.stdout}")


def measure(method, n, runs, workdir, sample):
    global HUB
    HUB = f"{PREFIX}hub"
    deploys, destroys = [], []
    # Written before the clock starts, as the other methods' commands are.
    topology = nslab_file(n, workdir) if method == "nslab" else None
    for _ in range(runs):
        start = time.monotonic()
        if method == "nslab":
            deploy_nslab(topology, n)
        elif method == "ip":
            deploy_hand(n)
        elif method == "c":
            run([FLOOR, "deploy", PREFIX, str(n)])
        else:
            deploy_batch(n, workdir)
        deploys.append(time.monotonic() - start)
        check(n)
        if method == "nslab":
            other_nslab_commands(topology, n, sample)
        start = time.monotonic()
        if method == "nslab":
            destroy_nslab(n, workdir)
        elif method == "ip":
            destroy_hand(n)
        elif method == "c":
            run([FLOOR, "destroy", PREFIX, str(n)])
        else:
            destroy_batch(n, workdir)
        done = wait_for_kernel_cleanup()
        destroys.append(done - start)
        time.sleep(1)  # let the kernel's deferred work settle before the next run
    return statistics.median(deploys), statistics.median(destroys)


def cleanup_leftovers():
    names = run(["ip", "netns", "list"]).stdout.split("\n")
    for line in names:
        name = line.split(" ")[0]
        if name.startswith(PREFIX):
            subprocess.run(["ip", "netns", "delete", name])
    for lab in os.listdir("/run/nslab") if os.path.isdir("/run/nslab") else []:
        if lab.startswith(PREFIX):
            subprocess.run([NSLAB, "destroy", lab])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--runs", type=int, default=3, help="runs per size for nslab and ip -batch")
    parser.add_argument("--hand-runs", type=int, default=1, help="runs per size for ip per step (70 s at N=1000)")
    parser.add_argument("--methods", default="nslab,c,ip-batch,ip")
    parser.add_argument("--sample", type=int, default=10,
                        help="verify above 1,000 nodes: this many random destination nodes per node")
    parser.add_argument("--out", help="also write the results as Markdown to this file")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: the benchmark creates namespaces")
    sizes = [int(x) for x in args.sizes.split(",")]
    methods = args.methods.split(",")
    results = {}
    try:
        with tempfile.TemporaryDirectory() as workdir:
            if "c" in methods:
                build_floor(workdir)
            for n in sizes:
                for method in methods:
                    runs = args.hand_runs if method == "ip" else args.runs
                    print(f"… {method} N={n} ({runs} run{'s' if runs > 1 else ''})", file=sys.stderr, flush=True)
                    try:
                        results[(method, n)] = measure(method, n, runs, workdir, args.sample)
                    except (subprocess.CalledProcessError, SystemExit) as error:
                        # One method failing at one size (ip -batch at 10,000 namespaces) is a
                        # result too: said, cleaned up, and the other figures still printed.
                        detail = getattr(error, "stderr", None) or str(error)
                        FAILURES.append(f"{method} at N={n} failed: {detail.strip().splitlines()[-1] if detail.strip() else error}")
                        print(FAILURES[-1], file=sys.stderr, flush=True)
                        cleanup_leftovers()
    finally:
        cleanup_leftovers()

    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    lines = [
        f"Machine: {os.cpu_count()} cores ({cpu}), {platform.release()} kernel, "
        f"{round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30)} GiB; "
        f"{time.strftime('%Y-%m-%d')}",
        "",
        "Star of N leaves (hub router + N leaves, one veth each, 2 addresses, links and lo up, routes); "
        "medians; destroy includes the kernel's cleanup.",
        "",
        "| N | method | deploy | destroy | deploy per leaf |",
        "|---|---|---|---|---|",
    ]
    for n in sizes:
        for method in methods:
            if (method, n) in results:
                d, x = results[(method, n)]
                lines.append(f"| {n} | {method} | {d * 1000:.0f} ms | {x * 1000:.0f} ms | {d / n * 1000:.2f} ms |")
    lines += ["", "| N | nslab/ip (deploy) | nslab/ip-batch (deploy) | ip/nslab | ip-batch/nslab | nslab/c deploy | nslab/c destroy |",
              "|---|---|---|---|---|---|---|"]
    for n in sizes:
        ns = results.get(("nslab", n))
        if not ns:
            continue
        ip = results.get(("ip", n))
        batch = results.get(("ip-batch", n))
        floor = results.get(("c", n))
        fmt = lambda r: f"{ns[0] / r[0]:.3f}" if r else "-"
        inv = lambda r: f"{r[0] / ns[0]:.1f}×" if r else "-"
        vs_floor = lambda k: f"{ns[k] / floor[k]:.2f}" if floor else "-"
        lines.append(f"| {n} | {fmt(ip)} | {fmt(batch)} | {inv(ip)} | {inv(batch)} | {vs_floor(0)} | {vs_floor(1)} |")
    if NSLAB_COMMANDS:
        lines += ["", f"nslab's commands on the same stars (medians; verify: every pair up to 1,000 nodes, "
                  f"above that --sample {args.sample}; converge: deploy of the unchanged file; destroy without "
                  "the kernel's cleanup). Peak memory: maximum resident set; open files: the most "
                  "/proc/PID/fd held, sampled every 5 ms.", "",
                  "| N | command | time | peak memory | peak open files |", "|---|---|---|---|---|"]
        for n in sizes:
            for what in ("deploy", "verify", "converge", "destroy"):
                runs = NSLAB_COMMANDS.get((what, n))
                if runs:
                    lines.append(f"| {n} | {what} | {statistics.median(r[0] for r in runs) * 1000:.0f} ms "
                                 f"| {max(r[1] for r in runs):.1f} MiB | {max(r[2] for r in runs)} |")
    for low, high in zip(sizes, sizes[1:]):
        if ("nslab", low) in results and ("nslab", high) in results:
            lines += ["", f"Growth: nslab's deploy at N={high} takes {results[('nslab', high)][0] / results[('nslab', low)][0]:.1f}× "
                      f"its time at N={low} ({high / low:.0f}× the nodes)"
                      + (f"; the C floor's {results[('c', high)][0] / results[('c', low)][0]:.1f}×" if ('c', low) in results
                         and ('c', high) in results else "") + "."]
    for failure in FAILURES:
        lines += ["", failure]
    if CLEANUP_TIMEOUTS:
        lines += ["", f"Warning: the kernel's netns worker did not go idle within 30 s in {len(CLEANUP_TIMEOUTS)} runs "
                  "(another program creating namespaces?); those destroy times are not meaningful."]
    text = "\n".join(lines)
    print(text)
    if args.out:
        # Sections under their own "## " heading (verify's, from scripts/bench-verify-star.sh)
        # are other benchmarks' figures: kept below the deploy tables, not overwritten.
        kept = ""
        try:
            with open(args.out) as f:
                previous = f.read()
            at = previous.find("\n## ")
            kept = previous[at:] if at >= 0 else ""
        except FileNotFoundError:
            pass
        with open(args.out, "w") as f:
            f.write(text + "\n" + kept)


if __name__ == "__main__":
    main()
