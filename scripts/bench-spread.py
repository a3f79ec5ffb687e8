"""Deploy and destroy of a ring of routers spread over three simulated hosts, against the same
ring on one host; prints a table with the ratios. Called by bench-spread.sh."""
import argparse, os, re, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIM = os.path.join(ROOT, "scripts/sim-hosts.sh")
NSLAB = os.path.join(ROOT, ".build/release/nslab")


def run(args, **kw):
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw)


def on_host(sim, line, cwd):
    started = time.monotonic()
    result = subprocess.run([SIM, "run", f"{sim}-h1", "sh", "-c", line], cwd=cwd, capture_output=True, text=True)
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        sys.exit(f"bench-spread: `{line}` failed:\n{result.stdout}{result.stderr}")
    return elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    sim = f"bsp{os.getpid() % 100000}"
    work = tempfile.mkdtemp(prefix="nslab-bench-spread-")
    ring = run([NSLAB, "generate", "ring", "--nodes", str(options.nodes), "--name", f"{sim}-lab"]).stdout
    # Blocks of three routers per host in turn: every third link joins two hosts.
    hosts = [None, "h2", "h3"]
    def place(match):
        index = int(match.group(1)) - 1
        host = hosts[(index // 3) % 3]
        return match.group(0) if host is None else f"{match.group(0)} host: {host},"
    spread = re.sub(r"^  r(\d+): \{", place, ring, flags=re.M)
    spread = spread.replace("nodes:\n", "hosts:\n  h2: root@192.0.2.2\n  h3: root@192.0.2.3\nnodes:\n", 1)
    crossing = sum(1 for i in range(options.nodes) if (i // 3) % 3 != (((i + 1) % options.nodes) // 3) % 3)
    with open(os.path.join(work, "one.yaml"), "w") as f:
        f.write(ring)
    with open(os.path.join(work, "spread.yaml"), "w") as f:
        f.write(spread)
    env = dict(os.environ, NSLAB_DIR=os.path.dirname(NSLAB))
    subprocess.run([SIM, "up", sim, "3"], check=True, env=env, capture_output=True)
    try:
        lab = f"{sim}-lab"
        figures = {}
        for name in ["one", "spread"]:
            deploys, destroys = [], []
            for _ in range(options.runs):
                deploys.append(on_host(sim, f"nslab deploy --quiet {name}.yaml", work))
                destroys.append(on_host(sim, f"nslab destroy --quiet {lab}", work))
            figures[name] = (statistics.median(deploys), statistics.median(destroys))
        one, spread_ = figures["one"], figures["spread"]
        print(f"ring of {options.nodes} routers, {crossing} of {options.nodes} links between hosts; median of {options.runs} runs")
        print("| lab | deploy | destroy |")
        print("|---|---|---|")
        print(f"| one host | {one[0]:.2f} s | {one[1]:.2f} s |")
        print(f"| three hosts | {spread_[0]:.2f} s ({spread_[0] / one[0]:.1f}×) | {spread_[1]:.2f} s ({spread_[1] / one[1]:.1f}×) |")
    finally:
        subprocess.run([SIM, "down", sim], capture_output=True)


main()
