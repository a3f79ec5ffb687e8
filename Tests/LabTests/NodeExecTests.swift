import CShims
import Foundation
import Testing
@testable import Lab
import Topology

/// The CLI binary `swift test` builds beside the tests, for what only a separate process can
/// show: inherited stdio, a terminal, exit statuses.

extension TestLab {
    /// `nslab exec --lab THIS NODE -- COMMAND` through the CLI (the node names repeat across
    /// test labs running in parallel: --lab picks this one).
    func nslabExec(_ node: String, _ command: String) -> (status: Int32, output: String) {
        sh("\(nslabBinary) exec --lab \(name) \(node) -- \(command)")
    }

    /// cleanUp(), plus what a failed node-environment test may leave: UTS mounts under the lab's
    /// record, /etc/netns directories of its namespaces.
    func cleanUpEverything() {
        _ = try? LabDestroyer.destroy(lab: name)
        sh("grep -o ' \(LabRecord.root)/\(name)/[^ ]*' /proc/mounts | xargs -r -n1 umount -l")
        cleanUp()
        sh("rm -rf /etc/netns/\(prefix)*")
    }

    func hostsPath(_ node: String) -> String { "/etc/netns/\(namespace(node))/hosts" }
}

func waitUntil(seconds: Double = 5, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(50_000)
    }
    return condition()
}

func isAlive(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return false }
    return stat[stat.index(after: close)...].dropFirst().first != "Z"
}

func trimmed(_ text: String) -> String { text.trimmingCharacters(in: .whitespacesAndNewlines) }

@Suite(.enabled(if: isRoot, "needs root: creates namespaces, veth pairs and mounts"), .serialized)
struct NodeExecTests {
    @Test func execReturnsTheCommandsOutputAndStatus() throws {
        let lab = TestLab("exec")
        defer { lab.cleanUpEverything() }
        _ = try lab.deploy(routersBody)
        #expect(FileManager.default.fileExists(atPath: nslabBinary), "build nslab first: \(nslabBinary)")

        let echo = lab.nslabExec("ns01", "sh -c 'echo out; echo err >&2; exit 7'")
        #expect(echo.status == 7)
        #expect(echo.output == "out\nerr\n")
        #expect(lab.nslabExec("ns01", "sh -c 'kill -TERM $$'").status == 128 + 15)
        let missing = lab.nslabExec("ns01", "no-such-command-here")
        #expect(missing.status == 127 && missing.output.contains("command not found"), "\(missing.output)")

        // The library call returns the same statuses.
        let location = try NodeExec.locate(node: "ns01", lab: lab.name)
        #expect(location.namespace == lab.namespace("ns01"))
        #expect(try NodeExec.run(["sh", "-c", "exit 5"], at: location) == 5)
        // The namespace's own name finds the node too.
        #expect(try NodeExec.locate(node: lab.namespace("ns01"), lab: lab.name).node == "ns01")

        // Inside: the node's network, its own /sys, its host name.
        #expect(lab.nslabExec("ns01", "ls /sys/class/net").output == "lo\nns01-veth0\n")
        #expect(lab.nslabExec("router01", "ls /sys/class/net").output == "gw01-veth0\ngw01-veth1\nlo\n")
        #expect(lab.nslabExec("ns01", "ip netns identify").output == lab.namespace("ns01") + "\n")
        #expect(lab.nslabExec("ns01", "hostname").output == "ns01\n")
        #expect(lab.nslabExec("router02", "cat /proc/sys/kernel/hostname").output == "router02\n")
        // `ip netns exec` joins no UTS namespace: there the host's name shows (documented).
        #expect(lab.exec("ns01", "hostname").output == sh("hostname").output)
        // The mounts made for the command stay in its own mount namespace.
        #expect(sh("grep -c ' /sys sysfs' /proc/self/mounts").output == "1\n")
    }

    @Test func nodesFindEachOtherByNameThroughNslabAndIpNetnsExec() throws {
        let lab = TestLab("names")
        defer { lab.cleanUpEverything() }
        _ = try lab.deploy(routersBody)
        let hosts = try String(contentsOfFile: lab.hostsPath("ns01"), encoding: .utf8)
        #expect(hosts.contains("10.0.0.1\tns02 ns02-ns02-veth0\n"), "\(hosts)")

        #expect(trimmed(lab.nslabExec("ns01", "getent hosts ns02").output) == "10.0.0.1        ns02 ns02-ns02-veth0")
        #expect(trimmed(lab.exec("ns01", "getent hosts router01-gw01-veth1").output)
                == "172.16.0.1      router01 router01-gw01-veth1")
        let viaNslab = lab.nslabExec("ns01", "ping -c 1 -W 2 ns02")
        #expect(viaNslab.status == 0 && viaNslab.output.contains("ttl=62"), "\(viaNslab.output)")
        let viaIp = lab.exec("ns02", "ping -c 1 -W 2 router01-gw01-veth1")
        #expect(viaIp.status == 0 && viaIp.output.contains("(172.16.0.1)"), "\(viaIp.output)")
        // Names /etc/hosts cannot answer fail at once: no name server is reachable from a lab,
        // and the generated resolv.conf names none (getent asks for IPv6 first: it used to wait 5 s).
        let start = Date()
        #expect(lab.exec("ns01", "getent hosts no-such-node").status == 2)
        #expect(trimmed(lab.exec("ns02", "getent hosts ns01").output) == "192.168.0.1     ns01 ns01-ns01-veth0")
        #expect(Date().timeIntervalSince(start) < 2)
        // The host's own /etc/hosts is untouched and still what the host sees.
        #expect(!((try? String(contentsOfFile: "/etc/hosts", encoding: .utf8)) ?? "").contains("ns02-ns02-veth0"))
    }

    /// Seed 004, from examples/hosts.yaml: alpha knows only alpha, beta only beta.
    @Test func seed004EachNodeReadsItsOwnHostsFile() throws {
        let lab = TestLab("seed4")
        defer { lab.cleanUpEverything() }
        let example = URL(fileURLWithPath: nslabBinary).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("examples/hosts.yaml").path
        let text = try String(contentsOfFile: example, encoding: .utf8)
        #expect(try Topology.parse(yaml: text, file: example).name == "hosts")
        _ = try lab.deploy(text.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.hasPrefix("name:") }.joined(separator: "\n"))
        #expect(try String(contentsOfFile: lab.hostsPath("alpha"), encoding: .utf8)
                == "127.0.0.1       localhost\n127.0.1.1       alpha\n")
        for (me, other) in [("alpha", "beta"), ("beta", "alpha")] {
            for run in [lab.nslabExec, lab.exec] {
                #expect(trimmed(run(me, "getent hosts \(me)").output) == "127.0.1.1       \(me)")
                #expect(run(me, "getent hosts \(other)").status == 2, "\(other) must not resolve in \(me)")
            }
            let ping = lab.exec(me, "ping -c 1 -W 1 \(me)")
            #expect(ping.status == 0 && ping.output.contains("PING \(me) (127.0.1.1)"), "\(ping.output)")
        }
    }

    @Test func anEtcNetnsDirectoryNslabDidNotCreateIsRefusedBeforeAnythingChanges() throws {
        let lab = TestLab("etcown")
        let giveBackEtcNetns = borrowEtcNetns()
        defer {
            lab.cleanUpEverything()
            giveBackEtcNetns()
        }
        let theirs = "/etc/netns/\(lab.namespace("b"))"
        sh("mkdir -p \(theirs) && echo 'theirs' > \(theirs)/hosts")
        #expect(throws: LabError.self) { _ = try lab.deploy("nodes: { a: , b: }\nlinks:\n  - endpoints: [a, b]\n") }
        do {
            _ = try lab.deploy("nodes: { a: , b: }\n")
        } catch let error as LabError {
            #expect(error.exitCode == 2)
            #expect(error.description.contains("\(theirs) (the /etc files of node b) already exists and nslab did not create it"),
                    "\(error)")
        }
        #expect(lab.namespaces().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: "\(LabRecord.root)/\(lab.name)"))
        #expect(!FileManager.default.fileExists(atPath: "/etc/netns/\(lab.namespace("a"))"))
        #expect(try String(contentsOfFile: "\(theirs)/hosts", encoding: .utf8) == "theirs\n")
        sh("rm -rf \(theirs)")

        // A declared file with nothing in /etc to cover is refused the same way.
        do {
            _ = try lab.deploy("nodes:\n  a: { files: { nslab-test-no-such.conf: x } }\n")
            Issue.record("deploy should have been refused")
        } catch let error as LabError {
            #expect(error.exitCode == 2 && error.description.contains("/etc/nslab-test-no-such.conf does not exist"), "\(error)")
        }
        // So is a command whose program is not installed.
        do {
            _ = try lab.deploy("nodes:\n  a: { commands: [[nslab-test-no-such-program, -x]] }\n")
            Issue.record("deploy should have been refused")
        } catch let error as LabError {
            #expect(error.exitCode == 2 && error.description.contains("nslab-test-no-such-program not found"), "\(error)")
        }
        #expect(lab.namespaces().isEmpty)
    }

    @Test func backgroundProcessLogsRunsAndIsEndedByDestroy() throws {
        let lab = TestLab("bg")
        defer { lab.cleanUpEverything() }
        _ = try lab.deploy(routersBody)
        let location = try NodeExec.locate(node: "ns02", lab: lab.name)
        let started = try NodeExec.start(["sh", "-c", "echo out; echo err >&2; hostname; ls /sys/class/net; exec sleep 300"],
                                         at: location)
        #expect(started.log == "\(LabRecord.root)/\(lab.name)/logs/ns02-1-sh.log")
        #expect(waitUntil { ((try? String(contentsOfFile: started.log, encoding: .utf8)) ?? "").contains("ns02-veth0") })
        #expect(try String(contentsOfFile: started.log, encoding: .utf8) == "out\nerr\nns02\nlo\nns02-veth0\n")
        // Its own session, stdin from /dev/null.
        #expect(trimmed(sh("ps -o sid= -p \(started.pid)").output) == String(started.pid))
        #expect(sh("readlink /proc/\(started.pid)/fd/0").output == "/dev/null\n")

        // The CLI form prints the pid.
        let cli = sh("\(nslabBinary) exec -d --lab \(lab.name) ns01 -- sleep 300 2>/dev/null")
        let cliPid = try #require(Int32(trimmed(cli.output)), "\(cli.output)")
        #expect(isAlive(cliPid))

        // With nslab's own stdin, stdout and stderr closed, the fds it opens land on 0-2: the
        // helper must still find its namespace and error pipe.
        sh("\(nslabBinary) exec -d --lab \(lab.name) router01 -- sh -c 'echo closed-stdio' <&- >&- 2>&-")
        let closedLog = "\(LabRecord.root)/\(lab.name)/logs/router01-1-sh.log"
        #expect(waitUntil { ((try? String(contentsOfFile: closedLog, encoding: .utf8)) ?? "") == "closed-stdio\n" })

        var state = try LabInspector.inspect(lab: lab.name)
        let ns02 = try #require(state.nodes.first { $0.name == "ns02" })
        #expect(ns02.hostname == "ns02")
        #expect(ns02.files == ["hosts", "resolv.conf"].map { "/etc/netns/\(lab.namespace("ns02"))/\($0)" })
        let process = try #require(ns02.processes?.first)
        #expect(process.pid == started.pid && process.state == "running" && process.running && process.origin == "exec")
        #expect(state.nodes.first { $0.name == "ns01" }?.processes?.first?.pid == cliPid)

        kill(cliPid, SIGKILL)
        #expect(waitUntil { !isAlive(cliPid) })
        state = try LabInspector.inspect(lab: lab.name)
        #expect(state.nodes.first { $0.name == "ns01" }?.processes?.first?.state == "exited")

        let result = try LabDestroyer.destroy(lab: lab.name)
        #expect(result.processesEnded >= 1)
        #expect(!isAlive(started.pid))
        #expect(lab.namespaces().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: "/etc/netns/\(lab.namespace("ns02"))"))
        #expect(sh("grep -c ' \(LabRecord.root)/\(lab.name)/' /proc/mounts").output == "0\n")
        #expect(!FileManager.default.fileExists(atPath: "\(LabRecord.root)/\(lab.name)"))
    }

    /// A process whose namespace was deleted by hand keeps that namespace (and its veths) alive;
    /// destroy finds it by its record.
    @Test func destroyEndsRecordedProcessesEvenWhenTheirNamespaceWasRemovedByHand() throws {
        let lab = TestLab("orphan")
        defer { lab.cleanUpEverything() }
        _ = try lab.deploy("nodes: { a: , b: }\nlinks:\n  - endpoints: [a, b]\n    addresses: [10.9.0.1/24, 10.9.0.2/24]\n")
        let started = try NodeExec.start(["sleep", "300"], at: try NodeExec.locate(node: "a", lab: lab.name))
        sh("ip netns delete \(lab.namespace("a"))")
        #expect(isAlive(started.pid))
        let result = try LabDestroyer.destroy(lab: lab.name)
        #expect(result.processesEnded >= 1)
        #expect(!isAlive(started.pid))
    }

    @Test func declaredCommandsStartOnceRoutesAreInPlace() throws {
        let lab = TestLab("cmds")
        defer { lab.cleanUpEverything() }
        // ns01 reaches ns02 only across both routers and with every route in place.
        let body = routersBody.replacingOccurrences(
            of: "  ns01:     { routes: [default via 192.168.0.254] }",
            with: """
              ns01:
                routes: [default via 192.168.0.254]
                commands:
                  - ping -c 1 -W 2 ns02 && echo REACHED
                  - [sh, -c, "echo argv form in $(hostname)", ignored-arg0]
            """)
        _ = try lab.deploy(body)
        let logs = "\(LabRecord.root)/\(lab.name)/logs"
        let first = "\(logs)/ns01-1-ping.log", second = "\(logs)/ns01-2-sh.log"
        #expect(waitUntil { ((try? String(contentsOfFile: first, encoding: .utf8)) ?? "").contains("REACHED") },
                "\((try? String(contentsOfFile: first, encoding: .utf8)) ?? "no log")")
        #expect(waitUntil { ((try? String(contentsOfFile: second, encoding: .utf8)) ?? "") == "argv form in ns01\n" })
        let processes = try #require(try LabInspector.inspect(lab: lab.name).nodes.first { $0.name == "ns01" }?.processes)
        #expect(processes.map(\.origin) == ["topology", "topology"])
        #expect(processes.map(\.log) == [first, second])
        #expect(processes[0].command == ["/bin/sh", "-c", "ping -c 1 -W 2 ns02 && echo REACHED"])
        // Both end quickly; nobody reaps them in this test process but the kernel marks them zombies.
        #expect(waitUntil { (try? LabInspector.inspect(lab: lab.name).nodes.first { $0.name == "ns01" }?.processes?
            .allSatisfy { $0.state == "exited" }) == true })
        for process in processes { var status: Int32 = 0; waitpid(process.pid, &status, 0) }
    }

    @Test func ambiguousAndUnknownNodesAreRefusedWithTheWayOut() throws {
        let first = TestLab("amb1"), second = TestLab("amb2")
        defer { first.cleanUpEverything(); second.cleanUpEverything() }
        let body = "nodes: { zq7host: }\n"
        _ = try first.deploy(body)
        _ = try second.deploy(body)
        let ambiguous = sh("\(nslabBinary) exec zq7host -- true")
        #expect(ambiguous.status == 2)
        #expect(ambiguous.output.contains("node \"zq7host\" is in several labs") && ambiguous.output.contains(first.name)
                && ambiguous.output.contains(second.name) && ambiguous.output.contains("--lab"), "\(ambiguous.output)")
        #expect(sh("\(nslabBinary) exec --lab \(second.name) zq7host -- hostname").output == "zq7host\n")

        let unknown = sh("\(nslabBinary) exec zq7hots -- true")
        #expect(unknown.status == 2)
        #expect(unknown.output.contains("did you mean \"zq7host\""), "\(unknown.output)")
        let wrongLab = sh("\(nslabBinary) exec --lab \(first.name) nope -- true")
        #expect(wrongLab.status == 2 && wrongLab.output.contains("its nodes: zq7host"), "\(wrongLab.output)")
        #expect(sh("\(nslabBinary) exec --lab \(first.name) zq7host").status == 2)  // no command: bad input
    }

    /// `script` gives nslab a terminal: the command must see it, in the foreground.
    @Test func aTerminalIsPassedThrough() throws {
        let lab = TestLab("tty")
        defer { lab.cleanUpEverything() }
        _ = try lab.deploy("nodes: { a: }\n")
        let exec = "\(nslabBinary) exec --lab \(lab.name) a --"
        let tty = sh("script -qec \"\(exec) bash -c 'tty; exit 3'\" /dev/null")
        #expect(tty.status == 3)
        #expect(tty.output.contains("/dev/pts/"), "\(tty.output)")
        // An interactive shell, driven through the terminal: prompt, host name, exit status.
        let shell = sh("printf 'hostname\\nexit 4\\n' | script -qec \"\(exec) bash --norc -i\" /dev/null")
        #expect(shell.status == 4, "\(shell.output)")
        // The host name on a line of its own; readline ends lines as TERM says ("\r\na\r\n" with
        // TERM=dumb or none, "\ra\r\n" with xterm), and "\r\n" is one Character to Swift.
        #expect(shell.output.split(whereSeparator: \.isNewline).contains("a"), "\(shell.output.debugDescription)")
        // Ctrl-C on the terminal ends the command (not nslab first): 128 + SIGINT, at once.
        let start = Date()
        let interrupted = sh("(sleep 0.5; printf '\\003') | script -qec \"\(exec) sleep 30\" /dev/null")
        #expect(interrupted.status == 130, "\(interrupted.output)")
        #expect(Date().timeIntervalSince(start) < 10)
    }
}
