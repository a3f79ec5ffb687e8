import Foundation
import Testing
import Namespaces
#if canImport(Glibc)
import Glibc
#endif

/// The files namespaces are mounted on, made as hard links of one (MountPointFiles): each must
/// behave like a file `ip netns add` made, and a failure must leave nothing of ours and take
/// nothing of anyone else's.
@Suite("Kernel: namespaces mounted on hard-linked files", .enabled(if: isRoot, needsRoot))
struct MountPointFilesTests {
    private func inode(_ path: String) -> (inode: UInt64, links: UInt64)? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return (UInt64(info.st_ino), UInt64(info.st_nlink))
    }

    @Test func namespacesOnLinksOfOneFileAreSeparateAndIpDeletesThem() throws {
        let lab = TestLab("links")
        defer { lab.cleanUp() }
        let names = ["a", "b", "c"].map(lab.namespace)
        let files = try NamedNamespaces.reserve(names)
        // One inode, three names, before anything is mounted.
        let placeholders = names.compactMap { inode(NamedNamespaces.path(of: $0)) }
        #expect(placeholders.count == 3 && Set(placeholders.map(\.inode)).count == 1 && placeholders[0].links == 3,
                "\(placeholders)")
        var made: [NetworkNamespace] = []
        for name in names {
            made.append(try NetworkNamespace.create(name, reserved: true) { () }.0)
            #expect(!files.isUnmounted(NamedNamespaces.path(of: name)))
        }
        #expect(Set(made.map(\.inode)).count == 3, "three namespaces, not one")
        #expect(!made.map(\.inode).contains(placeholders[0].inode))
        #expect(lab.namespaces() == names.sorted())
        // Each works as a namespace of its own, and iproute2 removes one without the others.
        #expect(sh("ip -n \(names[0]) link add dummy0 type veth peer name dummy1").status == 0)
        #expect(sh("ip -n \(names[1]) link show dummy0").status != 0)
        #expect(sh("ip netns delete \(names[0])").status == 0)
        #expect(lab.namespaces() == Array(names.dropFirst()).sorted())
        files.removeUnmounted()  // nothing left unmounted: nothing removed
        #expect(lab.namespaces() == Array(names.dropFirst()).sorted())
    }

    @Test func aNameAlreadyTakenLeavesNothingOfOursAndKeepsTheirs() throws {
        let lab = TestLab("taken")
        defer { lab.cleanUp() }
        let names = ["a", "b", "c", "d"].map(lab.namespace)
        #expect(sh("ip netns add \(names[2])").status == 0)
        let theirs = NamedNamespaces.inode(of: names[2])
        #expect(theirs != nil)
        #expect {
            _ = try NamedNamespaces.reserve(names)
        } throws: { error in
            guard case NamespaceError.alreadyExists(let name) = error else { return false }
            return name == names[2]
        }
        #expect(lab.namespaces() == [names[2]], "the files made before the taken name must be gone")
        #expect(NamedNamespaces.inode(of: names[2]) == theirs)
        #expect(!FileManager.default.fileExists(atPath: NamedNamespaces.path(of: names[3])))
    }

    @Test func removingTheUnmountedOnesSparesMountsAndOthersFiles() throws {
        let directory = "/run/nslab-test-\(getpid())-mountpoints"
        #expect(mkdir(directory, 0o755) == 0)
        defer {
            for name in ["p0", "p1", "p2"] { umount2("\(directory)/\(name)", Int32(MNT_DETACH)); unlink("\(directory)/\(name)") }
            rmdir(directory)
        }
        let paths = ["p0", "p1", "p2"].map { "\(directory)/\($0)" }
        let files = try MountPointFiles.create(paths)
        #expect(paths.allSatisfy(files.isUnmounted))
        // p0 gets a namespace mounted on it; p1 is replaced by someone else's file.
        #expect(mount("/proc/self/ns/uts", paths[0], "none", UInt(MS_BIND), nil) == 0)
        #expect(unlink(paths[1]) == 0)
        #expect(sh("echo theirs > \(paths[1])").status == 0)
        files.removeUnmounted()
        #expect(UTSNamespace.inode(at: paths[0]) != nil, "the mounted one stays")
        #expect((try? String(contentsOfFile: paths[1], encoding: .utf8)) == "theirs\n", "someone else's file stays")
        #expect(!FileManager.default.fileExists(atPath: paths[2]), "the unused one goes")
        // And exclusivity: creating over an existing path is refused, leaving the earlier ones.
        #expect(throws: MountPointFiles.Failure.self) { try MountPointFiles.create(["\(directory)/p3", paths[1]]) }
        #expect(!FileManager.default.fileExists(atPath: "\(directory)/p3"))
    }

    @Test func whereALinkIsRefusedTheFileIsMadeOnItsOwn() throws {
        // /dev/shm is another mount: link() there answers EXDEV.
        let here = "/run/nslab-test-\(getpid())-link-a", there = "/dev/shm/nslab-test-\(getpid())-link-b"
        defer { unlink(here); unlink(there) }
        let files = try MountPointFiles.create([here, there])
        var a = stat(), b = stat()
        #expect(stat(here, &a) == 0 && stat(there, &b) == 0)
        #expect(a.st_dev != b.st_dev)
        #expect(files.isUnmounted(here) && files.isUnmounted(there))
        files.removeUnmounted()
        #expect(!FileManager.default.fileExists(atPath: here) && !FileManager.default.fileExists(atPath: there))
    }
}
